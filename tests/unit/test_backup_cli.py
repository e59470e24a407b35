"""`yakuba backup` and `yakuba restore` as IT runs them: arguments, messages, exit codes."""

from __future__ import annotations

import argparse
import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appservice.backup_cli import add_parser, run
from bots.config import Config
from tests.unit.backup_world import make_config, markers, populate, tree

WHEN = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="yakuba")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return parser.parse_args(argv)


async def _run(config: Config, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(_parse(*argv), config, now=lambda: WHEN, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
async def config(tmp_path: Path) -> Config:
    config = make_config(tmp_path)
    db = await populate(config)
    await db.close()
    return config


async def test_backup_without_key_warns_and_restore_brings_it_back(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = await _run(config, "backup", "-c", "yakuba.yaml")
    assert code == 0, err
    name = "yakuba-backup-city.example.jp-20260501T093000Z.tar.gz"
    assert out.startswith(f"wrote {name} (")
    assert "sqlite store at schema version" in out and "bots alerts, tasks" in out
    assert err.startswith(f"warning: {name} is not encrypted and holds secrets")
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o600

    shutil.rmtree(config.data_dir)
    code, out, err = await _run(config, "restore", "-c", "yakuba.yaml", name)
    assert (code, err) == (0, "")
    assert out.startswith(f"restored {name} (made 2026-05-01T09:30:00Z by yakuba")
    assert markers(config.store.path) == ["before the backup"]


async def test_encrypted_backup_and_a_wrong_key(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YAKUBA_BACKUP_KEY", "the key IT keeps in its safe")
    archive = tmp_path / "nightly.tar.gz.enc"
    code, out, err = await _run(
        config, "backup", "-c", "x", "-o", str(archive), "--key-env", "YAKUBA_BACKUP_KEY"
    )
    assert (code, err) == (0, "")
    assert ", encrypted)" in out

    before = tree(config.data_dir)
    wrong = tmp_path / "wrong.key"
    wrong.write_text("some other key of enough length\n")
    code, out, err = await _run(
        config, "restore", "-c", "x", str(archive), "--key-file", str(wrong), "--force"
    )
    assert code == 1 and out == ""
    assert err == (
        f"yakuba restore: the archive key is wrong (or the archive was changed): {archive}"
        f" does not open with the key from the file {wrong}\n"
    )
    code, out, err = await _run(config, "restore", "-c", "x", str(archive), "--force")
    assert code == 1
    assert err == (
        f"yakuba restore: {archive} is encrypted: give its key with --key-file PATH or"
        " --key-env NAME\n"
    )
    assert tree(config.data_dir) == before

    code, out, err = await _run(
        config, "restore", "-c", "x", str(archive), "--key-env", "YAKUBA_BACKUP_KEY", "--force"
    )
    assert (code, err) == (0, "")
    kept = config.data_dir.with_name("data.before-restore-20260501T093000Z")
    assert out.endswith(f"\nthe data found in place is kept in {kept}\n")


async def test_key_problems_and_usage(config: Config, tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text("short")
    code, _, err = await _run(config, "backup", "-c", "x", "--key-file", str(short))
    assert code == 1
    assert err.startswith(f"yakuba backup: the archive key in the file {short} is 5 bytes long")
    assert not list(tmp_path.glob("*.tar.gz*"))
    with pytest.raises(SystemExit) as exited:
        _parse("backup", "-c", "x", "--key-file", "k", "--key-env", "K")
    assert exited.value.code == 2


async def test_restore_of_a_missing_file(config: Config, tmp_path: Path) -> None:
    code, _, err = await _run(config, "restore", "-c", "x", str(tmp_path / "nope.tar.gz"))
    assert code == 1
    assert err.startswith(f"yakuba restore: cannot read {tmp_path / 'nope.tar.gz'}: ")
