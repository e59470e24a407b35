"""`create_backup` and `restore_backup` on an SQLite installation: a consistent copy while
the store is open and written, a restore that brings back exactly that, and refusals
(data present, another server, other pickle keys, wrong archive key, damaged archive)
that change nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.backup import (
    ArchiveError,
    ArchiveKey,
    BackupError,
    RestoreError,
    create_backup,
    restore_backup,
)
from bots.config import Config
from bots.store.database import Database
from bots.store.migrations import MIGRATIONS
from bots.store.sessions import SessionStore
from tests.unit.backup_world import (
    DEVICES,
    add_marker,
    add_task,
    e2ee_file,
    make_config,
    markers,
    populate,
    tree,
)

KEY = ArchiveKey(b"it-department-archive-key", "the test key")
WHEN = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
STAMP = "20260501T093000Z"


def _now() -> datetime:
    return WHEN


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


async def _backup(config: Config, tmp: Path, key: ArchiveKey | None = None) -> Path:
    """A running installation's backup; the store stays open while it is made."""
    db = await populate(config)
    try:
        result = await create_backup(config, tmp / "backup.tar.gz", key, now=_now)
        await add_marker(db, "after the backup")
    finally:
        await db.close()
    return result.path


def _rows(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT device_id, account FROM accounts").fetchall()
    finally:
        conn.close()


def _wipe(config: Config) -> None:
    shutil.rmtree(config.data_dir)


# --- backup ----------------------------------------------------------------------------


async def test_the_archive_lists_the_store_the_bots_keys_and_the_tokens(
    config: Config, tmp_path: Path
) -> None:
    db = await populate(config)
    try:
        result = await create_backup(config, tmp_path / "b.tar.gz", now=_now)
    finally:
        await db.close()
    manifest = result.manifest
    tasks_id, alerts_id = config.bots["tasks"].user_id, config.bots["alerts"].user_id
    assert sorted(m.name for m in manifest.members) == sorted(
        [
            "store/yakuba.sqlite",
            "data/appservice/tokens.json",
            "data/bots/alerts/cross_signing.keys",
            f"data/bots/alerts/e2ee/{alerts_id}_ALERTSDEV.db",
            f"data/bots/alerts/e2ee/{alerts_id}_ALERTSDEV.trusted_devices",
            "data/bots/tasks/cross_signing.keys",
            f"data/bots/tasks/e2ee/{tasks_id}_TASKSDEV.db",
            f"data/bots/tasks/e2ee/{tasks_id}_TASKSDEV.trusted_devices",
        ]
    )
    assert manifest.server_name == "city.example.jp"
    assert manifest.store == "sqlite"
    assert manifest.schema_version == max(m.version for m in MIGRATIONS)
    assert manifest.created_at == "2026-05-01T09:30:00Z"
    assert {n: b.device_id for n, b in manifest.bots.items()} == DEVICES
    assert result.path.stat().st_mode & 0o777 == 0o600
    assert not result.encrypted
    # no copies left behind beside the archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz", "data"]


async def test_the_copy_is_consistent_while_yakuba_writes(config: Config, tmp_path: Path) -> None:
    db = await populate(config)
    written = 0
    stop = asyncio.Event()

    async def work() -> None:
        nonlocal written
        while not stop.is_set():
            await add_task(db, f"task {written}", "@staff:city")
            written += 1
            await asyncio.sleep(0)

    worker = asyncio.create_task(work())
    try:
        await asyncio.sleep(0.05)
        archive = (await create_backup(config, tmp_path / "b.tar.gz", now=_now)).path
        await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
        await db.close()
    _wipe(config)
    await restore_backup(config, archive)
    conn = sqlite3.connect(config.store.path)
    tasks = conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    orphans = conn.execute(
        "SELECT COUNT(*) FROM tasks WHERE id NOT IN (SELECT task_id FROM task_assignees)"
    ).fetchone()[0]
    conn.close()
    assert 0 < tasks < written  # some work before the backup, more after it
    assert orphans == 0  # each task with its assignee: no transaction half copied


async def test_backup_refuses_an_existing_file_and_a_missing_store(
    config: Config, tmp_path: Path
) -> None:
    with pytest.raises(BackupError, match=r"there is no store at .*yakuba.db \(store.path\)"):
        await create_backup(config, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()
    existing = tmp_path / "existing.tar.gz"
    existing.write_text("keep me")
    with pytest.raises(BackupError, match=rf"{existing} exists already"):
        await create_backup(config, existing)
    assert existing.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.tar.gz"]


# --- restore ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
async def test_restore_brings_back_exactly_what_was_backed_up(
    config: Config, tmp_path: Path, key: ArchiveKey | None
) -> None:
    archive = await _backup(config, tmp_path, key)
    keys_before = (config.data_dir / "bots" / "tasks" / "cross_signing.keys").read_bytes()
    crypto_before = _rows(e2ee_file(config, "tasks"))
    _wipe(config)

    result = await restore_backup(config, archive, key, now=_now)

    assert result.aside == () and result.warnings == ()
    assert markers(config.store.path) == ["before the backup"]  # not what came after
    assert (config.data_dir / "bots" / "tasks" / "cross_signing.keys").read_bytes() == keys_before
    assert _rows(e2ee_file(config, "tasks")) == crypto_before  # a copy, not the same bytes
    tokens = config.data_dir / "appservice" / "tokens.json"
    assert "as-secret" in tokens.read_text()
    assert tokens.stat().st_mode & 0o777 == 0o600
    assert (config.data_dir / "bots").stat().st_mode & 0o777 == 0o700
    # yakuba opens it and finds its bots' devices
    db = await Database.open(config.store.path)
    try:
        session = await SessionStore(db).get_session("tasks")
    finally:
        await db.close()
    assert session is not None and session.device_id == "TASKSDEV"
    assert [p.name for p in config.data_dir.iterdir() if p.name.startswith(".")] == []


async def test_restore_refuses_when_data_is_present_and_changes_nothing(
    config: Config, tmp_path: Path
) -> None:
    archive = await _backup(config, tmp_path)
    before = tree(config.data_dir)
    with pytest.raises(RestoreError) as caught:
        await restore_backup(config, archive, now=_now)
    message = str(caught.value)
    assert message.startswith("yakuba's data is present (")
    assert str(config.store.path) in message and "--force" in message
    assert tree(config.data_dir) == before


async def test_force_keeps_the_data_found_in_place(config: Config, tmp_path: Path) -> None:
    archive = await _backup(config, tmp_path)
    before = tree(config.data_dir)
    (config.data_dir / "notes.txt").write_text("IT's own file")

    result = await restore_backup(config, archive, force=True, now=_now)

    aside = config.data_dir.with_name(f"data.before-restore-{STAMP}")
    assert set(result.aside) >= {aside / "bots", aside / "appservice", aside / "yakuba.db"}
    kept = {p.replace(str(aside), str(config.data_dir)): h for p, h in tree(aside).items()}
    assert kept == before  # every old file, unchanged, beside data_dir
    assert markers(aside / "yakuba.db") == ["after the backup", "before the backup"]
    assert markers(config.store.path) == ["before the backup"]
    assert (config.data_dir / "notes.txt").read_text() == "IT's own file"  # not yakuba's


async def test_on_a_mount_point_the_old_data_is_kept_inside_data_dir(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = await _backup(config, tmp_path)
    # a container volume: the folder above data_dir is not writable
    monkeypatch.setattr("bots.backup.restore.os.access", lambda path, mode: False)
    await restore_backup(config, archive, force=True, now=_now)
    aside = config.data_dir / f"before-restore-{STAMP}"
    assert markers(aside / "yakuba.db") == ["after the backup", "before the backup"]
    assert (aside / "bots" / "tasks" / "cross_signing.keys").exists()
    assert markers(config.store.path) == ["before the backup"]
    assert not config.data_dir.with_name(f"data.before-restore-{STAMP}").exists()


async def test_a_store_outside_data_dir(tmp_path: Path) -> None:
    config = make_config(tmp_path, store={"path": str(tmp_path / "db" / "yakuba.db")})
    archive = await _backup(config, tmp_path)
    result = await restore_backup(config, archive, force=True, now=_now)
    assert markers(config.store.path) == ["before the backup"]
    old = tmp_path / "db" / f"yakuba.db.before-restore-{STAMP}"
    assert old in result.aside
    assert markers(old) == ["after the backup", "before the backup"]
    assert sorted(p.name for p in (tmp_path / "db").iterdir() if p.name.startswith(".")) == []


async def test_a_failure_while_moving_moves_everything_back(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = await _backup(config, tmp_path)
    before = tree(config.data_dir)
    calls = 0
    rename = os.rename

    def failing(source: str | Path, target: str | Path) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # bots and appservice moved, then the disk fails
            raise OSError(28, "No space left on device")
        rename(source, target)

    monkeypatch.setattr("bots.backup.restore.os.rename", failing)
    with pytest.raises(RestoreError, match=r"No space left on device.*moved back"):
        await restore_backup(config, archive, force=True, now=_now)
    assert tree(config.data_dir) == before


# --- refusals that change nothing ------------------------------------------------------


async def test_another_servers_archive_is_refused(config: Config, tmp_path: Path) -> None:
    archive = await _backup(config, tmp_path)
    _wipe(config)
    other = make_config(tmp_path, server_name="other-city.example.jp")
    with pytest.raises(RestoreError) as caught:
        await restore_backup(other, archive, now=_now)
    assert str(caught.value) == (
        f"{archive} is a backup of city.example.jp, but the configuration is for"
        " other-city.example.jp (homeserver.server_name); nothing was changed"
    )
    assert not config.data_dir.exists()


async def test_other_pickle_keys_are_refused(config: Config, tmp_path: Path) -> None:
    archive = await _backup(config, tmp_path)
    _wipe(config)
    other = make_config(
        tmp_path,
        pickles={"tasks": "a-new-pickle-key-0123456789", "alerts": "alerts-pickle-key-0123456789"},
    )
    with pytest.raises(
        RestoreError, match=r"bot tasks: its pickle key \(bots.tasks.pickle_key\) does not open"
    ):
        await restore_backup(other, archive, now=_now)
    assert not config.data_dir.exists()


async def test_a_wrong_archive_key_changes_nothing(config: Config, tmp_path: Path) -> None:
    archive = await _backup(config, tmp_path, KEY)
    before = tree(config.data_dir)
    wrong = ArchiveKey(b"not-the-archive-key-at-all", "the wrong key")
    with pytest.raises(ArchiveError, match=r"the archive key is wrong \(or the archive was"):
        await restore_backup(config, archive, wrong, force=True, now=_now)
    assert tree(config.data_dir) == before


async def test_a_damaged_archive_changes_nothing(config: Config, tmp_path: Path) -> None:
    archive = await _backup(config, tmp_path)
    before = tree(config.data_dir)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ArchiveError, match=rf"{archive} is damaged"):
        await restore_backup(config, archive, force=True, now=_now)
    assert tree(config.data_dir) == before


async def test_a_foreign_file_changes_nothing(config: Config, tmp_path: Path) -> None:
    foreign = tmp_path / "photo.jpg"
    foreign.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(1000))
    with pytest.raises(ArchiveError, match=rf"{foreign} is not a yakuba backup archive"):
        await restore_backup(config, foreign, now=_now)
    assert not config.data_dir.exists()


async def test_an_archive_of_a_newer_schema_is_refused(config: Config, tmp_path: Path) -> None:
    db = await populate(config)
    await db.execute("INSERT INTO schema_version (version) VALUES (999)")
    archive = (await create_backup(config, tmp_path / "b.tar.gz", now=_now)).path
    await db.close()
    _wipe(config)
    latest = max(m.version for m in MIGRATIONS)
    with pytest.raises(
        RestoreError, match=rf"store schema version 999; this yakuba knows up to {latest}"
    ):
        await restore_backup(config, archive, now=_now)
    assert not config.data_dir.exists()


async def test_an_sqlite_archive_for_a_postgresql_store_is_refused(
    config: Config, tmp_path: Path
) -> None:
    archive = await _backup(config, tmp_path)
    _wipe(config)
    postgres = make_config(
        tmp_path, store={"type": "postgresql", "dsn": "postgresql://yakuba@127.0.0.1:1/yakuba"}
    )
    with pytest.raises(RestoreError, match=r"holds a sqlite store, but .* is postgresql"):
        await restore_backup(postgres, archive, now=_now)
    assert not config.data_dir.exists()


async def test_without_the_store_only_the_files_come_back(config: Config, tmp_path: Path) -> None:
    db = await populate(config)
    try:
        result = await create_backup(config, tmp_path / "b.tar.gz", include_store=False, now=_now)
    finally:
        await db.close()
    assert result.manifest.store is None
    assert not any(m.name.startswith("store/") for m in result.manifest.members)
    _wipe(config)
    restored = await restore_backup(config, result.path, now=_now)
    assert "holds no store (made with --no-store)" in restored.warnings[0]
    assert (config.data_dir / "bots" / "tasks" / "cross_signing.keys").exists()
    assert not config.store.path.exists()
