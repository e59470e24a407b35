"""The PostgreSQL store in a backup: a logical dump of yakuba's tables, and its load.

The dump is taken in one REPEATABLE READ, READ ONLY transaction (one snapshot of every
table, while yakuba keeps writing) through psycopg; pg_dump is not needed. yakuba's
tables are the ones its migrations create up to the store's schema version (found by
running them on an in-memory SQLite), listed so that a table comes after the tables it
references. The file is JSON lines::

    {"format": "yakuba-postgresql-dump", "version": 1, "schema_version": 9}
    {"table": "tasks", "columns": ["id", "room_id", ...], "rows": 2}
    [1, "!room:city", ...]                 one line per row; bytes as {"b64": "..."}
    ...

The load runs in one transaction holding yakuba's writer lock: the migrations up to the
dump's schema version create empty tables in the current schema, the rows go in, and
the identity sequences are set past the highest id; yakuba's next start migrates on.
Tables present before are moved, not dropped, into a schema of their own (`--force`).
Nothing is committed until `PostgresLoad.commit()`.
"""

from __future__ import annotations

import asyncio
import base64
import graphlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bots.backup.archive import BotIdentity
from bots.backup.snapshot import BackupError, StoreSnapshot
from bots.store.dialect import ddl
from bots.store.migrations import MIGRATIONS, Migration
from bots.store.postgres import WRITER_LOCK

__all__ = ["DUMP_FORMAT", "PostgresLoad", "dump_postgres", "schema_tables"]

DUMP_FORMAT = "yakuba-postgresql-dump"
_BATCH = 1000
_SCHEMA_VERSION_DDL = "CREATE TABLE schema_version (version INTEGER NOT NULL)"


class LoadError(Exception):
    """The dump cannot be loaded; nothing was committed."""


def schema_tables(version: int, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """yakuba's tables at schema `version`, schema_version first and each table after
    the tables its foreign keys reference."""
    conn = sqlite3.connect(":memory:")
    try:
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version <= version:
                for statement in migration.statements:
                    conn.execute(statement)
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        graph = {
            name: sorted(
                {row[2] for row in conn.execute(f'PRAGMA foreign_key_list("{name}")')} - {name}
            )
            for name in names
        }
    finally:
        conn.close()
    return ["schema_version", *graphlib.TopologicalSorter(graph).static_order()]


def _encode(value: Any, table: str) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return int(value) if isinstance(value, bool) else value
    if isinstance(value, (bytes, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    raise BackupError(f"table {table} holds a {type(value).__name__}, which the dump cannot keep")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    return value


async def _connect(dsn: str, purpose: str) -> psycopg.AsyncConnection[Any]:
    try:
        return await psycopg.AsyncConnection.connect(dsn, application_name=f"yakuba {purpose}")
    except psycopg.OperationalError as exc:
        # libpq's message names host, port, user and database, never the password
        raise BackupError(f"cannot connect to the PostgreSQL store: {exc}") from None


def describe(conn: psycopg.AsyncConnection[Any]) -> str:
    info = conn.info
    where = info.host if info.host.startswith("/") else f"{info.host}:{info.port}"
    return f"the PostgreSQL database {info.dbname} on {where}"


async def dump_postgres(dsn: str, target: Path) -> StoreSnapshot:
    """Dump yakuba's tables from one snapshot into `target` (JSON lines, 0600)."""
    conn = await _connect(dsn, "backup")
    try:
        return await _dump(conn, target)
    except psycopg.Error as exc:
        raise BackupError(f"cannot dump {describe(conn)}: {exc}") from None
    finally:
        await conn.close()


async def _dump(conn: psycopg.AsyncConnection[Any], target: Path) -> StoreSnapshot:
    # psycopg opens the transaction with these (a BEGIN of our own would come too late)
    await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
    await conn.set_read_only(True)
    cur = await conn.execute("SELECT current_setting('transaction_isolation')")
    isolation = await cur.fetchone()
    if isolation is None or isolation[0] != "repeatable read":  # one snapshot, or no dump
        raise BackupError(f"the dump's transaction is {isolation}, not repeatable read")
    try:
        cur = await conn.execute("SELECT MAX(version) FROM schema_version")
    except psycopg.errors.UndefinedTable:
        raise BackupError(f"{describe(conn)} holds no yakuba store (no schema_version)") from None
    row = await cur.fetchone()
    version = int(row[0]) if row and row[0] is not None else 0
    header = {"format": DUMP_FORMAT, "version": 1, "schema_version": version}
    out = await asyncio.to_thread(_open_new, target)
    bots: dict[str, BotIdentity] = {}
    try:
        await asyncio.to_thread(out.write, json.dumps(header) + "\n")
        for table in schema_tables(version):
            cur = await conn.execute(
                sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table))
            )
            columns = [c.name for c in cur.description or ()]
            rows = await cur.fetchall()
            lines = [json.dumps({"table": table, "columns": columns, "rows": len(rows)})]
            lines.extend(
                json.dumps([_encode(v, table) for v in r], ensure_ascii=False) for r in rows
            )
            await asyncio.to_thread(out.write, "\n".join(lines) + "\n")
            if table == "bot_sessions":
                at = {c: i for i, c in enumerate(columns)}
                for r in rows:
                    bots[r[at["bot"]]] = BotIdentity(r[at["user_id"]], r[at["device_id"]])
    finally:
        await asyncio.to_thread(out.close)
    await conn.rollback()  # read only: nothing to keep
    return StoreSnapshot(version, bots)


def _open_new(path: Path) -> Any:
    path.touch(mode=0o600, exist_ok=False)
    return path.open("w", encoding="utf-8")


def _read_dump(path: Path) -> tuple[int, list[tuple[str, list[str], list[list[Any]]]]]:
    """(schema version, [(table, columns, rows)]) from a dump file; LoadError if it is
    not one."""
    tables: list[tuple[str, list[str], list[list[Any]]]] = []
    with path.open(encoding="utf-8") as fh:
        try:
            header = json.loads(fh.readline())
            if header.get("format") != DUMP_FORMAT or header.get("version") != 1:
                raise LoadError(f"not a {DUMP_FORMAT} version 1")
            version = int(header["schema_version"])
            for line in fh:
                head = json.loads(line)
                rows = [
                    [_decode(v) for v in json.loads(fh.readline())] for _ in range(head["rows"])
                ]
                tables.append((head["table"], list(head["columns"]), rows))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LoadError(f"the PostgreSQL dump is not readable ({exc})") from None
    return version, tables


class PostgresLoad:
    """One transaction on the store: see whether yakuba's data is there, load a dump,
    then `commit()` or `rollback()`."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], schema: str, present: int | None):
        self._conn = conn
        self.schema = schema
        #: the schema version of the yakuba store found there, None if there is none
        self.present = present
        self.name = describe(conn)
        self.aside: str | None = None

    @classmethod
    async def begin(cls, dsn: str) -> PostgresLoad:
        conn = await _connect(dsn, "restore")
        try:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            cur = await conn.execute("SELECT current_schema()")
            row = await cur.fetchone()
            if row is None or row[0] is None:
                raise BackupError(
                    "the PostgreSQL connection has no current schema (check search_path)"
                )
            schema = str(row[0])
            present: int | None = None
            if await _has_table(conn, schema, "schema_version"):
                cur = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
                found = await cur.fetchone()
                present = int(found[0]) if found else 0
        except psycopg.Error as exc:
            await conn.close()
            raise BackupError(f"cannot use {describe(conn)}: {exc}") from None
        except BaseException:
            await conn.close()
            raise
        return cls(conn, schema, present)

    async def load(self, dump: Path, aside: str | None) -> None:
        """Load `dump`; yakuba's tables there now go to the schema `aside` first.
        LoadError if it fails (then `rollback()`)."""
        version, tables = await asyncio.to_thread(_read_dump, dump)
        try:
            await self._load(version, tables, aside)
        except psycopg.Error as exc:
            raise LoadError(f"{self.name} refused the load: {exc}") from None

    async def _load(
        self, version: int, tables: list[tuple[str, list[str], list[list[Any]]]], aside: str | None
    ) -> None:
        conn = self._conn
        if self.present is not None:
            if aside is None:
                raise LoadError(f"{self.name} holds a yakuba store already")
            await self._move_aside(aside)
        await conn.execute(ddl(_SCHEMA_VERSION_DDL))
        for migration in sorted(MIGRATIONS, key=lambda m: m.version):
            if migration.version <= version:
                for statement in migration.statements:
                    await conn.execute(ddl(statement))
        if [t for t, _, _ in tables] != schema_tables(version):
            raise LoadError(f"the dump's tables are not those of schema version {version}")
        for table, columns, rows in tables:
            insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            )
            try:
                async with conn.cursor() as cur:
                    for start in range(0, len(rows), _BATCH):
                        await cur.executemany(insert, rows[start : start + _BATCH])
            except psycopg.Error as exc:
                raise LoadError(f"table {table} does not load: {exc}") from None
        await self._reset_identities()

    async def _move_aside(self, aside: str) -> None:
        await self._conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(aside)))
        known = set(schema_tables(max(m.version for m in MIGRATIONS)))
        cur = await self._conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (self.schema,),
        )
        for (table,) in await cur.fetchall():
            if table in known:
                await self._conn.execute(
                    sql.SQL("ALTER TABLE {}.{} SET SCHEMA {}").format(
                        sql.Identifier(self.schema), sql.Identifier(table), sql.Identifier(aside)
                    )
                )
        self.aside = aside

    async def _reset_identities(self) -> None:
        cur = await self._conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND is_identity = 'YES'",
            (self.schema,),
        )
        for table, column in await cur.fetchall():
            await self._conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({}, {}), COALESCE(MAX({}), 0) + 1,"
                    " false) FROM {}"
                ).format(
                    sql.Literal(f'"{self.schema}"."{table}"'),
                    sql.Literal(column),
                    sql.Identifier(column),
                    sql.Identifier(table),
                )
            )

    async def commit(self) -> None:
        try:
            await self._conn.commit()
        finally:
            await self._conn.close()

    async def rollback(self) -> None:
        try:
            if not self._conn.closed:
                await self._conn.rollback()
        finally:
            await self._conn.close()


async def _has_table(conn: psycopg.AsyncConnection[Any], schema: str, table: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    return await cur.fetchone() is not None
