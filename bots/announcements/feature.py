"""The announcement workflow plugged into a bot."""

from __future__ import annotations

from collections.abc import Callable

from bots.announcements.commands import announcement_commands
from bots.announcements.service import AnnouncementService
from bots.features import FeatureBase, Reaction, RelatedMessage


class AnnouncementFeature(FeatureBase):
    name = "announcements"

    def __init__(self, service: AnnouncementService, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self.service = service
        self.commands = announcement_commands(service, self.now)

    async def on_reaction(self, reaction: Reaction) -> None:
        await self.service.on_reaction(
            reaction.room_id, reaction.sender, reaction.target, reaction.key, self.now()
        )

    async def on_related_message(self, message: RelatedMessage) -> None:
        for target in (message.thread_root, message.in_reply_to):
            if target and await self.service.on_reply(
                message.room_id, message.sender, target, message.text, self.now()
            ):
                return

    async def on_timeline(self, room_id: str, event_id: str) -> None:
        await self.service.on_timeline(room_id, event_id)

    async def on_receipt(self, room_id: str, user_id: str, event_id: str) -> None:
        await self.service.on_receipt(room_id, user_id, event_id)

    async def run_due(self) -> int:
        return await self.service.run_due(self.now())
