"""The database: numbered migrations, each atomic with its version bump; transactions."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest

from bots.store.database import Database, DatabaseTooNew
from bots.store.migrations import MIGRATIONS, Migration

V1 = Migration(
    1,
    "first table",
    (
        "CREATE TABLE first (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "INSERT INTO first (name) VALUES ('seeded by migration 1')",
    ),
)
# depends on migration 1: it fails unless `first` already exists
V2 = Migration(
    2,
    "second table, filled from the first",
    (
        "CREATE TABLE second (name TEXT NOT NULL)",
        "INSERT INTO second (name) SELECT name FROM first",
    ),
)
V3_BROKEN = Migration(
    3,
    "third table, then a statement that fails",
    (
        "CREATE TABLE third (x INTEGER)",
        "INSERT INTO third (x) VALUES (1)",
        "INSERT INTO no_such_table (x) VALUES (1)",
    ),
)


async def tables(db: Database) -> set[str]:
    rows = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(r[0]) for r in rows}


async def versions(db: Database) -> list[int]:
    rows = await db.fetchall("SELECT version FROM schema_version ORDER BY version")
    return [int(r[0]) for r in rows]


async def test_migrations_apply_in_version_order_whatever_the_list_order(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite", migrations=[V2, V1])
    try:
        assert await db.schema_version() == 2
        assert await versions(db) == [1, 2]
        assert {"first", "second"} <= await tables(db)
        assert await db.fetchall("SELECT name FROM second") == [("seeded by migration 1",)]
    finally:
        await db.close()


async def test_real_migrations_create_the_store_tables(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite")
    try:
        assert await db.schema_version() == max(m.version for m in MIGRATIONS)
        assert {
            "bot_sessions",
            "room_joins",
            "handled_events",
            "event_claims",
            "send_ledger",
        } <= await tables(db)
    finally:
        await db.close()


async def test_failing_migration_leaves_version_and_earlier_tables(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = await Database.open(path, migrations=[V1, V2])
    await db.close()

    with pytest.raises(sqlite3.Error):
        await Database.open(path, migrations=[V1, V2, V3_BROKEN])

    db = await Database.open(path, migrations=[V1, V2])
    try:
        assert await db.schema_version() == 2
        assert await versions(db) == [1, 2]
        names = await tables(db)
        assert {"first", "second"} <= names
        assert "third" not in names  # the failed migration's own table is rolled back too
        assert await db.fetchall("SELECT name FROM first") == [("seeded by migration 1",)]
    finally:
        await db.close()


async def test_failing_migration_on_a_new_database_keeps_the_earlier_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    with pytest.raises(sqlite3.Error):
        await Database.open(path, migrations=[V1, V2, V3_BROKEN])

    db = await Database.open(path, migrations=[V1, V2])
    try:
        assert await versions(db) == [1, 2]
        assert "third" not in await tables(db)
    finally:
        await db.close()


async def test_reopening_does_not_reapply_migrations(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    for _ in range(3):
        # re-running V1 would fail ("table first already exists") or seed a second row
        db = await Database.open(path, migrations=[V1, V2])
        await db.close()

    db = await Database.open(path, migrations=[V1, V2])
    try:
        assert await versions(db) == [1, 2]
        assert await db.fetchall("SELECT name FROM first") == [("seeded by migration 1",)]
        assert await db.fetchall("SELECT name FROM second") == [("seeded by migration 1",)]
    finally:
        await db.close()


async def test_reopening_with_a_new_migration_applies_only_that_one(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = await Database.open(path, migrations=[V1])
    await db.close()

    db = await Database.open(path, migrations=[V1, V2])
    try:
        assert await versions(db) == [1, 2]
        assert await db.fetchall("SELECT name FROM first") == [("seeded by migration 1",)]
    finally:
        await db.close()


async def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = await Database.open(path, migrations=[V1, V2])
    await db.close()

    with pytest.raises(DatabaseTooNew) as info:
        await Database.open(path, migrations=[V1])
    message = str(info.value)
    assert "schema version 2" in message
    assert "up to 1" in message

    # refusing does not touch the database
    db = await Database.open(path, migrations=[V1, V2])
    try:
        assert await versions(db) == [1, 2]
    finally:
        await db.close()


async def test_database_newer_than_the_real_migrations_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = await Database.open(path)
    await db.execute("INSERT INTO schema_version (version) VALUES (?)", (99,))
    await db.close()

    latest = max(m.version for m in MIGRATIONS)
    with pytest.raises(DatabaseTooNew, match=rf"version 99\b.*up to {latest}\b"):
        await Database.open(path)


async def test_transaction_rolls_back_on_exception(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite", migrations=[V1])
    try:
        with pytest.raises(RuntimeError, match="boom"):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO first (name) VALUES (?)", ("rolled back",))
                await tx.execute("DELETE FROM first WHERE name = ?", ("seeded by migration 1",))
                raise RuntimeError("boom")
        assert await db.fetchall("SELECT name FROM first") == [("seeded by migration 1",)]

        # the database stays usable after a rollback, and a clean block commits
        async with db.transaction() as tx:
            changed = await tx.execute("INSERT INTO first (name) VALUES (?)", ("kept",))
        assert changed == 1
        rows = await db.fetchall("SELECT name FROM first ORDER BY id")
        assert rows == [("seeded by migration 1",), ("kept",)]
    finally:
        await db.close()


async def test_reads_do_not_see_another_coroutines_uncommitted_writes(tmp_path: Path) -> None:
    """A transaction commits or rolls back as a whole: nobody sees it half-done.

    The reader runs while the writer's transaction is open; whether it waits for the
    commit or reads the last committed state, it must not see a row that is rolled back.
    """
    db = await Database.open(tmp_path / "db.sqlite", migrations=[V1])
    reader: asyncio.Task[list[tuple[object, ...]]] | None = None
    try:
        with pytest.raises(RuntimeError, match="roll back"):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO first (name) VALUES (?)", ("never committed",))
                reader = asyncio.create_task(db.fetchall("SELECT name FROM first ORDER BY id"))
                # give the reader its chance to run inside the open transaction
                await asyncio.wait({reader}, timeout=0.5)
                raise RuntimeError("roll back")
        assert reader is not None
        assert await reader == [("seeded by migration 1",)]
    finally:
        await db.close()


async def test_committed_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = await Database.open(path, migrations=[V1])
    assert await db.execute("INSERT INTO first (name) VALUES (?)", ("persisted",)) == 1
    await db.close()

    db = await Database.open(path, migrations=[V1])
    try:
        assert await db.fetchone("SELECT name FROM first WHERE name = ?", ("persisted",)) == (
            "persisted",
        )
    finally:
        await db.close()


async def test_database_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "db.sqlite"
    db = await Database.open(path, migrations=[V1])
    await db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
