"""Building the roll call for the alerts bot, and connecting it to the alert workflow."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bots.alerts.feature import AlertFeature
from bots.config import Config
from bots.i18n import Catalog
from bots.provision.roster import StaffStore
from bots.rollcall.feature import RollCallFeature
from bots.rollcall.service import RollCallService
from bots.rollcall.store import RollCallStore
from bots.store.database import Database

if TYPE_CHECKING:
    from bots.bot import Bot


#: a question waits this long for its new direct room to show up in sync
READY_WAIT_S = 10.0
#: the tally is edited at most this often (many answers at once: one edit)
STATUS_EVERY_S = 2.0


def make_rollcall_feature(
    bot: Bot, config: Config, db: Database, catalog: Catalog, clock: Callable[[], float]
) -> RollCallFeature:
    service = RollCallService(
        RollCallStore(db),
        bot.messenger,
        catalog,
        config,
        bot.room_state.resolve,
        bot.audit,
        StaffStore(db),
        ready_wait_s=READY_WAIT_S,
        status_every_s=STATUS_EVERY_S,
    )
    return RollCallFeature(service, clock)


def connect(bot: Bot) -> None:
    """Alerts taken in by the bot's alert workflow reach its roll call."""
    alerts = [f for f in bot.features if isinstance(f, AlertFeature)]
    rollcalls = [f for f in bot.features if isinstance(f, RollCallFeature)]
    for alert in alerts:
        for rollcall in rollcalls:
            alert.service.listeners.append(rollcall.on_alert)
