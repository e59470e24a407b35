"""The backup archive: one file, a gzip-compressed tar with a manifest first.

    yakuba-backup.json            the manifest (below)
    store/yakuba.sqlite           the SQLite store (a consistent copy), or
    store/postgresql.jsonl        the PostgreSQL store's tables (bots.backup.pgdump)
    data/bots/NAME/e2ee/...       each bot's E2EE store (matrix-nio's SQLite file and
                                  trust lists)
    data/bots/NAME/cross_signing.keys
    data/appservice/tokens.json, registration.yaml

The manifest holds the format and its version, the yakuba version, when and for which
server it was made, the store's type and schema version, each bot's account and device,
and every other member's size and SHA-256. Reading an archive checks all of it (and
gzip's CRC of the whole), so a foreign file, a damaged one and a good one are told apart.
With a key the whole file is sealed (bots.backup.sealing). Nothing here touches yakuba's
data: files are read from and written to the folders the caller names.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

from bots.backup.sealing import (
    MAGIC,
    ArchiveKey,
    OpeningReader,
    SealError,
    SealingWriter,
    WrongKey,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "ArchiveError",
    "BotIdentity",
    "Manifest",
    "Member",
    "hash_file",
    "is_sealed",
    "private_dirs",
    "read_archive",
    "write_archive",
]

FORMAT = "yakuba-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "yakuba-backup.json"
STORE_MEMBERS = {"sqlite": "store/yakuba.sqlite", "postgresql": "store/postgresql.jsonl"}
_TOP = ("store", "data")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 1 << 16


class ArchiveError(Exception):
    """An archive that cannot be used; the message names the file and says why."""


@dataclass(frozen=True)
class Member:
    name: str  # a relative POSIX path under store/ or data/
    size: int
    sha256: str


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    device_id: str


@dataclass(frozen=True)
class Manifest:
    yakuba_version: str
    created_at: str  # ISO 8601, UTC
    server_name: str
    #: "sqlite", "postgresql", or None when the store was left out (--no-store)
    store: str | None
    #: the store's schema version (None without a store)
    schema_version: int | None
    bots: Mapping[str, BotIdentity] = field(default_factory=dict)
    members: tuple[Member, ...] = ()

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "yakuba_version": self.yakuba_version,
                "created_at": self.created_at,
                "server_name": self.server_name,
                "store": self.store,
                "schema_version": self.schema_version,
                "bots": {
                    name: {"user_id": bot.user_id, "device_id": bot.device_id}
                    for name, bot in sorted(self.bots.items())
                },
                "members": [
                    {"name": m.name, "size": m.size, "sha256": m.sha256} for m in self.members
                ],
            },
            indent=2,
            ensure_ascii=False,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """The manifest in `data`; ValueError saying what is wrong."""
        try:
            raw = json.loads(data)
        except ValueError:
            raise ValueError("its manifest is not JSON") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"its manifest is not a {FORMAT} manifest")
        version = raw.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"its manifest has no valid format_version ({version!r})")
        if version > FORMAT_VERSION:
            raise ValueError(
                f"it was written by a newer yakuba ({raw.get('yakuba_version')}, backup format"
                f" {version}); this yakuba reads format {FORMAT_VERSION}"
            )
        try:
            store = raw["store"]
            if store is not None and store not in STORE_MEMBERS:
                raise ValueError(f"unknown store type {store!r}")
            schema = raw["schema_version"]
            if (store is None) != (schema is None) or not (schema is None or _is_int(schema)):
                raise ValueError(f"bad schema_version {schema!r}")
            members = tuple(_member(m) for m in raw["members"])
            bots = {
                _text(name): BotIdentity(_text(bot["user_id"]), _text(bot["device_id"]))
                for name, bot in raw["bots"].items()
            }
            manifest = cls(
                yakuba_version=_text(raw["yakuba_version"]),
                created_at=_text(raw["created_at"]),
                server_name=_text(raw["server_name"]),
                store=store,
                schema_version=schema,
                bots=bots,
                members=members,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"its manifest is incomplete ({exc.__class__.__name__}: {exc})"
            ) from None
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise ValueError("its manifest lists a member twice")
        if store is not None and STORE_MEMBERS[store] not in names:
            raise ValueError(f"its manifest lists no {STORE_MEMBERS[store]}")
        return manifest

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _member(raw: Any) -> Member:
    name, size, digest = raw["name"], raw["size"], raw["sha256"]
    if not isinstance(name, str) or not safe_name(name):
        raise ValueError(f"its manifest lists an unsafe member name {name!r}")
    if (
        not _is_int(size)
        or size < 0
        or not isinstance(digest, str)
        or not _SHA256.fullmatch(digest)
    ):
        raise ValueError(f"its manifest has a bad size or SHA-256 for {name}")
    return Member(name, size, digest)


def safe_name(name: str) -> bool:
    """A member name that stays inside the folder it is extracted to."""
    path = PurePosixPath(name)
    return (
        not path.is_absolute()
        and "\\" not in name
        and "\x00" not in name
        and len(path.parts) >= 2
        and path.parts[0] in _TOP
        and all(part not in ("", ".", "..") for part in path.parts)
        and str(path) == name
    )


def hash_file(path: Path) -> Member:
    """Size and SHA-256 of a file (the member name is filled in by the caller)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return Member("", size, digest.hexdigest())


def is_sealed(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


# --------------------------------------------------------------------------- writing


def write_archive(
    output: Path, manifest: Manifest, files: Mapping[str, Path], key: ArchiveKey | None
) -> None:
    """Write the archive to `output` (0600): next to it first, renamed into place when
    complete, so a failure leaves no half archive. `files` maps member names to the
    files that hold them; the manifest must list each with its checksum."""
    listed = {m.name for m in manifest.members}
    if listed != set(files):
        raise ValueError(f"the manifest lists {sorted(listed)}, the files are {sorted(files)}")
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            sink: BinaryIO | SealingWriter = raw
            if key is not None:
                sink = SealingWriter(raw, key)
            with (
                gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) as gz,
                tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
            ):
                manifest_bytes = manifest.to_json()
                tar.addfile(_info(MANIFEST_NAME, len(manifest_bytes)), io.BytesIO(manifest_bytes))
                for member in manifest.members:
                    with files[member.name].open("rb") as fh:
                        tar.addfile(_info(member.name, member.size), fh)
            if isinstance(sink, SealingWriter):
                sink.close()
            raw.flush()
            os.fsync(raw.fileno())
        _place(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def _place(partial: Path, output: Path) -> None:
    """Give the finished archive its name, never replacing a file of that name."""
    try:
        os.link(partial, output)  # fails if `output` exists
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if output.exists():
            raise FileExistsError(output) from None
        os.rename(partial, output)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    return info


# --------------------------------------------------------------------------- reading


def read_archive(path: Path, key: ArchiveKey | None, into: Path) -> Manifest:
    """Check the archive at `path` and extract its members into the folder `into`
    (which must exist and be empty). Raises ArchiveError naming `path`; whatever was
    extracted before an error is the caller's to remove (`into` is a staging folder)."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
    with raw:
        head = raw.read(len(MAGIC))
        raw.seek(0)
        source: IO[bytes]
        if head == MAGIC:
            if key is None:
                raise ArchiveError(
                    f"{path} is encrypted: give its key with --key-file PATH or --key-env NAME"
                )
            try:
                source = OpeningReader(raw, key)  # type: ignore[assignment]
            except WrongKey:
                raise ArchiveError(
                    f"the archive key is wrong (or the archive was changed): {path}"
                    f" does not open with the key from {key.source}"
                ) from None
            except SealError as exc:
                raise ArchiveError(f"{path} is damaged: {exc}") from None
        elif head.startswith(_GZIP_MAGIC):
            source = raw
        else:
            raise ArchiveError(
                f"{path} is not a yakuba backup archive (neither a gzip file nor an"
                " encrypted yakuba archive)"
            )
        try:
            return _extract(path, source, into)
        except SealError as exc:
            raise ArchiveError(f"{path} is damaged or was changed: {exc}") from None
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ArchiveError(
                f"{path} is damaged (cut short or changed): {exc or exc.__class__.__name__}"
            ) from None


def _extract(path: Path, source: IO[bytes], into: Path) -> Manifest:
    with gzip.GzipFile(fileobj=source, mode="rb") as gz:
        with _open_tar(path, gz) as tar:
            manifest = _extract_members(path, tar, into)
        # read to the end: gzip checks its CRC and length of the whole there
        while gz.read(_BLOCK):
            pass
    return manifest


def _open_tar(path: Path, gz: gzip.GzipFile) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=gz, mode="r|")
    except tarfile.ReadError:
        raise ArchiveError(
            f"{path} is not a yakuba backup archive (a gzip file, but no tar archive in it),"
            " or it is damaged at its start"
        ) from None


def _extract_members(path: Path, tar: tarfile.TarFile, into: Path) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise ArchiveError(
            f"{path} is not a yakuba backup archive: it does not start with {MANIFEST_NAME}"
        )
    if first.size > 1 << 24:
        raise ArchiveError(f"{path}: its manifest is implausibly large ({first.size} bytes)")
    manifest_file = tar.extractfile(first)
    assert manifest_file is not None  # a regular file
    try:
        manifest = Manifest.from_json(manifest_file.read())
    except ValueError as exc:
        raise ArchiveError(f"{path} cannot be restored: {exc}") from None
    seen: set[str] = set()
    # not `for info in tar`: in stream mode that starts again from the first member
    while (info := tar.next()) is not None:
        expected = manifest.member(info.name)
        if expected is None or not info.isfile():
            raise ArchiveError(
                f"{path} is damaged or not yakuba's: it holds {info.name!r}, which its"
                " manifest does not list"
            )
        if info.name in seen:
            raise ArchiveError(f"{path} is damaged: it holds {info.name!r} twice")
        seen.add(info.name)
        if info.size != expected.size:
            raise ArchiveError(
                f"{path} is damaged: {info.name} is {info.size} bytes, its manifest"
                f" says {expected.size}"
            )
        member_file = tar.extractfile(info)
        assert member_file is not None
        _write_checked(path, member_file, into / expected.name, expected)
    missing = [m.name for m in manifest.members if m.name not in seen]
    if missing:
        raise ArchiveError(f"{path} is damaged (cut short?): {', '.join(missing)} missing")
    return manifest


def private_dirs(path: Path) -> None:
    """Make the folder `path` and its missing parents, each readable by its owner only
    (`mkdir(parents=True)` gives the parents the default mode)."""
    if path.is_dir():
        return
    private_dirs(path.parent)
    path.mkdir(mode=0o700)


def _write_checked(path: Path, data: IO[bytes], target: Path, expected: Member) -> None:
    private_dirs(target.parent)
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while block := data.read(_BLOCK):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != expected.sha256:
        raise ArchiveError(
            f"{path} is damaged: the SHA-256 of {expected.name} does not match its manifest"
        )
