"""`yakuba restore`: bring back an archive of `yakuba backup`, all of it or nothing.

1. The archive is extracted into a staging folder inside data_dir, and every member's
   size and SHA-256 checked against the manifest (bots.backup.archive).
2. It must fit the configuration: the same server_name, a store type and schema version
   this yakuba knows, and each bot's pickle key must open its sealed cross-signing keys
   (else the bot would come back with a new identity).
3. If yakuba's data is there already (data_dir/bots, data_dir/appservice, the store)
   the restore refuses, unless `force`: then that data is moved aside, never deleted,
   to DATA_DIR.before-restore-STAMP (or DATA_DIR/before-restore-STAMP when data_dir is
   a mount point, e.g. a container volume), a PostgreSQL store's tables to the schema
   yakuba_before_restore_STAMP.
4. The staged files are renamed into place (a PostgreSQL store is loaded in one
   transaction, committed only once the files are in place); a failure moves back
   whatever was moved. Files in data_dir that are not yakuba's are left alone.

Stop yakuba before restoring: it would keep writing to the data being replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bots.backup.archive import STORE_MEMBERS, Manifest, private_dirs, read_archive
from bots.backup.sealing import ArchiveKey
from bots.backup.snapshot import DATA_PARTS, BackupError, read_sqlite_snapshot
from bots.config import Config
from bots.matrix.crosssigning import SealedKeysError, unseal
from bots.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)

__all__ = ["RestoreError", "RestoreResult", "restore_backup"]

_SQLITE_SIDE = ("-wal", "-shm", "-journal")


class RestoreError(Exception):
    """The restore was refused or failed; nothing was changed."""


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    #: where the data found in place was moved (empty if there was none)
    aside: tuple[Path, ...] = ()
    #: the PostgreSQL schema the old tables were moved to
    aside_schema: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Swap:
    target: Path  # where yakuba reads it
    staged: Path | None  # the restored copy (None: the archive has none)
    aside: Path  # where what is at `target` now goes
    companions: tuple[str, ...] = ()  # suffixes of side files moved with the target


async def restore_backup(
    config: Config,
    archive: Path,
    key: ArchiveKey | None = None,
    *,
    force: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RestoreResult:
    """Restore `archive` into the configuration's data_dir and store. RestoreError (or
    ArchiveError for the archive itself) when refused; then nothing was changed."""
    stamp = now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    created, staging = await asyncio.to_thread(_staging_in, config.data_dir)
    try:
        return await _restore(config, archive, key, force, stamp, staging)
    finally:
        await asyncio.to_thread(_clean_up, staging, created)


def _staging_in(data_dir: Path) -> tuple[list[Path], Path]:
    """A private staging folder inside data_dir (made if missing: the folders made)."""
    created = _missing_dirs(data_dir)
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return created, Path(tempfile.mkdtemp(prefix=".yakuba-restore-", dir=data_dir))
    except OSError as exc:
        _remove_empty(created)
        raise RestoreError(
            f"cannot write into {data_dir} (data_dir): {exc.strerror or exc}"
        ) from None


def _clean_up(staging: Path, created: list[Path]) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    _remove_empty(created)  # only if the restore left them empty (it failed)


async def _restore(
    config: Config, archive: Path, key: ArchiveKey | None, force: bool, stamp: str, staging: Path
) -> RestoreResult:
    try:
        manifest = await asyncio.to_thread(read_archive, archive, key, staging)
    except OSError as exc:
        raise RestoreError(
            f"cannot unpack {archive} into {staging.parent}: {exc.strerror or exc}"
        ) from None
    warnings = await asyncio.to_thread(_check, config, manifest, archive, staging)
    load = None
    if manifest.store == "postgresql":
        from bots.backup.pgdump import LoadError, PostgresLoad  # psycopg only when used

        assert config.store.dsn is not None  # the configuration requires it
        try:
            load = await PostgresLoad.begin(config.store.dsn.get())
        except BackupError as exc:
            raise RestoreError(str(exc)) from None
    try:
        present = await asyncio.to_thread(_present, config, manifest)
        if load is not None and load.present is not None:
            present.append(f"{load.name} (schema version {load.present})")
        if present and not force:
            raise RestoreError(
                f"yakuba's data is present ({'; '.join(present)}): nothing was changed."
                " Stop yakuba and restore with --force to replace it (the present data is"
                " kept, moved aside)"
            )
        aside_schema = None
        if load is not None:
            latest = max(m.version for m in MIGRATIONS)
            if load.present is not None and load.present > latest:
                raise RestoreError(
                    f"{load.name} is at schema version {load.present}, newer than this yakuba"
                    f" ({latest}): restore with the newer yakuba"
                )
            if load.present is not None:
                aside_schema = f"yakuba_before_restore_{stamp.lower()}"
            try:
                await load.load(staging / STORE_MEMBERS["postgresql"], aside_schema)
            except LoadError as exc:
                raise RestoreError(f"{archive}: {exc}; nothing was changed") from None
        swaps: list[_Swap] = []
        try:
            await asyncio.to_thread(_plan, config, manifest, staging, stamp, swaps)
            done, aside = await asyncio.to_thread(_swap_all, swaps)
        except OSError as exc:
            raise RestoreError(
                f"cannot move the restored files into place: {exc}; whatever was moved was"
                " moved back, nothing was changed"
            ) from None
        finally:
            await asyncio.to_thread(_drop_copies, swaps, staging)
        if load is not None:
            try:
                await load.commit()
            except BaseException as exc:
                await asyncio.to_thread(_undo, done)
                if isinstance(exc, Exception):
                    raise RestoreError(
                        f"{load.name} could not commit the restored store ({exc}); the files"
                        " were moved back, nothing was changed"
                    ) from None
                raise
            finally:
                load = None
    finally:
        if load is not None:
            await load.rollback()
    for path in aside:
        log.info("The data found in place was moved to %s", path)
    return RestoreResult(manifest, tuple(aside), aside_schema, tuple(warnings))


# --------------------------------------------------------------------------- checks


def _check(config: Config, manifest: Manifest, archive: Path, staging: Path) -> list[str]:
    """What must hold before anything is replaced; warnings for what may be intended."""
    server_name = config.homeserver.server_name
    if manifest.server_name != server_name:
        raise RestoreError(
            f"{archive} is a backup of {manifest.server_name}, but the configuration is for"
            f" {server_name} (homeserver.server_name); nothing was changed"
        )
    warnings: list[str] = []
    if manifest.store is None:
        warnings.append(
            f"{archive} holds no store (made with --no-store): restore the store from its own"
            " backup (e.g. pg_restore) before starting yakuba"
        )
    elif manifest.store != config.store.type:
        raise RestoreError(
            f"{archive} holds a {manifest.store} store, but the configuration's store is"
            f" {config.store.type} (store.type); nothing was changed"
        )
    latest = max(m.version for m in MIGRATIONS)
    if manifest.schema_version is not None and manifest.schema_version > latest:
        raise RestoreError(
            f"{archive} was made by yakuba {manifest.yakuba_version} with store schema version"
            f" {manifest.schema_version}; this yakuba knows up to {latest}: restore it with"
            f" yakuba {manifest.yakuba_version} or newer"
        )
    if manifest.store == "sqlite":
        copy = staging / STORE_MEMBERS["sqlite"]
        try:
            found = read_sqlite_snapshot(copy, f"the store in {archive}").schema_version
        except BackupError as exc:
            raise RestoreError(str(exc)) from None
        if found != manifest.schema_version:
            raise RestoreError(f"{archive} is damaged: its store is not at its manifest's version")
    in_archive = _bots_in(manifest)
    for name in sorted(in_archive):
        if name not in config.bots:
            warnings.append(f"bot {name} is in the archive but not in the configuration")
            continue
        bot = config.bots[name]
        identity = manifest.bots.get(name)
        if identity is not None and identity.user_id != bot.user_id:
            raise RestoreError(
                f"bot {name} is {identity.user_id} in {archive} but {bot.user_id} in the"
                f" configuration (bots.{name}.user_id); nothing was changed"
            )
        keys = staging / "data" / "bots" / name / "cross_signing.keys"
        if keys.exists():
            try:
                unseal(keys.read_bytes(), bot.pickle_key.get())
            except SealedKeysError:
                raise RestoreError(
                    f"bot {name}: its pickle key (bots.{name}.pickle_key) does not open the"
                    f" cross-signing keys in {archive}; restore with the pickle keys the backup"
                    " was made with. Nothing was changed"
                ) from None
    for name in sorted(set(config.bots) - in_archive):
        warnings.append(
            f"bot {name} has no keys in the archive: it will start as a new device and identity"
        )
    return warnings


def _bots_in(manifest: Manifest) -> set[str]:
    names = set(manifest.bots)
    for member in manifest.members:
        parts = member.name.split("/")
        if parts[:2] == ["data", "bots"] and len(parts) > 3:
            names.add(parts[2])
    return names


def _present(config: Config, manifest: Manifest) -> list[str]:
    """yakuba's data found where the restore would put it."""
    found = []
    for part in DATA_PARTS:
        path = config.data_dir / part
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            found.append(str(path))
    if manifest.store == "sqlite":
        store = config.store.path
        if any(Path(f"{store}{s}").exists() for s in ("", *_SQLITE_SIDE)):
            found.append(str(store))
    return found


# --------------------------------------------------------------------------- moving


def _plan(
    config: Config, manifest: Manifest, staging: Path, stamp: str, swaps: list[_Swap]
) -> None:
    """Fill `swaps` with what goes where (filled as it goes: the caller cleans up)."""
    data_dir = config.data_dir
    aside_root = _aside_root(data_dir, stamp)
    for part in DATA_PARTS:
        staged = staging / "data" / part
        swaps.append(_Swap(data_dir / part, staged if staged.exists() else None, aside_root / part))
    if manifest.store == "sqlite":
        store = config.store.path
        staged = staging / STORE_MEMBERS["sqlite"]
        if store.parent.resolve().is_relative_to(data_dir.resolve()):
            aside = aside_root / store.resolve().relative_to(data_dir.resolve())
        else:
            aside = store.with_name(f"{store.name}.before-restore-{stamp}")
        if not _same_device(staged, store.parent):
            swaps.append(_Swap(store, None, aside))  # (cleaned up if the copy fails)
            staged = _copy_beside(staged, store)
            swaps.pop()
        swaps.append(_Swap(store, staged, aside, _SQLITE_SIDE))


def _drop_copies(swaps: list[_Swap], staging: Path) -> None:
    """Remove staged copies made outside the staging folder that were not moved into
    place (the restore failed)."""
    for swap in swaps:
        if swap.staged is not None and not swap.staged.is_relative_to(staging):
            swap.staged.unlink(missing_ok=True)


def _aside_root(data_dir: Path, stamp: str) -> Path:
    """DATA_DIR.before-restore-STAMP beside data_dir, or inside it when the folder
    beside it is on another file system or not writable (data_dir is a mount point)."""
    sibling = data_dir.with_name(f"{data_dir.name}.before-restore-{stamp}")
    parent = data_dir.parent
    if os.access(parent, os.W_OK) and _same_device(data_dir, parent):
        return sibling
    return data_dir / f"before-restore-{stamp}"


def _same_device(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == _existing(b).stat().st_dev
    except OSError:
        return False


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _copy_beside(staged: Path, store: Path) -> Path:
    """The staged store copied next to where it goes (a rename cannot cross file systems)."""
    private_dirs(store.parent)
    fd, name = tempfile.mkstemp(prefix=f".{store.name}.restore-", dir=store.parent)
    with os.fdopen(fd, "wb") as out, staged.open("rb") as src:
        shutil.copyfileobj(src, out)
    return Path(name)


def _swap_all(swaps: list[_Swap]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Move each target aside and its staged copy into place; on failure move everything
    back and raise. Returns the renames done (from, to) and where old data went."""
    done: list[tuple[Path, Path]] = []
    moved_aside: list[Path] = []
    try:
        for swap in swaps:
            for suffix in ("", *swap.companions):
                current = Path(f"{swap.target}{suffix}")
                if current.exists() or current.is_symlink():
                    aside = Path(f"{swap.aside}{suffix}")
                    private_dirs(aside.parent)
                    _rename(current, aside, done)
                    moved_aside.append(aside)
            if swap.staged is not None:
                private_dirs(swap.target.parent)
                _rename(swap.staged, swap.target, done)
    except OSError:
        _undo(done)
        raise
    return done, moved_aside


def _rename(source: Path, target: Path, done: list[tuple[Path, Path]]) -> None:
    if target.exists():
        raise FileExistsError(f"{target} exists")
    os.rename(source, target)
    done.append((source, target))


def _undo(done: list[tuple[Path, Path]]) -> None:
    for source, target in reversed(done):
        try:
            os.rename(target, source)
        except OSError:
            log.exception("Could not move %s back to %s", target, source)


def _missing_dirs(path: Path) -> list[Path]:
    """`path` and those of its parents that do not exist, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _remove_empty(dirs: list[Path]) -> None:
    for path in dirs:
        with contextlib.suppress(OSError):
            path.rmdir()  # only if empty
