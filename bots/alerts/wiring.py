"""Building the alert workflow for the alerts bot from config."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bots.alerts.feature import AlertFeature
from bots.alerts.officers import ManualAlerts
from bots.alerts.service import AlertService
from bots.alerts.store import AlertStore
from bots.config import Config
from bots.i18n import Catalog
from bots.store.database import Database

if TYPE_CHECKING:
    from bots.bot import Bot


def make_alert_feature(
    bot: Bot, config: Config, db: Database, catalog: Catalog, clock: Callable[[], float]
) -> AlertFeature:
    cache: dict[str, str] = {}

    async def resolve(ref: str) -> str | None:
        if ref.startswith("!"):
            return ref
        if ref not in cache:
            response = await bot.client.room_resolve_alias(ref)
            room_id = getattr(response, "room_id", None)
            if room_id is None:
                return None  # not cached: the alias may be created later
            cache[ref] = room_id
        return cache[ref]

    service = AlertService(AlertStore(db), bot.messenger, catalog, config, resolve)
    return AlertFeature(service, ManualAlerts(db, service, config), clock)
