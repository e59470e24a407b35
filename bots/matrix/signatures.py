"""Signed JSON as the Matrix spec defines it (Ed25519 over canonical JSON).

Pure functions: used to build cross-signing keys and to check them.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from typing import Any

import canonicaljson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

JsonDict = dict[str, Any]


def unpadded_b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def decode_unpadded_b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def signable_bytes(obj: JsonDict) -> bytes:
    """The bytes that are signed: the object without `signatures` and `unsigned`."""
    stripped = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return bytes(canonicaljson.encode_canonical_json(stripped))


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key pair kept as its 32-byte seed."""

    seed: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        raw = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return cls(raw)

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public_key(self) -> str:
        """Unpadded base64 of the public key, as Matrix writes it."""
        raw = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return unpadded_b64(raw)

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public_key}"

    def sign_json(self, obj: JsonDict, user_id: str) -> JsonDict:
        """A copy of `obj` with this key's signature added under `user_id`."""
        signed = copy.deepcopy(obj)
        signature = unpadded_b64(self._private.sign(signable_bytes(obj)))
        signed.setdefault("signatures", {}).setdefault(user_id, {})[self.key_id] = signature
        return signed


def verify_json(obj: JsonDict, user_id: str, key_id: str, public_key: str) -> bool:
    """True if `obj` carries a valid signature by (`user_id`, `key_id`) made with `public_key`."""
    signature = obj.get("signatures", {}).get(user_id, {}).get(key_id)
    if not isinstance(signature, str):
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(decode_unpadded_b64(public_key))
        key.verify(decode_unpadded_b64(signature), signable_bytes(obj))
    except (InvalidSignature, ValueError):
        return False
    return True


def cross_signing_key(user_id: str, usage: str, key: SigningKey) -> JsonDict:
    return {"user_id": user_id, "usage": [usage], "keys": {key.key_id: key.public_key}}


def only_key(cross_signing: JsonDict) -> tuple[str, str]:
    """(key_id, public key) of a cross-signing key object, which holds exactly one key."""
    keys = cross_signing.get("keys") or {}
    if len(keys) != 1:
        raise ValueError("a cross-signing key must hold exactly one key")
    ((key_id, public),) = keys.items()
    return str(key_id), str(public)
