"""The database: numbered migrations, each atomic with its version bump; transactions.

Each test runs on SQLite and on PostgreSQL (`open_db` opens the test's own database, the
same one each time); the file-specific ones are SQLite's.
"""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from bots.store.database import Database, DatabaseTooNew, IntegrityError
from bots.store.migrations import MIGRATIONS, Migration
from tests.postgres import StoreOpener

pytestmark = pytest.mark.postgresql

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
    if db.path is None:  # PostgreSQL (the SQLite tests use files)
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {str(r[0]) for r in await db.fetchall(sql)}


async def versions(db: Database) -> list[int]:
    rows = await db.fetchall("SELECT version FROM schema_version ORDER BY version")
    return [int(r[0]) for r in rows]


async def test_migrations_apply_in_version_order_whatever_the_list_order(
    open_db: StoreOpener,
) -> None:
    db = await open_db(migrations=[V2, V1])
    try:
        assert await db.schema_version() == 2
        assert await versions(db) == [1, 2]
        assert {"first", "second"} <= await tables(db)
        assert await db.fetchall("SELECT name FROM second") == [("seeded by migration 1",)]
    finally:
        await db.close()


async def test_real_migrations_create_the_store_tables(open_db: StoreOpener) -> None:
    db = await open_db()
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


async def test_failing_migration_leaves_version_and_earlier_tables(open_db: StoreOpener) -> None:
    db = await open_db(migrations=[V1, V2])
    await db.close()

    with pytest.raises(open_db.error):
        await open_db(migrations=[V1, V2, V3_BROKEN])

    db = await open_db(migrations=[V1, V2])
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
    open_db: StoreOpener,
) -> None:
    with pytest.raises(open_db.error):
        await open_db(migrations=[V1, V2, V3_BROKEN])

    db = await open_db(migrations=[V1, V2])
    try:
        assert await versions(db) == [1, 2]
        assert "third" not in await tables(db)
    finally:
        await db.close()


async def test_reopening_does_not_reapply_migrations(open_db: StoreOpener) -> None:
    for _ in range(3):
        # re-running V1 would fail ("table first already exists") or seed a second row
        db = await open_db(migrations=[V1, V2])
        await db.close()

    db = await open_db(migrations=[V1, V2])
    try:
        assert await versions(db) == [1, 2]
        assert await db.fetchall("SELECT name FROM first") == [("seeded by migration 1",)]
        assert await db.fetchall("SELECT name FROM second") == [("seeded by migration 1",)]
    finally:
        await db.close()


async def test_reopening_with_a_new_migration_applies_only_that_one(open_db: StoreOpener) -> None:
    db = await open_db(migrations=[V1])
    await db.close()

    db = await open_db(migrations=[V1, V2])
    try:
        assert await versions(db) == [1, 2]
        assert await db.fetchall("SELECT name FROM first") == [("seeded by migration 1",)]
    finally:
        await db.close()


async def test_two_processes_opening_a_new_database_migrate_it_once(
    open_db: StoreOpener,
) -> None:
    """Two yakuba processes starting together on one database (two connections here)."""
    first, second = await asyncio.gather(open_db(migrations=[V1, V2]), open_db(migrations=[V1, V2]))
    try:
        assert await versions(first) == [1, 2]
        assert await second.fetchall("SELECT name FROM first") == [("seeded by migration 1",)]
    finally:
        await first.close()
        await second.close()


async def test_database_newer_than_the_code_is_refused(open_db: StoreOpener) -> None:
    db = await open_db(migrations=[V1, V2])
    await db.close()

    with pytest.raises(DatabaseTooNew) as info:
        await open_db(migrations=[V1])
    message = str(info.value)
    assert "schema version 2" in message
    assert "up to 1" in message

    # refusing does not touch the database
    db = await open_db(migrations=[V1, V2])
    try:
        assert await versions(db) == [1, 2]
    finally:
        await db.close()


async def test_database_newer_than_the_real_migrations_is_refused(open_db: StoreOpener) -> None:
    db = await open_db()
    await db.execute("INSERT INTO schema_version (version) VALUES (?)", (99,))
    await db.close()

    latest = max(m.version for m in MIGRATIONS)
    with pytest.raises(DatabaseTooNew, match=rf"version 99\b.*up to {latest}\b"):
        await open_db()


async def test_transaction_rolls_back_on_exception(open_db: StoreOpener) -> None:
    db = await open_db(migrations=[V1])
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


async def test_a_failed_statement_rolls_its_transaction_back(open_db: StoreOpener) -> None:
    db = await open_db(migrations=[V1])
    try:
        with pytest.raises(IntegrityError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO first (name) VALUES (?)", ("rolled back",))
                await tx.execute("INSERT INTO first (id, name) VALUES (?, ?)", (1, "same id"))
        assert await db.fetchall("SELECT name FROM first") == [("seeded by migration 1",)]
        assert await db.execute("INSERT INTO first (name) VALUES (?)", ("after",)) == 1
    finally:
        await db.close()


async def test_reads_do_not_see_another_coroutines_uncommitted_writes(
    open_db: StoreOpener,
) -> None:
    """A transaction commits or rolls back as a whole: nobody sees it half-done.

    The reader runs while the writer's transaction is open; whether it waits for the
    commit or reads the last committed state, it must not see a row that is rolled back.
    """
    db = await open_db(migrations=[V1])
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


async def test_transactions_of_two_connections_do_not_interleave(open_db: StoreOpener) -> None:
    """Like two processes: a read-then-write transaction is not raced by the other's."""
    first = await open_db(migrations=[V1])
    second = await open_db(migrations=[V1])

    async def add_next(db: Database, name: str) -> None:
        async with db.transaction() as tx:
            row = await tx.fetchone("SELECT COUNT(*) FROM first")
            assert row is not None
            await asyncio.sleep(0.05)  # the other connection tries meanwhile
            await tx.execute("INSERT INTO first (name) VALUES (?)", (f"{name} {row[0]}",))

    try:
        await asyncio.gather(add_next(first, "a"), add_next(second, "b"))
        rows = await first.fetchall("SELECT name FROM first ORDER BY id")
        assert sorted(str(r[0]).split()[-1] for r in rows[1:]) == ["1", "2"]
    finally:
        await first.close()
        await second.close()


async def test_executemany_counts_the_rows_changed(open_db: StoreOpener) -> None:
    db = await open_db(migrations=[V1])
    try:
        async with db.transaction() as tx:
            added = await tx.executemany(
                "INSERT INTO first (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                [(10, "ten"), (1, "taken"), (11, "eleven")],
            )
            renamed = await tx.executemany(
                "UPDATE first SET name = ? WHERE id = ?", [("TEN", 10), ("none", 99)]
            )
            rows = await tx.fetchall("SELECT id, name FROM first WHERE id >= ? ORDER BY id", (10,))
        assert (added, renamed) == (2, 1)
        assert rows == [(10, "TEN"), (11, "eleven")]
    finally:
        await db.close()


async def test_values_round_trip_with_their_python_types(open_db: StoreOpener) -> None:
    table = Migration(
        1,
        "one column of each kind",
        (
            "CREATE TABLE kinds (id INTEGER PRIMARY KEY, ms INTEGER, flag INTEGER,"
            " text TEXT, data BLOB)",
        ),
    )
    db = await open_db(migrations=[table])
    try:
        data = bytes(range(256))
        ms = 1_800_000_000_123  # beyond 32 bits
        await db.execute(
            "INSERT INTO kinds (ms, flag, text, data) VALUES (?, ?, ?, ?)",
            (ms, True, "日本語 '?' %s", data),
        )
        row = await db.fetchone("SELECT id, ms, flag, text, data FROM kinds WHERE flag = ?", (1,))
        assert row == (1, ms, 1, "日本語 '?' %s", data)
        assert row is not None and isinstance(row[4], bytes)
        # PostgreSQL's text holds no NUL: it is stored as U+FFFD there
        await db.execute("INSERT INTO kinds (id, text) VALUES (?, ?)", (99, "a\x00b"))
        row = await db.fetchone("SELECT text FROM kinds WHERE id = ?", (99,))
        assert row == (("a\x00b",) if db.path is not None else ("a\ufffdb",))
        await db.execute("DELETE FROM kinds WHERE id = ?", (99,))
        # literals with `?` and `%` stay literals; text sorts by code point
        await db.execute("INSERT INTO kinds (text) VALUES ('a?b'), ('B'), ('a%')")
        rows = await db.fetchall("SELECT text FROM kinds WHERE text != ? ORDER BY text", ("",))
        assert [r[0] for r in rows] == ["B", "a%", "a?b", "日本語 '?' %s"]
    finally:
        await db.close()


async def test_committed_data_survives_reopening(open_db: StoreOpener) -> None:
    db = await open_db(migrations=[V1])
    assert await db.execute("INSERT INTO first (name) VALUES (?)", ("persisted",)) == 1
    await db.close()

    db = await open_db(migrations=[V1])
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
