"""Building the announcement workflow for a bot from config."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from nio import RoomGetStateResponse

from bots.announcements.feature import AnnouncementFeature
from bots.announcements.service import AnnouncementService
from bots.announcements.store import AnnouncementStore
from bots.config import Config
from bots.config_announcements import AnnouncementGroup
from bots.i18n import Catalog
from bots.store.database import Database

if TYPE_CHECKING:
    from bots.bot import Bot

log = logging.getLogger(__name__)


def make_announcement_feature(
    bot: Bot, config: Config, db: Database, catalog: Catalog, clock: Callable[[], float]
) -> AnnouncementFeature:
    bot_users = {b.user_id for b in config.bots.values()}
    prefix = f"@{config.appservice.user_prefix}" if config.appservice else None

    def is_own_user(user_id: str) -> bool:
        return user_id in bot_users or bool(prefix and user_id.startswith(prefix))

    async def group_rooms(group: AnnouncementGroup) -> list[str]:
        refs: list[str] = list(group.rooms)
        for department_id in group.departments:
            department = config.department(department_id)
            if department is not None:
                refs.extend(department.rooms)
        rooms: list[str] = []
        for ref in refs:
            room_id = await bot.room_state.resolve(ref)
            if room_id is None:
                log.warning("announcement group %s: room %s not found", group.id, ref)
            elif room_id not in rooms:
                rooms.append(room_id)
        if group.space is not None:
            space_id = await bot.room_state.resolve(group.space)
            state = await bot.client.room_get_state(space_id) if space_id else None
            if isinstance(state, RoomGetStateResponse):
                for event in state.events:
                    if event.get("type") == "m.space.child" and event.get("content"):
                        child = str(event.get("state_key", ""))
                        if child and child not in rooms:
                            rooms.append(child)
        # only rooms the bot is in can receive a copy
        return [r for r in rooms if r in bot.client.rooms]

    service = AnnouncementService(
        AnnouncementStore(db),
        bot.messenger,
        catalog,
        config,
        bot.permissions.has_role,
        group_rooms,
        is_own_user,
        bot.room_state.names,
    )
    return AnnouncementFeature(service, clock)
