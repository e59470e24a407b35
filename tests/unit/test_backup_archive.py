"""The backup archive format: manifest, checksums, sealing; foreign, damaged and cut-short
archives and wrong keys are told apart, each with a message naming the file."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from bots.backup.archive import (
    MANIFEST_NAME,
    ArchiveError,
    BotIdentity,
    Manifest,
    Member,
    hash_file,
    is_sealed,
    read_archive,
    safe_name,
    write_archive,
)
from bots.backup.sealing import (
    MAGIC,
    ArchiveKey,
    KeyProblem,
    OpeningReader,
    SealedDamaged,
    SealingWriter,
    WrongKey,
)

KEY = ArchiveKey(b"correct horse battery staple", "the test key")
OTHER_KEY = ArchiveKey(b"incorrect horse battery staple", "another key")


def _files(tmp: Path) -> dict[str, Path]:
    source = tmp / "source"
    source.mkdir()
    contents = {
        "store/yakuba.sqlite": b"SQLite format 3\x00" + os.urandom(3000),
        "data/bots/tasks/cross_signing.keys": b'{"version": 1}',
        "data/bots/tasks/e2ee/@tasks:city_DEV.db": os.urandom(100_000),
        "data/appservice/tokens.json": b"{}",
    }
    files = {}
    for name, data in contents.items():
        path = source / name.replace("/", "_")
        path.write_bytes(data)
        files[name] = path
    return files


def _manifest(files: dict[str, Path], **changes: object) -> Manifest:
    members = tuple(
        Member(name, hash_file(path).size, hash_file(path).sha256)
        for name, path in sorted(files.items())
    )
    fields: dict[str, object] = {
        "yakuba_version": "0.1.0",
        "created_at": "2026-05-01T00:00:00Z",
        "server_name": "city.example.jp",
        "store": "sqlite",
        "schema_version": 9,
        "bots": {"tasks": BotIdentity("@tasks:city.example.jp", "DEV")},
        "members": members,
    }
    fields.update(changes)
    return Manifest(**fields)  # type: ignore[arg-type]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return _files(tmp_path)


def _archive(tmp: Path, files: dict[str, Path], key: ArchiveKey | None = None) -> Path:
    path = tmp / ("backup.tar.gz.enc" if key else "backup.tar.gz")
    write_archive(path, _manifest(files), files, key)
    return path


def _read(path: Path, tmp: Path, key: ArchiveKey | None = None) -> Manifest:
    into = tmp / "into"
    into.mkdir(exist_ok=True)
    return read_archive(path, key, into)


# --- a good archive ------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
def test_round_trip_gives_the_same_files_and_manifest(
    tmp_path: Path, files: dict[str, Path], key: ArchiveKey | None
) -> None:
    path = _archive(tmp_path, files, key)
    assert path.stat().st_mode & 0o777 == 0o600
    assert is_sealed(path) == (key is not None)
    manifest = _read(path, tmp_path, key)
    assert manifest == _manifest(files)
    for name, source in files.items():
        assert (tmp_path / "into" / name).read_bytes() == source.read_bytes()
        assert (tmp_path / "into" / name).stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial


def test_the_manifest_comes_first_and_says_what_it_is(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    path = _archive(tmp_path, files)
    with tarfile.open(path, "r:gz") as tar:
        names = tar.getnames()
        manifest_file = tar.extractfile(MANIFEST_NAME)
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
    assert names[0] == MANIFEST_NAME
    assert sorted(names[1:]) == sorted(files)
    assert manifest["format"] == "yakuba-backup" and manifest["format_version"] == 1
    assert manifest["server_name"] == "city.example.jp"
    assert manifest["schema_version"] == 9 and manifest["store"] == "sqlite"
    assert manifest["yakuba_version"] == "0.1.0"
    assert manifest["created_at"] == "2026-05-01T00:00:00Z"
    tokens = next(m for m in manifest["members"] if m["name"] == "data/appservice/tokens.json")
    assert tokens == {"name": "data/appservice/tokens.json", "size": 2, "sha256": tokens["sha256"]}
    assert len(tokens["sha256"]) == 64


def test_an_existing_file_is_never_overwritten(tmp_path: Path, files: dict[str, Path]) -> None:
    path = tmp_path / "backup.tar.gz"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        write_archive(path, _manifest(files), files, None)
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.tar.gz", "source"]


# --- foreign files -------------------------------------------------------------------


def test_a_file_that_is_not_an_archive_is_foreign(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the files you are looking for")
    with pytest.raises(ArchiveError, match=rf"{path} is not a yakuba backup archive"):
        _read(path, tmp_path)


def test_a_gzip_of_something_else_is_foreign(tmp_path: Path) -> None:
    path = tmp_path / "log.gz"
    path.write_bytes(gzip.compress(b"2026-05-01 INFO started\n" * 100))
    with pytest.raises(ArchiveError, match=rf"{path} is not a yakuba backup archive"):
        _read(path, tmp_path)


def test_a_tar_without_our_manifest_is_foreign(tmp_path: Path) -> None:
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("etc/hosts")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(
        ArchiveError, match=rf"{path} is not a yakuba backup archive: it does not start with"
    ):
        _read(path, tmp_path)


def test_a_manifest_of_another_format_is_foreign(tmp_path: Path) -> None:
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = json.dumps({"format": "something-else", "format_version": 1}).encode()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ArchiveError, match="not a yakuba-backup manifest"):
        _read(path, tmp_path)


def test_a_newer_format_is_refused_naming_the_version(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    manifest = json.loads(_manifest(files).to_json())
    manifest["format_version"] = 2
    manifest["yakuba_version"] = "9.0.0"
    with pytest.raises(ValueError, match=r"newer yakuba \(9\.0\.0, backup format 2\)"):
        Manifest.from_json(json.dumps(manifest).encode())


@pytest.mark.parametrize(
    "name",
    ["/etc/passwd", "data/../../etc/passwd", "data/./x", "other/x", "data", "data//x", "d\\x"],
)
def test_member_names_that_leave_the_folder_are_refused(name: str) -> None:
    assert not safe_name(name)
    raw = {
        "format": "yakuba-backup",
        "format_version": 1,
        "yakuba_version": "0.1.0",
        "created_at": "2026-05-01T00:00:00Z",
        "server_name": "city.example.jp",
        "store": None,
        "schema_version": None,
        "bots": {},
        "members": [{"name": name, "size": 1, "sha256": "0" * 64}],
    }
    with pytest.raises(ValueError, match="unsafe member name"):
        Manifest.from_json(json.dumps(raw).encode())


def test_good_member_names() -> None:
    assert safe_name("data/bots/tasks/e2ee/@tasks:city.example.jp_ABCDEF.db")
    assert safe_name("store/yakuba.sqlite")


# --- damaged archives ----------------------------------------------------------------


def test_a_cut_short_archive_is_damaged(tmp_path: Path, files: dict[str, Path]) -> None:
    path = _archive(tmp_path, files)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 4):
        path.write_bytes(data[:cut])
        into = tmp_path / f"into-{cut}"
        into.mkdir()
        with pytest.raises(ArchiveError, match=rf"{path} is damaged"):
            read_archive(path, None, into)


def test_a_changed_byte_is_found(tmp_path: Path, files: dict[str, Path]) -> None:
    path = _archive(tmp_path, files)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=rf"{path} is damaged"):
        _read(path, tmp_path)


def test_a_member_that_does_not_match_its_checksum_is_found(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    manifest = _manifest(files)
    tokens = next(m for m in manifest.members if m.name == "data/appservice/tokens.json")
    wrong = Member(tokens.name, tokens.size, "0" * 64)
    forged = Manifest(
        **{
            **manifest.__dict__,
            "members": tuple(wrong if m is tokens else m for m in manifest.members),
        }
    )
    path = tmp_path / "forged.tar.gz"
    write_archive(path, forged, files, None)
    with pytest.raises(
        ArchiveError, match=r"damaged: the SHA-256 of data/appservice/tokens.json does not match"
    ):
        _read(path, tmp_path)


def test_a_member_missing_from_the_tar_is_found(tmp_path: Path, files: dict[str, Path]) -> None:
    path = tmp_path / "short.tar.gz"
    manifest = _manifest(files)
    with tarfile.open(path, "w:gz") as tar:
        data = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        name = "store/yakuba.sqlite"
        tar.add(files[name], arcname=name)
    with pytest.raises(ArchiveError, match=r"damaged \(cut short\?\): data/appservice/tokens"):
        _read(path, tmp_path)


def test_a_member_the_manifest_does_not_list_is_refused(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    path = tmp_path / "extra.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = _manifest(files).to_json()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(files["store/yakuba.sqlite"], arcname="data/bots/evil/cross_signing.keys")
    with pytest.raises(ArchiveError, match=r"'data/bots/evil/cross_signing\.keys', which its"):
        _read(path, tmp_path)


# --- encrypted archives --------------------------------------------------------------


def test_an_encrypted_archive_without_key_says_so(tmp_path: Path, files: dict[str, Path]) -> None:
    path = _archive(tmp_path, files, KEY)
    assert path.read_bytes().startswith(MAGIC)
    with pytest.raises(ArchiveError, match=rf"{path} is encrypted: give its key with --key-file"):
        _read(path, tmp_path)


def test_a_wrong_key_is_named_as_such(tmp_path: Path, files: dict[str, Path]) -> None:
    path = _archive(tmp_path, files, KEY)
    with pytest.raises(ArchiveError) as caught:
        _read(path, tmp_path, OTHER_KEY)
    message = str(caught.value)
    assert message.startswith("the archive key is wrong (or the archive was changed)")
    assert str(path) in message and "another key" in message
    assert list((tmp_path / "into").iterdir()) == []  # nothing extracted


def test_a_changed_encrypted_archive_is_found(tmp_path: Path, files: dict[str, Path]) -> None:
    path = _archive(tmp_path, files, KEY)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=rf"{path} is damaged or was changed: encrypted chunk"):
        _read(path, tmp_path, KEY)


def test_a_cut_short_encrypted_archive_is_found(tmp_path: Path, files: dict[str, Path]) -> None:
    path = _archive(tmp_path, files, KEY)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(ArchiveError, match=rf"{path} is damaged or was changed"):
        _read(path, tmp_path, KEY)


def _seal(data: bytes, chunk: int) -> bytes:
    raw = io.BytesIO()
    writer = SealingWriter(raw, KEY, chunk_size=chunk)
    writer.write(data)
    writer.close()
    return raw.getvalue()


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 64 * 3])
def test_sealing_round_trips_at_chunk_edges(size: int) -> None:
    data = os.urandom(size)
    reader = OpeningReader(io.BytesIO(_seal(data, 64)), KEY)
    assert reader.read(10) + reader.read() == data


def test_dropping_the_last_chunks_is_found() -> None:
    sealed = _seal(os.urandom(64 * 3), 64)
    header = len(sealed) - 3 * (64 + 16)  # three full chunks, the last one final
    for keep in (1, 2):
        reader = OpeningReader(io.BytesIO(sealed[: header + keep * (64 + 16)]), KEY)
        with pytest.raises(SealedDamaged, match="does not verify"):
            reader.read()


def test_swapping_chunks_is_found() -> None:
    sealed = _seal(os.urandom(64 * 2 + 10), 64)
    header = len(sealed) - 2 * (64 + 16) - (10 + 16)
    first = sealed[header : header + 80]
    second = sealed[header + 80 : header + 160]
    swapped = sealed[:header] + second + first + sealed[header + 160 :]
    with pytest.raises(SealedDamaged, match="chunk 1 does not verify"):
        OpeningReader(io.BytesIO(swapped), KEY).read()


def test_wrong_key_is_found_before_decrypting() -> None:
    with pytest.raises(WrongKey, match=r"the archive key \(another key\) is wrong"):
        OpeningReader(io.BytesIO(_seal(b"x", 64)), OTHER_KEY)


def test_a_hostile_header_cannot_ask_for_huge_scrypt_costs() -> None:
    sealed = _seal(b"x", 64)
    length = int.from_bytes(sealed[len(MAGIC) : len(MAGIC) + 2], "big")
    header = json.loads(sealed[len(MAGIC) + 2 : len(MAGIC) + 2 + length])
    header["kdf"]["n"] = 1 << 30
    body = json.dumps(header).encode()
    forged = MAGIC + len(body).to_bytes(2, "big") + body
    with pytest.raises(SealedDamaged, match="out of range"):
        OpeningReader(io.BytesIO(forged), KEY)


# --- keys ------------------------------------------------------------------------------


def test_key_from_file_is_stripped_and_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "backup.key"
    path.write_text("a passphrase of some length\n")
    key = ArchiveKey.from_file(path)
    assert "passphrase" not in repr(key)
    assert key.derive(b"s" * 16, 1 << 4, 8, 1) == ArchiveKey(
        b"a passphrase of some length", "x"
    ).derive(b"s" * 16, 1 << 4, 8, 1)


def test_key_problems_are_clear(tmp_path: Path) -> None:
    with pytest.raises(KeyProblem, match=rf"cannot read the archive key file {tmp_path}/nope"):
        ArchiveKey.from_file(tmp_path / "nope")
    short = tmp_path / "short.key"
    short.write_text("tooshort")
    with pytest.raises(KeyProblem, match=rf"in the file {short} is 8 bytes long; it must be"):
        ArchiveKey.from_file(short)
    with pytest.raises(KeyProblem, match=r"YAKUBA_BACKUP_KEY .* is not set"):
        ArchiveKey.from_env("YAKUBA_BACKUP_KEY", {})
    assert ArchiveKey.from_env("K", {"K": "x" * 16}).source == "the environment variable K"
