"""The store: yakuba's single source of truth (SQLite by default, or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bots.store.database import (
    Database,
    DatabaseTooNew,
    DatabaseUnavailable,
    IntegrityError,
    Transaction,
)
from bots.store.migrations import MIGRATIONS, Migration

if TYPE_CHECKING:
    from bots.config import Store

__all__ = [
    "Database",
    "DatabaseTooNew",
    "DatabaseUnavailable",
    "IntegrityError",
    "Transaction",
    "open_database",
]


async def open_database(store: Store, migrations: Sequence[Migration] = MIGRATIONS) -> Database:
    """The configured store (`store:` in the configuration), opened and migrated."""
    if store.type == "postgresql":
        from bots.store.postgres import open_postgres  # psycopg only when it is used

        if store.dsn is None:  # the configuration refuses this; keep mypy and callers sure
            raise ValueError("store.dsn is required for a PostgreSQL store")
        return await open_postgres(store.dsn.get(), migrations)
    return await Database.open(store.path, migrations)
