"""Building the task workflow for a bot from config."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bots.config import Config
from bots.i18n import Catalog
from bots.provision.roster import StaffStore
from bots.store.database import Database
from bots.tasks.calendar import BusinessCalendar
from bots.tasks.feature import TaskFeature
from bots.tasks.moves import MoveNotices
from bots.tasks.service import TaskService
from bots.tasks.store import ReminderPlan, TaskStore

if TYPE_CHECKING:
    from bots.bot import Bot


def calendar_from(config: Config) -> BusinessCalendar:
    settings = config.tasks
    return BusinessCalendar(
        skip_holidays=settings.skip_holidays,
        year_end_closure=settings.year_end_closure,
        extra_closed=frozenset(settings.closed_days),
        extra_open=frozenset(settings.open_days),
    )


def make_task_feature(
    bot: Bot, config: Config, db: Database, catalog: Catalog, clock: Callable[[], float]
) -> TaskFeature:
    plan = ReminderPlan(
        before=tuple(config.tasks.reminders_before), overdue_after=config.tasks.overdue_after
    )
    service = TaskService(
        TaskStore(db, plan),
        bot.messenger,
        catalog,
        config,
        calendar_from(config),
        bot.permissions.has_role,
    )
    moves = MoveNotices(StaffStore(db), service.store, bot.messenger, catalog, config)
    return TaskFeature(service, clock, moves)
