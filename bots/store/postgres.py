"""The store on PostgreSQL (psycopg 3): the same `Database`, the same SQL and migrations.

One connection in autocommit mode, serialised by `Database` like the SQLite one; each
transaction is `BEGIN` plus a transaction-level advisory lock, so transactions of other
yakuba processes on the same database wait as they would for SQLite's `BEGIN IMMEDIATE`.
The stores' SQL is translated on the way (`bots.store.dialect`): `?` placeholders become
`$1, $2, ...`, migrations get PostgreSQL's column types; booleans are sent as integers
and NUL characters (which PostgreSQL's text cannot hold) as U+FFFD.

A connection lost between transactions (a server restart) is opened again, and the
statement that found it lost runs again on the new one; a connection lost inside a
transaction fails that transaction. The DSN carries the password: it is never logged,
and `name` leaves it out.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, AsyncRawCursor
from psycopg.pq import TransactionStatus

from bots.store.database import Database, DatabaseUnavailable, IntegrityError, Row
from bots.store.dialect import ddl, placeholders
from bots.store.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)

T = TypeVar("T")

#: pg_advisory_xact_lock key held by every yakuba transaction ("yakuba" in ASCII)
WRITER_LOCK = 0x79616B756261


def _params(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_param(p) for p in params)


def _param(value: Any) -> Any:
    if isinstance(value, bool):  # SQLite stores True as 1, and the columns are integers
        return int(value)
    if isinstance(value, str) and "\x00" in value:
        # PostgreSQL's text cannot hold NUL (SQLite's can): a NUL from outside (a chat
        # message) would fail the whole transaction; keep the rest, mark where it was
        return value.replace("\x00", "\ufffd")
    return value


class PostgresConnection:
    def __init__(self, conn: AsyncConnection[Any], dsn: str) -> None:
        self._conn = conn
        self._dsn = dsn
        self._in_transaction = False
        self._closing = False
        self.name = _describe(conn)

    @classmethod
    async def connect(cls, dsn: str) -> PostgresConnection:
        return cls(await _connect(dsn), dsn)

    def ddl(self, statement: str) -> str:
        return ddl(statement)

    async def _between_transactions(
        self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        """`work` on the connection; if the connection turns out to be lost (a server
        restart), once more on a new one: nothing was done on the lost one."""
        try:
            return await work(self._conn)
        except psycopg.OperationalError:
            if not self._conn.closed or self._closing:
                raise
        log.warning("The connection to %s was lost; connecting again", self.name)
        self._conn = await _connect(self._dsn)
        return await work(self._conn)

    async def begin(self) -> None:
        await self._between_transactions(_begin)
        self._in_transaction = True

    async def commit(self) -> None:
        self._in_transaction = False
        await self._conn.execute("COMMIT")

    async def rollback(self) -> None:
        self._in_transaction = False
        if not self._conn.closed:  # a lost connection took its transaction with it
            await self._conn.execute("ROLLBACK")

    async def close(self) -> None:
        self._closing = True
        await self._conn.close()

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        try:
            async with self._conn.cursor() as cur:
                await cur.execute(placeholders(sql), _params(params))
                return cur.rowcount
        except psycopg.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        try:
            async with self._conn.cursor() as cur:
                # pipelined: one round trip; rowcount is the sum over the rows
                await cur.executemany(placeholders(sql), [_params(r) for r in rows])
                return max(cur.rowcount, 0)
        except psycopg.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchone(self, sql: str, params: Sequence[Any]) -> Row | None:
        rows = await self._read(sql, params, one=True)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
        return await self._read(sql, params, one=False)

    async def _read(self, sql: str, params: Sequence[Any], *, one: bool) -> list[Row]:
        query, values = placeholders(sql), _params(params)

        async def read(conn: AsyncConnection[Any]) -> list[Row]:
            async with conn.cursor() as cur:
                await cur.execute(query, values)
                if cur.description is None:  # not a query that returns rows
                    return []
                if one:
                    row = await cur.fetchone()
                    return [] if row is None else [tuple(row)]
                return [tuple(r) for r in await cur.fetchall()]

        if self._in_transaction:  # a lost connection fails the transaction
            return await read(self._conn)
        return await self._between_transactions(read)


async def _begin(conn: AsyncConnection[Any]) -> None:
    try:
        await conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK})")
    except BaseException:  # e.g. cancelled while waiting for the lock
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            await conn.execute("ROLLBACK")
        raise


async def _connect(dsn: str) -> AsyncConnection[Any]:
    return await AsyncConnection.connect(
        dsn, autocommit=True, cursor_factory=AsyncRawCursor, application_name="yakuba"
    )


def _describe(conn: AsyncConnection[Any]) -> str:
    info = conn.info
    where = info.host if info.host.startswith("/") else f"{info.host}:{info.port}"
    return f"{info.dbname} on {where} (PostgreSQL)"


async def open_postgres(dsn: str, migrations: Sequence[Migration] = MIGRATIONS) -> Database:
    """Connect to the PostgreSQL database `dsn` names and migrate it."""
    try:
        conn = await PostgresConnection.connect(dsn)
    except psycopg.OperationalError as exc:
        # libpq's message names host, port, user and database, never the password
        raise DatabaseUnavailable(f"cannot connect to the PostgreSQL store: {exc}") from exc
    return await Database.start(conn, None, migrations)
