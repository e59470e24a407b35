"""Backup and restore of a PostgreSQL store: a dump of one snapshot through psycopg,
loaded into an empty database (or, with force, beside the tables found there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from bots.backup import RestoreError, create_backup, restore_backup
from bots.backup.pgdump import schema_tables
from bots.config import Config
from bots.store.database import Database
from bots.store.migrations import MIGRATIONS
from bots.store.postgres import open_postgres
from tests.postgres import PostgresDatabases, StoreOpener
from tests.unit.backup_world import add_marker, add_task, make_config, populate

on_postgresql = pytest.mark.parametrize("store_backend", ["postgresql"], indirect=True)
WHEN = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def _now() -> datetime:
    return WHEN


def test_tables_come_after_the_tables_they_reference() -> None:
    tables = schema_tables(max(m.version for m in MIGRATIONS))
    assert tables[0] == "schema_version"
    assert tables.index("tasks") < tables.index("task_assignees")
    assert tables.index("announcements") < min(
        i for i, t in enumerate(tables) if t.startswith("announcement_")
    )
    assert "bot_sessions" in tables and not any(t.startswith("sqlite_") for t in tables)
    assert "tasks" not in schema_tables(1)  # the tables of that version only


class EmptyDatabases:
    """Creates empty databases for restores, dropped at the end of the test."""

    def __init__(self, databases: PostgresDatabases) -> None:
        self._databases = databases
        self.names: list[str] = []

    async def create(self) -> str:
        name = await self._databases.create(migrated=False)
        self.names.append(name)
        return self._databases.dsn(name)


@pytest.fixture
async def empty_databases(
    postgres_databases: PostgresDatabases,
) -> AsyncIterator[EmptyDatabases]:
    made = EmptyDatabases(postgres_databases)
    yield made
    for name in made.names:
        await postgres_databases.drop(name)


async def _rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(sql)
        return list(await cur.fetchall())


def _config(tmp: Path, dsn: str) -> Config:
    return make_config(tmp, store={"type": "postgresql", "dsn": dsn})


async def _backup(tmp: Path, open_db: StoreOpener) -> tuple[Path, Config, Database]:
    db = await open_db()
    config = _config(tmp, await open_db.dsn())
    await populate(config, db)
    await add_task(db, "予算資料の作成", "@staff:city")
    await add_task(db, "second", "@other:city")
    result = await create_backup(config, tmp / "b.tar.gz", now=_now)
    await add_marker(db, "after the backup")
    assert result.manifest.store == "postgresql"
    assert result.manifest.bots["tasks"].device_id == "TASKSDEV"
    return result.path, config, db


@on_postgresql
async def test_restore_into_an_empty_database(
    store_backend: str,
    open_db: StoreOpener,
    tmp_path: Path,
    empty_databases: EmptyDatabases,
) -> None:
    archive, _, db = await _backup(tmp_path, open_db)
    await db.close()
    target = await empty_databases.create()
    fresh = make_config(tmp_path / "new", store={"type": "postgresql", "dsn": target})

    result = await restore_backup(fresh, archive, now=_now)

    assert result.aside_schema is None
    markers = await _rows(target, "SELECT event_id FROM handled_events WHERE bot = 'marker'")
    assert markers == [("before the backup",)]
    tasks = await _rows(
        target,
        "SELECT t.id, t.title, a.user_id FROM tasks t JOIN task_assignees a ON a.task_id = t.id"
        " ORDER BY t.id",
    )
    assert tasks == [(1, "予算資料の作成", "@staff:city"), (2, "second", "@other:city")]
    assert (fresh.data_dir / "bots" / "tasks" / "cross_signing.keys").exists()
    # yakuba opens it, migrates nothing more, and numbers new rows after the restored ones
    reopened = await open_postgres(target)
    try:
        assert await add_task(reopened, "third", "@staff:city") == 3
        assert await reopened.schema_version() == max(m.version for m in MIGRATIONS)
        session = await reopened.fetchone("SELECT device_id FROM bot_sessions WHERE bot = 'tasks'")
        assert session == ("TASKSDEV",)
    finally:
        await reopened.close()


@on_postgresql
async def test_a_store_in_place_is_refused_then_kept_in_a_schema_of_its_own(
    store_backend: str, open_db: StoreOpener, tmp_path: Path
) -> None:
    archive, config, db = await _backup(tmp_path, open_db)
    await db.close()
    dsn = await open_db.dsn()
    before = await _rows(dsn, "SELECT event_id FROM handled_events ORDER BY event_id")

    with pytest.raises(RestoreError, match=r"yakuba's data is present \(.*PostgreSQL database"):
        await restore_backup(config, archive, now=_now)
    assert await _rows(dsn, "SELECT event_id FROM handled_events ORDER BY event_id") == before

    result = await restore_backup(config, archive, force=True, now=_now)

    assert result.aside_schema == "yakuba_before_restore_20260501t093000z"
    kept = await _rows(
        dsn, f"SELECT event_id FROM {result.aside_schema}.handled_events ORDER BY event_id"
    )
    assert kept == before and ("after the backup",) in kept
    now_there = await _rows(dsn, "SELECT event_id FROM handled_events WHERE bot = 'marker'")
    assert now_there == [("before the backup",)]


@on_postgresql
async def test_the_dump_is_one_snapshot_while_yakuba_writes(
    store_backend: str, open_db: StoreOpener, tmp_path: Path, empty_databases: EmptyDatabases
) -> None:
    db = await open_db()
    config = _config(tmp_path, await open_db.dsn())
    await populate(config, db)
    written = 0
    stop = asyncio.Event()

    async def work() -> None:  # each task and its assignee in one transaction
        nonlocal written
        while not stop.is_set():
            await add_task(db, f"task {written}", "@staff:city")
            written += 1

    worker = asyncio.create_task(work())
    try:
        await asyncio.sleep(0.05)
        archive = (await create_backup(config, tmp_path / "b.tar.gz", now=_now)).path
        await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
        await db.close()
    target = await empty_databases.create()
    await restore_backup(
        make_config(tmp_path / "new", store={"type": "postgresql", "dsn": target}), archive
    )
    (tasks,), (assignees,) = await _rows(
        target, "SELECT COUNT(*) FROM tasks UNION ALL SELECT COUNT(*) FROM task_assignees"
    )
    # tasks were read before their assignees: one snapshot has as many of each
    assert isinstance(tasks, int) and 0 < tasks < written and tasks == assignees
