"""Everything built in one place at start-up: config → store → catalog → bots."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from bots.bot import Bot, BotDirectory
from bots.commands.builtin import builtin
from bots.commands.router import Command, CommandSet
from bots.config import Config
from bots.i18n import Catalog
from bots.store.database import Database

log = logging.getLogger(__name__)

#: the command sets of the workflow features, by the feature name used in config
FEATURE_COMMANDS: dict[str, CommandSet] = {}


def commands_for(features: Sequence[str]) -> list[Command]:
    commands = list(builtin.commands)
    for feature in features:
        command_set = FEATURE_COMMANDS.get(feature)
        if command_set is not None:
            commands.extend(command_set.commands)
    return commands


class App:
    def __init__(
        self, config: Config, db: Database, catalog: Catalog, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.db = db
        self.catalog = catalog
        self.directory = BotDirectory()
        self.bots = {
            name: Bot(name, config, db, catalog, commands_for(bot.features), self.directory, clock)
            for name, bot in config.bots.items()
        }

    @classmethod
    async def create(cls, config: Config, clock: Callable[[], float] = time.time) -> App:
        db = await Database.open(config.store.path)
        return cls(config, db, Catalog.load(), clock)

    async def run(self) -> None:
        """Run every bot until cancelled; one bot failing to start stops the others."""
        tasks = [
            asyncio.create_task(bot.run(), name=f"bot:{name}") for name, bot in self.bots.items()
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.db.close()

    def stop(self) -> None:
        for bot in self.bots.values():
            bot.stop()
