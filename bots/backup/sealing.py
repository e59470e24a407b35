"""Sealing a backup archive with a key IT gives: AES-256-GCM in chunks, key from scrypt.

A sealed archive is::

    MAGIC                      b"YAKUBA-BACKUP-AES-256-GCM\\n"
    header length              2 bytes, big-endian
    header                     JSON: format version, scrypt salt and cost, chunk size,
                               nonce prefix, and a key check value
    chunks                     AES-256-GCM of each `chunk` bytes of the plain archive;
                               the last one (possibly empty) is shorter and marked final

Each chunk's nonce is the 7-byte prefix, a 4-byte counter and a final flag, and its
associated data is the whole header (the STREAM construction): chunks cannot be
reordered, dropped, cut off at the end or moved to another archive without failing to
open. The key check value (an HMAC with a second derived key) tells a wrong key apart
from a changed archive before anything is decrypted.

The key is whatever bytes IT keeps in a file or an environment variable (a passphrase
or random bytes, at least 16); scrypt turns it into the AES key with a fresh salt per
archive.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bots.matrix.signatures import decode_unpadded_b64, unpadded_b64

__all__ = [
    "MAGIC",
    "ArchiveKey",
    "KeyProblem",
    "OpeningReader",
    "SealError",
    "SealedDamaged",
    "SealingWriter",
    "WrongKey",
]

MAGIC = b"YAKUBA-BACKUP-AES-256-GCM\n"
VERSION = 1
CHUNK_SIZE = 1 << 20
TAG_SIZE = 16
MIN_KEY_LENGTH = 16
#: scrypt's cost: 32 MiB and about 0.1 s, once per archive
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
#: what a header may ask for at most (a hostile header must not exhaust memory)
_MAX_HEADER = 4096
_MAX_N, _MAX_R, _MAX_P = 1 << 20, 16, 4
_MAX_CHUNK = 1 << 24
_CHECK_LABEL = b"yakuba backup key check v1"


class KeyProblem(ValueError):
    """The archive key cannot be read (no such file or variable, too short)."""


class SealError(Exception):
    """A sealed archive cannot be opened; the archive layer names the file."""


class WrongKey(SealError):
    pass


class SealedDamaged(SealError):
    pass


class ArchiveKey:
    """The archive key IT gives; its value never shows in repr, logs or messages."""

    __slots__ = ("_secret", "source")

    def __init__(self, secret: bytes, source: str) -> None:
        if len(secret) < MIN_KEY_LENGTH:
            raise KeyProblem(
                f"the archive key in {source} is {len(secret)} bytes long; it must be at"
                f" least {MIN_KEY_LENGTH} (e.g. `head -c 32 /dev/urandom | base64`)"
            )
        self._secret = secret
        #: where it came from, for messages ("the file /etc/yakuba/backup.key")
        self.source = source

    @classmethod
    def from_file(cls, path: Path) -> ArchiveKey:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyProblem(
                f"cannot read the archive key file {path}: {exc.strerror or exc}"
            ) from None
        return cls(data.strip(), f"the file {path}")

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> ArchiveKey:
        value = (os.environ if env is None else env).get(name)
        if value is None:
            raise KeyProblem(f"the environment variable {name} (the archive key) is not set")
        return cls(value.strip().encode(), f"the environment variable {name}")

    def derive(self, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
        """(AES key, key-check key) for this salt and cost."""
        both = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(self._secret)
        return both[:32], both[32:]

    def __repr__(self) -> str:
        return f"ArchiveKey(<{self.source}>)"


def _check_value(check_key: bytes) -> bytes:
    return hmac.new(check_key, _CHECK_LABEL, hashlib.sha256).digest()[:16]


def _nonce(prefix: bytes, counter: int, final: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


class SealingWriter:
    """A write-only file object that seals what is written into `raw`; `close()` writes
    the final chunk (it does not close `raw`)."""

    def __init__(self, raw: BinaryIO, key: ArchiveKey, chunk_size: int = CHUNK_SIZE) -> None:
        salt, prefix = os.urandom(16), os.urandom(7)
        aes_key, check_key = key.derive(salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        header = json.dumps(
            {
                "version": VERSION,
                "kdf": {
                    "name": "scrypt",
                    "salt": unpadded_b64(salt),
                    "n": SCRYPT_N,
                    "r": SCRYPT_R,
                    "p": SCRYPT_P,
                },
                "cipher": "AES-256-GCM",
                "chunk": chunk_size,
                "nonce": unpadded_b64(prefix),
                "check": unpadded_b64(_check_value(check_key)),
            },
            sort_keys=True,
        ).encode()
        self._aad = MAGIC + len(header).to_bytes(2, "big") + header
        raw.write(self._aad)
        self._raw = raw
        self._aead = AESGCM(aes_key)
        self._prefix = prefix
        self._chunk = chunk_size
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False

    def write(self, data: bytes) -> int:
        self._buffer += data
        # keep at least one byte back: only close() knows which chunk is the last
        while len(self._buffer) > self._chunk:
            self._emit(bytes(self._buffer[: self._chunk]), final=False)
            del self._buffer[: self._chunk]
        return len(data)

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._closed = True

    def _emit(self, plain: bytes, final: bool) -> None:
        if self._counter >= 1 << 32:
            raise SealError("the archive is too large to seal (4 billion chunks)")
        nonce = _nonce(self._prefix, self._counter, final)
        self._raw.write(self._aead.encrypt(nonce, plain, self._aad))
        self._counter += 1


class OpeningReader:
    """A read-only file object giving the plain bytes of the sealed archive in `raw`.

    The constructor reads the header and checks the key (`WrongKey`); `read` raises
    `SealedDamaged` when a chunk was changed, dropped or the archive cut short."""

    def __init__(self, raw: BinaryIO, key: ArchiveKey) -> None:
        head = _read_exact(raw, len(MAGIC) + 2)
        if head[: len(MAGIC)] != MAGIC or len(head) < len(MAGIC) + 2:
            raise SealedDamaged("it does not start like a sealed yakuba archive")
        length = int.from_bytes(head[len(MAGIC) :], "big")
        if length > _MAX_HEADER:
            raise SealedDamaged(f"its header is {length} bytes long (at most {_MAX_HEADER})")
        header_bytes = _read_exact(raw, length)
        if len(header_bytes) < length:
            raise SealedDamaged("it ends inside its header")
        header = _parse_header(header_bytes)
        aes_key, check_key = key.derive(header["salt"], header["n"], header["r"], header["p"])
        if not hmac.compare_digest(_check_value(check_key), header["check"]):
            raise WrongKey(f"the archive key ({key.source}) is wrong")
        self._aad = head + header_bytes
        self._raw = raw
        self._aead = AESGCM(aes_key)
        self._prefix: bytes = header["nonce"]
        self._chunk: int = header["chunk"]
        self._counter = 0
        self._plain = bytearray()
        self._lookahead = b""
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._plain) < size):
            self._next_chunk()
        if size < 0:
            size = len(self._plain)
        out = bytes(self._plain[:size])
        del self._plain[:size]
        return out

    def _next_chunk(self) -> None:
        block = self._lookahead + _read_exact(
            self._raw, self._chunk + TAG_SIZE - len(self._lookahead)
        )
        self._lookahead = self._raw.read(1)
        final = not self._lookahead
        if len(block) < TAG_SIZE:
            raise SealedDamaged("it ends in the middle of an encrypted chunk (cut short)")
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._counter, final), block, self._aad)
        except InvalidTag:
            raise SealedDamaged(
                f"encrypted chunk {self._counter + 1} does not verify (changed, or cut short)"
            ) from None
        self._counter += 1
        self._plain += plain
        self._done = final


def _read_exact(raw: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = raw.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _parse_header(data: bytes) -> dict[str, Any]:
    try:
        header = json.loads(data)
        if header["version"] != VERSION:
            raise SealedDamaged(
                f"it is sealed with format version {header['version']!r}; this yakuba reads"
                f" version {VERSION} (restore it with the yakuba that wrote it, or a newer one)"
            )
        kdf = header["kdf"]
        fields: dict[str, Any] = {
            "salt": decode_unpadded_b64(kdf["salt"]),
            "n": int(kdf["n"]),
            "r": int(kdf["r"]),
            "p": int(kdf["p"]),
            "chunk": int(header["chunk"]),
            "nonce": decode_unpadded_b64(header["nonce"]),
            "check": decode_unpadded_b64(header["check"]),
        }
        if kdf["name"] != "scrypt" or header["cipher"] != "AES-256-GCM":
            raise ValueError("unknown algorithm")
    except SealedDamaged:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise SealedDamaged(f"its header is not readable ({exc.__class__.__name__})") from None
    if not (
        1 < fields["n"] <= _MAX_N
        and fields["n"] & (fields["n"] - 1) == 0  # a power of two
        and 0 < fields["r"] <= _MAX_R
        and 0 < fields["p"] <= _MAX_P
        and 0 < fields["chunk"] <= _MAX_CHUNK
        and len(fields["nonce"]) == 7
        and len(fields["check"]) == 16
    ):
        raise SealedDamaged("its header asks for values out of range")
    return fields
