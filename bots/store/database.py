"""An async database with numbered migrations, on SQLite (default) or PostgreSQL.

`Database` is what the stores use; underneath, a `Connection` speaks one backend's
dialect (`SQLiteConnection` here, `PostgresConnection` in `bots.store.postgres`). The SQL
in the stores is written once, for both:

- `?` placeholders; integers for numbers, times (ms) and booleans (`INTEGER` is 64-bit on
  both); `BLOB` for bytes. Pass Python `int` for integer columns and `str` for text ones:
  SQLite converts by column affinity, PostgreSQL refuses `text = bigint`. No `? IS NULL`
  (PostgreSQL cannot tell the parameter's type).
- `INSERT ... ON CONFLICT (...) DO NOTHING / DO UPDATE SET x = excluded.x`; no
  `INSERT OR ...`, `RETURNING`, `lastrowid`: read a new row back by a unique key (an
  `INTEGER PRIMARY KEY` numbers new rows on both).
- Order by something unique when order matters (PostgreSQL returns ties in any order);
  text compares and sorts by code point on both.
- `SUM`/`AVG` give `Decimal` on PostgreSQL: prefer `COUNT`, `MIN`, `MAX`.
- A failed statement ends its transaction on PostgreSQL: let the error propagate.
  Unique and foreign-key violations raise `IntegrityError` on both backends.

Migrations are written in SQLite's words; `Connection.ddl` gives them the backend's
column types (`bots.store.dialect` for PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from bots.store.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)

Row = tuple[Any, ...]


class DatabaseTooNew(RuntimeError):
    """The database was written by a newer yakuba than this one."""


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached at start-up (a PostgreSQL server down, refusing)."""


class IntegrityError(Exception):
    """A statement broke a constraint (unique key, foreign key, not null), on any backend."""


class Connection(Protocol):
    """One backend connection; `Database` serialises every use of it."""

    #: how the database is named in messages (a file path; never a password)
    name: str

    def ddl(self, statement: str) -> str:
        """A migration statement (SQLite's words) in this backend's dialect."""
        ...

    async def begin(self) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def close(self) -> None: ...
    async def execute(self, sql: str, params: Sequence[Any]) -> int: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int: ...
    async def fetchone(self, sql: str, params: Sequence[Any]) -> Row | None: ...
    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]: ...


class Database:
    """One connection, serialised; each `transaction()` commits or rolls back as a whole.

    Transactions also exclude other processes' transactions (SQLite's `BEGIN IMMEDIATE`,
    an advisory lock on PostgreSQL), so a read-then-write inside one is never raced.
    """

    def __init__(self, conn: Connection, path: Path | None) -> None:
        self._conn = conn
        self.path = path  # the SQLite file (None in memory and on PostgreSQL)
        self._lock = asyncio.Lock()  # one connection: one statement sequence at a time

    @property
    def name(self) -> str:
        return self._conn.name

    @classmethod
    async def open(cls, path: Path | str, migrations: Sequence[Migration] = MIGRATIONS) -> Database:
        """Open (creating it if needed) the SQLite database at `path` and migrate it.

        For PostgreSQL see `bots.store.postgres.open_postgres`; from the configuration,
        `bots.store.open_database`."""
        memory = str(path) == ":memory:"
        conn = await SQLiteConnection.connect(path)
        return await cls.start(conn, None if memory else Path(path), migrations)

    @classmethod
    async def start(
        cls, conn: Connection, path: Path | None, migrations: Sequence[Migration]
    ) -> Database:
        """Migrate a freshly opened connection; it is closed if that fails."""
        db = cls(conn, path)
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
        # in a transaction: two processes starting together create the table once
        async with self.transaction() as tx:
            await tx.execute(
                self._conn.ddl(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                )
            )
            row = await tx.fetchone("SELECT MAX(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    async def migrate(self, migrations: Sequence[Migration]) -> None:
        current = await self.schema_version()
        latest = max((m.version for m in migrations), default=0)
        if current > latest:
            raise DatabaseTooNew(
                f"the database {self.name} is at schema version {current}, but this yakuba "
                f"knows only up to {latest}: upgrade yakuba or restore a matching backup"
            )
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version <= current:
                continue
            async with self.transaction() as tx:
                # another process sharing the database may have applied it meanwhile
                row = await tx.fetchone("SELECT MAX(version) FROM schema_version")
                if row and row[0] is not None and int(row[0]) >= migration.version:
                    continue
                log.info(
                    "Applying database migration %d: %s", migration.version, migration.description
                )
                for statement in migration.statements:
                    await tx.execute(self._conn.ddl(statement))
                await tx.execute(
                    "INSERT INTO schema_version (version) VALUES (?)", (migration.version,)
                )

    # --- queries ---------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._lock:
            await self._conn.begin()
            try:
                yield Transaction(self._conn)
            except BaseException:
                await self._conn.rollback()
                raise
            else:
                await self._conn.commit()

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the number of rows changed."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        """A read outside any transaction: waits for an open one, never sees it half done."""
        async with self._lock:
            return await self._conn.fetchone(sql, tuple(params))

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._lock:
            return await self._conn.fetchall(sql, tuple(params))


class Transaction:
    """The statements of one `Database.transaction()`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        return await self._conn.execute(sql, tuple(params))

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> int:
        """One statement for many rows (one round trip); returns the rows changed."""
        return await self._conn.executemany(sql, [tuple(r) for r in rows])

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        return await self._conn.fetchone(sql, tuple(params))

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await self._conn.fetchall(sql, tuple(params))


class SQLiteConnection:
    """aiosqlite in autocommit mode; transactions are `BEGIN IMMEDIATE` (one writer)."""

    def __init__(self, conn: aiosqlite.Connection, name: str) -> None:
        self._conn = conn
        self.name = name

    @classmethod
    async def connect(cls, path: Path | str) -> SQLiteConnection:
        memory = str(path) == ":memory:"
        if not memory:
            # once at start-up, before any work is taken
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).touch(mode=0o600, exist_ok=True)  # noqa: ASYNC240
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            if not memory:
                await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            await conn.close()
            raise
        return cls(conn, str(path))

    def ddl(self, statement: str) -> str:
        return statement

    async def begin(self) -> None:
        await self._conn.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        await self._conn.execute("COMMIT")

    async def rollback(self) -> None:
        await self._conn.execute("ROLLBACK")

    async def close(self) -> None:
        await self._conn.close()

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        try:
            async with self._conn.execute(sql, params) as cur:
                return int(cur.rowcount)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        try:
            async with self._conn.executemany(sql, rows) as cur:
                return max(int(cur.rowcount), 0)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchone(self, sql: str, params: Sequence[Any]) -> Row | None:
        async with self._conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return tuple(row) if row is not None else None

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
        async with self._conn.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [tuple(r) for r in rows]
