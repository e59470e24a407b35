"""Everything built in one place at start-up: config → store → catalog → bots."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bots.alerts.wiring import make_alert_feature
from bots.announcements.wiring import make_announcement_feature
from bots.bot import Bot, BotDirectory, FeatureFactory
from bots.config import Config
from bots.i18n import Catalog
from bots.rollcall.wiring import connect, make_rollcall_feature
from bots.store import open_database
from bots.store.database import Database
from bots.tasks.wiring import make_task_feature

log = logging.getLogger(__name__)

#: how often the scheduler wakes the workflows; what is due is decided by the store
WAKE_INTERVAL_S = 15


def feature_factories(
    names: Sequence[str],
    config: Config,
    db: Database,
    catalog: Catalog,
    clock: Callable[[], float],
) -> list[FeatureFactory]:
    factories: list[FeatureFactory] = []
    for name in names:
        if name == "tasks":
            factories.append(lambda bot: make_task_feature(bot, config, db, catalog, clock))
        elif name == "alerts":
            factories.append(lambda bot: make_alert_feature(bot, config, db, catalog, clock))
        elif name == "rollcall":
            factories.append(lambda bot: make_rollcall_feature(bot, config, db, catalog, clock))
        elif name == "announcements":
            factories.append(lambda bot: make_announcement_feature(bot, config, db, catalog, clock))
    return factories


class Service(Protocol):
    """Something that runs beside the bots on the same loop (the appservice)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class App:
    def __init__(
        self, config: Config, db: Database, catalog: Catalog, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.db = db
        self.catalog = catalog
        self.directory = BotDirectory()
        self.bots = {
            name: Bot(
                name,
                config,
                db,
                catalog,
                feature_factories(bot.features, config, db, catalog, clock),
                self.directory,
                clock,
            )
            for name, bot in config.bots.items()
        }
        for bot in self.bots.values():
            connect(bot)
        self.scheduler = AsyncIOScheduler(timezone=config.zone)

    @classmethod
    async def create(cls, config: Config, clock: Callable[[], float] = time.time) -> App:
        db = await open_database(config.store)
        return cls(config, db, Catalog.load(), clock)

    async def run(self, services: Sequence[Service] = ()) -> None:
        """Run every bot until stopped; one bot failing to start stops the others.

        `services` (the appservice) start before the bots and stop before the store closes.
        """
        started: list[Service] = []
        try:
            for service in services:
                await service.start()
                started.append(service)
            await self._run_bots()
        finally:
            for service in reversed(started):
                await service.stop()
            await self.db.close()

    async def _run_bots(self) -> None:
        tasks = [
            asyncio.create_task(bot.run(), name=f"bot:{name}") for name, bot in self.bots.items()
        ]
        for name, bot in self.bots.items():
            if bot.features:
                # APScheduler only wakes the bot; a missed wake-up is harmless (coalesced)
                self.scheduler.add_job(
                    bot.run_due,
                    "interval",
                    seconds=WAKE_INTERVAL_S,
                    id=f"due:{name}",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=None,
                )
        self.scheduler.start()
        try:
            await asyncio.gather(*tasks)
        finally:
            self.scheduler.shutdown(wait=False)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        for bot in self.bots.values():
            bot.stop()
