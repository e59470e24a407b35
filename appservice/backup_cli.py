"""`yakuba backup` and `yakuba restore`: one archive of yakuba's data, and back.

yakuba backup -c FILE [-o ARCHIVE] [--key-file PATH | --key-env NAME] [--no-store]
yakuba restore -c FILE ARCHIVE [--key-file PATH | --key-env NAME] [--force]

`backup` runs beside a running yakuba (consistent copies, see bots.backup.snapshot).
`restore` wants yakuba stopped; it refuses to replace data unless --force, and then
keeps that data aside. Exit status 0 on success, 1 when refused or failed (the message
names the file and says why; nothing was written or changed), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bots.backup import (
    ArchiveError,
    ArchiveKey,
    BackupError,
    KeyProblem,
    RestoreError,
    create_backup,
    restore_backup,
)
from bots.backup.snapshot import default_name
from bots.config import Config

__all__ = ["COMMANDS", "add_parser", "run"]

COMMANDS = ("backup", "restore")

_SECRETS_WARNING = (
    "warning: {path} is not encrypted and holds secrets (the bots' access tokens, their"
    " E2EE stores and cross-signing keys, sealed only with the pickle keys, and the"
    " appservice tokens): it was written readable by its owner only (0600); keep it so,"
    " or give an archive key with --key-file or --key-env"
)


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    backup = sub.add_parser(
        "backup", help="write one archive of the store, the bots' keys and the appservice tokens"
    )
    _config(backup)
    backup.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="the archive to write (default: yakuba-backup-SERVER-TIME.tar.gz[.enc] here);"
        " never overwritten",
    )
    _key(backup, "encrypt the archive with this key (AES-256-GCM)")
    backup.add_argument(
        "--no-store",
        action="store_true",
        help="leave the store out (back it up yourself, e.g. with pg_dump)",
    )

    restore = sub.add_parser("restore", help="restore an archive of `yakuba backup`")
    _config(restore)
    restore.add_argument("archive", type=Path, help="the archive to restore")
    _key(restore, "the key the archive was encrypted with")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace yakuba's data if present (it is kept, moved aside; stop yakuba first)",
    )


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, type=Path, help="the YAML config file")


def _key(parser: argparse.ArgumentParser, text: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--key-file", type=Path, metavar="PATH", help=f"{text}: read from PATH")
    group.add_argument(
        "--key-env", metavar="NAME", help=f"{text}: read from the environment variable NAME"
    )


def archive_key(args: argparse.Namespace) -> ArchiveKey | None:
    """The archive key the arguments name (KeyProblem if it cannot be read)."""
    if args.key_file is not None:
        return ArchiveKey.from_file(args.key_file)
    if args.key_env is not None:
        return ArchiveKey.from_env(args.key_env)
    return None


async def run(
    args: argparse.Namespace,
    config: Config,
    now: Callable[[], datetime] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run `backup` or `restore`; 0 on success, 1 when refused or failed."""
    clock = now if now is not None else (lambda: datetime.now(UTC))
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    try:
        key = archive_key(args)
        if args.command == "backup":
            return await _backup(args, config, key, clock, stdout, stderr)
        if args.command == "restore":
            return await _restore(args, config, key, clock, stdout, stderr)
    except (KeyProblem, BackupError, ArchiveError, RestoreError) as exc:
        print(f"yakuba {args.command}: {exc}", file=stderr)
        return 1
    raise ValueError(f"unknown command {args.command!r}")  # add_parser defines the choices


async def _backup(
    args: argparse.Namespace,
    config: Config,
    key: ArchiveKey | None,
    clock: Callable[[], datetime],
    out: TextIO,
    err: TextIO,
) -> int:
    output = args.output or Path(default_name(config, clock(), key is not None))
    result = await create_backup(config, output, key, include_store=not args.no_store, now=clock)
    manifest = result.manifest
    store = (
        f"{manifest.store} store at schema version {manifest.schema_version}"
        if manifest.store
        else "no store (--no-store)"
    )
    print(
        f"wrote {result.path} ({result.size} bytes{', encrypted' if result.encrypted else ''}):"
        f" {store}, {len(manifest.members)} files, bots {', '.join(sorted(manifest.bots)) or '-'}",
        file=out,
    )
    if key is None:
        print(_SECRETS_WARNING.format(path=result.path), file=err)
    return 0


async def _restore(
    args: argparse.Namespace,
    config: Config,
    key: ArchiveKey | None,
    clock: Callable[[], datetime],
    out: TextIO,
    err: TextIO,
) -> int:
    result = await restore_backup(config, args.archive, key, force=args.force, now=clock)
    manifest = result.manifest
    for warning in result.warnings:
        print(f"warning: {warning}", file=err)
    print(
        f"restored {args.archive} (made {manifest.created_at} by yakuba"
        f" {manifest.yakuba_version} for {manifest.server_name}) into {config.data_dir}",
        file=out,
    )
    # DATA_DIR.before-restore-STAMP/{bots,appservice,yakuba.db}: name the folder once
    kept = [p.parent if "before-restore-" in p.parent.name else p for p in result.aside]
    for path in dict.fromkeys(kept):
        print(f"the data found in place is kept in {path}", file=out)
    if result.aside_schema:
        print(
            f"the store's tables found in place are kept in schema {result.aside_schema}", file=out
        )
    return 0
