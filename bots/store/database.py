"""An async database with numbered migrations.

SQL is kept portable (no SQLite-only syntax in the queries the services use) so that a
PostgreSQL driver can be put behind the same small interface later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bots.store.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)

Row = tuple[Any, ...]


class DatabaseTooNew(RuntimeError):
    """The database was written by a newer yakuba than this one."""


class Database:
    """One connection, serialised; each `transaction()` commits or rolls back as a whole."""

    def __init__(self, conn: aiosqlite.Connection, path: Path | None) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()  # one connection: one statement sequence at a time

    @classmethod
    async def open(cls, path: Path | str, migrations: Sequence[Migration] = MIGRATIONS) -> Database:
        memory = str(path) == ":memory:"
        if not memory:
            # once at start-up, before any work is taken
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).touch(mode=0o600, exist_ok=True)  # noqa: ASYNC240
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        db = cls(conn, None if memory else Path(path))
        if not memory:
            await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        try:
            await db.migrate(migrations)
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self._conn.close()

    # --- migrations ------------------------------------------------------------------

    async def schema_version(self) -> int:
        await self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
        )
        async with self._conn.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def migrate(self, migrations: Sequence[Migration]) -> None:
        current = await self.schema_version()
        latest = max((m.version for m in migrations), default=0)
        if current > latest:
            raise DatabaseTooNew(
                f"the database {self.path} is at schema version {current}, but this yakuba "
                f"knows only up to {latest}: upgrade yakuba or restore a matching backup"
            )
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version <= current:
                continue
            log.info("Applying database migration %d: %s", migration.version, migration.description)
            async with self.transaction() as tx:
                for statement in migration.statements:
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_version (version) VALUES (?)", (migration.version,)
                )

    # --- queries ---------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the number of rows changed."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        """A read outside any transaction: waits for an open one, never sees it half done."""
        async with self._lock, self._conn.execute(sql, tuple(params)) as cur:
            row = await cur.fetchone()
        return tuple(row) if row is not None else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._lock, self._conn.execute(sql, tuple(params)) as cur:
            rows = await cur.fetchall()
        return [tuple(r) for r in rows]


class Transaction:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return int(cur.rowcount)

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> int:
        """One statement for many rows (one round trip); returns the rows changed."""
        async with self._conn.executemany(sql, [tuple(r) for r in rows]) as cur:
            return int(cur.rowcount)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._conn.execute(sql, tuple(params)) as cur:
            row = await cur.fetchone()
        return tuple(row) if row is not None else None
