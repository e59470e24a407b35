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
    service = AlertService(AlertStore(db), bot.messenger, catalog, config, bot.room_state.resolve)
    return AlertFeature(
        service,
        ManualAlerts(db, service, config),
        clock,
        matrix_sources=config.alerts.matrix_sources,
        resolve_room=bot.room_state.resolve,
    )
