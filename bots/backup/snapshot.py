"""`yakuba backup`: consistent copies of yakuba's data while it runs, in one archive.

What yakuba writes, and what a backup holds:

- the store (`store.path`, SQLite; or the PostgreSQL database `store.dsn` names): tasks,
  announcements, alerts, roll calls, the send ledger and outboxes, and each bot's access
  token, device id and sync position (`bot_sessions`). Copied with SQLite's online
  backup API on a connection of its own (a consistent snapshot; yakuba keeps writing
  meanwhile, WAL mode), or dumped in one REPEATABLE READ transaction (bots.backup.pgdump).
- `data_dir/bots/NAME/e2ee/`: matrix-nio's crypto store (`USER_DEVICE.db`, SQLite, the
  Olm account and Megolm sessions pickled with the bot's pickle key, copied with the
  backup API too) and its plain-text trust lists.
- `data_dir/bots/NAME/cross_signing.keys`: the sealed cross-signing private keys.
- `data_dir/appservice/`: `tokens.json` (as_token, hs_token) and `registration.yaml`.

Not in the archive: SQLite's `-wal`/`-shm`/`-journal` side files (the copies are whole),
half-written `*.tmp` files, anything else in data_dir, and the configuration with its
secrets (bot passwords and pickle keys): IT keeps those with the configuration, and a
restore needs the same pickle keys to open the bots' keys.

The store is copied first and the bots' files after it, so the E2EE stores are at least
as new as the sync positions in the store: every message after those positions can be
decrypted again after a restore.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bots.backup.archive import (
    STORE_MEMBERS,
    BotIdentity,
    Manifest,
    Member,
    hash_file,
    private_dirs,
)
from bots.backup.archive import write_archive as _write_archive
from bots.backup.sealing import ArchiveKey
from bots.config import Config

log = logging.getLogger(__name__)

__all__ = [
    "BackupError",
    "BackupResult",
    "StoreSnapshot",
    "copy_sqlite",
    "create_backup",
    "default_name",
    "yakuba_version",
]

SQLITE_HEADER = b"SQLite format 3\x00"
#: what yakuba keeps in data_dir, relative to it
DATA_PARTS = ("bots", "appservice")
_SIDE_SUFFIXES = ("-wal", "-shm", "-journal", ".tmp")


class BackupError(Exception):
    """The backup cannot be made; the message names what and why. Nothing was written."""


@dataclass(frozen=True)
class StoreSnapshot:
    schema_version: int
    bots: dict[str, BotIdentity]


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    encrypted: bool

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def yakuba_version() -> str:
    try:
        return metadata.version("yakuba")
    except metadata.PackageNotFoundError:
        return "unknown"


def default_name(config: Config, now: datetime, encrypted: bool) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = ".tar.gz.enc" if encrypted else ".tar.gz"
    return f"yakuba-backup-{config.homeserver.server_name}-{stamp}{suffix}"


async def create_backup(
    config: Config,
    output: Path,
    key: ArchiveKey | None = None,
    *,
    include_store: bool = True,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BackupResult:
    """Write one archive of the store and data_dir's files to `output` (which must not
    exist), while yakuba may be running. Blocking work runs in threads."""
    started = now()
    staging = await asyncio.to_thread(_staging_for, output)
    try:
        files: dict[str, Path] = {}
        snapshot: StoreSnapshot | None = None
        if include_store:
            name = STORE_MEMBERS[config.store.type]
            target = staging / name
            target.parent.mkdir(mode=0o700)
            if config.store.type == "postgresql":
                from bots.backup.pgdump import dump_postgres  # psycopg only when used

                assert config.store.dsn is not None  # the configuration requires it
                snapshot = await dump_postgres(config.store.dsn.get(), target)
            else:
                snapshot = await asyncio.to_thread(
                    _snapshot_sqlite_store, config.store.path, target
                )
            files[name] = target
        files.update(await asyncio.to_thread(copy_data, config.data_dir, staging / "data"))
        members = await asyncio.to_thread(_hash_all, files)
        manifest = Manifest(
            yakuba_version=yakuba_version(),
            created_at=started.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            server_name=config.homeserver.server_name,
            store=config.store.type if include_store else None,
            schema_version=snapshot.schema_version if snapshot else None,
            bots=snapshot.bots if snapshot else {},
            members=members,
        )
        try:
            await asyncio.to_thread(_write_archive, output, manifest, files, key)
        except FileExistsError:
            raise BackupError(f"{output} was created meanwhile; nothing was written") from None
        except OSError as exc:
            raise BackupError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)
    log.info("Backup written to %s (%d files)", output, len(members))
    return BackupResult(output, manifest, key is not None)


def _staging_for(output: Path) -> Path:
    """A private folder beside `output` for the copies (they hold secrets: 0700)."""
    if output.exists() or output.is_symlink():
        raise BackupError(f"{output} exists already; choose another name (nothing was written)")
    if not output.parent.is_dir():
        raise BackupError(f"the folder {output.parent} does not exist (nothing was written)")
    try:
        return Path(tempfile.mkdtemp(prefix=".yakuba-backup-", dir=output.parent))
    except OSError as exc:
        raise BackupError(f"cannot write into {output.parent}: {exc.strerror or exc}") from None


def _hash_all(files: dict[str, Path]) -> tuple[Member, ...]:
    members = []
    for name in sorted(files):
        info = hash_file(files[name])
        members.append(Member(name, info.size, info.sha256))
    return tuple(members)


# --------------------------------------------------------------------------- SQLite


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of the live SQLite database `source` with SQLite's online backup
    API, on a connection of its own; the copy is one self-contained file (0600)."""
    target.touch(mode=0o600, exist_ok=False)
    # not `mode=ro`: a read-only connection cannot always read a WAL database
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # no -wal beside the copy
            (check,) = dst.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise BackupError(f"the copy of {source} fails SQLite's check: {check}")
        finally:
            dst.close()
    finally:
        src.close()


def _snapshot_sqlite_store(path: Path, target: Path) -> StoreSnapshot:
    if not path.is_file():
        raise BackupError(
            f"there is no store at {path} (store.path): nothing to back up, or the wrong"
            " configuration"
        )
    if not is_sqlite(path):
        raise BackupError(f"{path} (store.path) is not an SQLite database")
    try:
        copy_sqlite(path, target)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the store {path}: {exc}") from None
    return read_sqlite_snapshot(target, str(path))


def read_sqlite_snapshot(copy: Path, name: str) -> StoreSnapshot:
    """The schema version and the bots' devices in a copy of a yakuba store."""
    conn = sqlite3.connect(copy)
    try:
        try:
            (version,) = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            rows = conn.execute("SELECT bot, user_id, device_id FROM bot_sessions").fetchall()
        except sqlite3.Error:
            raise BackupError(f"{name} is not a yakuba store (no schema_version)") from None
    finally:
        conn.close()
    return StoreSnapshot(int(version or 0), {b: BotIdentity(u, d) for b, u, d in rows})


# --------------------------------------------------------------------------- data_dir


def copy_data(data_dir: Path, target: Path) -> dict[str, Path]:
    """Copy yakuba's files in data_dir (bots/, appservice/) into `target`: SQLite
    databases with the backup API, other files as they are. Returns member name → copy."""
    copied: dict[str, Path] = {}
    for part in DATA_PARTS:
        root = data_dir / part
        if not root.is_dir():
            continue
        for source in sorted(root.rglob("*")):
            if source.is_symlink() or not source.is_file():
                continue
            if source.name.endswith(_SIDE_SUFFIXES):
                continue
            relative = source.relative_to(data_dir).as_posix()
            copy = target / relative
            private_dirs(copy.parent)
            try:
                if is_sqlite(source):
                    copy_sqlite(source, copy)
                else:
                    _copy_file(source, copy)
            except FileNotFoundError:  # removed meanwhile (a replaced file's old name)
                with contextlib.suppress(FileNotFoundError):
                    copy.unlink()
                continue
            except (OSError, sqlite3.Error) as exc:
                raise BackupError(f"cannot copy {source}: {exc}") from None
            copied[f"data/{relative}"] = copy
    return copied


def _copy_file(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("xb") as dst:
        target.chmod(0o600)
        shutil.copyfileobj(src, dst)
