"""Cross-signing for a bot account: create once, keep, and sign the bot's own device.

Element (since April 2026) refuses encrypted messages to and from devices that are not
cross-signed by their owner, and matrix-nio does not do this, so the bot does it itself:
a master key, a self-signing key and a user-signing key (Ed25519), uploaded with
`/keys/device_signing/upload`, then a signature of the device keys by the self-signing
key through `/keys/signatures/upload`. The private keys are sealed (AES-GCM, key derived
from the bot's pickle key) in the bot's data folder and kept across restarts.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bots.matrix.http import MatrixHttp, MatrixHttpError
from bots.matrix.signatures import (
    SigningKey,
    cross_signing_key,
    decode_unpadded_b64,
    only_key,
    unpadded_b64,
    verify_json,
)

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class CrossSigningKeys:
    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())

    def public_objects(self, user_id: str) -> dict[str, JsonDict]:
        """The three public key objects, the sub-keys signed by the master key."""
        master = cross_signing_key(user_id, "master", self.master)
        ssk = self.master.sign_json(
            cross_signing_key(user_id, "self_signing", self.self_signing), user_id
        )
        usk = self.master.sign_json(
            cross_signing_key(user_id, "user_signing", self.user_signing), user_id
        )
        return {"master_key": master, "self_signing_key": ssk, "user_signing_key": usk}


def _aead(pickle_key: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"yakuba cross-signing keys v1"
    ).derive(pickle_key.encode())
    return AESGCM(key)


def seal(keys: CrossSigningKeys, pickle_key: str) -> bytes:
    plain = json.dumps(
        {
            "master": unpadded_b64(keys.master.seed),
            "self_signing": unpadded_b64(keys.self_signing.seed),
            "user_signing": unpadded_b64(keys.user_signing.seed),
        }
    ).encode()
    nonce = os.urandom(12)
    return json.dumps(
        {
            "version": 1,
            "nonce": unpadded_b64(nonce),
            "ciphertext": unpadded_b64(_aead(pickle_key).encrypt(nonce, plain, None)),
        }
    ).encode()


class SealedKeysError(Exception):
    pass


def unseal(data: bytes, pickle_key: str) -> CrossSigningKeys:
    try:
        outer = json.loads(data)
        plain = _aead(pickle_key).decrypt(
            decode_unpadded_b64(outer["nonce"]), decode_unpadded_b64(outer["ciphertext"]), None
        )
        inner = json.loads(plain)
        return CrossSigningKeys(
            SigningKey(decode_unpadded_b64(inner["master"])),
            SigningKey(decode_unpadded_b64(inner["self_signing"])),
            SigningKey(decode_unpadded_b64(inner["user_signing"])),
        )
    except Exception as exc:  # any failure means: wrong pickle key or damaged file
        raise SealedKeysError(
            "cannot open the sealed cross-signing keys (wrong pickle key or damaged file)"
        ) from exc


class KeyFile:
    """Where a bot's sealed cross-signing keys live."""

    def __init__(self, path: Path, pickle_key: str) -> None:
        self.path = path
        self._pickle_key = pickle_key

    def load(self) -> CrossSigningKeys | None:
        if not self.path.exists():
            return None
        return unseal(self.path.read_bytes(), self._pickle_key)

    def save(self, keys: CrossSigningKeys) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(seal(keys, self._pickle_key))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)


async def ensure_cross_signed(
    http: MatrixHttp, user_id: str, device_id: str, key_file: KeyFile, password: str
) -> bool:
    """Make sure the account has our cross-signing keys and our device is signed.

    Returns True if anything was uploaded. The key file is read with blocking I/O: this
    runs once at start-up, before the bot takes any work.
    """
    changed = False
    keys = key_file.load()
    published = await _query_own_keys(http, user_id)
    server_master = published.get("master_keys", {}).get(user_id)
    if keys is None:
        keys = CrossSigningKeys.generate()
        key_file.save(keys)  # saved before upload: a crash in between loses nothing
        log.info("Created cross-signing keys for %s", user_id)
    if server_master is None or only_key(server_master)[1] != keys.master.public_key:
        if server_master is not None:
            log.warning(
                "The cross-signing identity of %s on the homeserver is not the one this bot "
                "keeps; replacing it with the bot's own",
                user_id,
            )
        await _upload_cross_signing_keys(http, user_id, keys, password)
        published = await _query_own_keys(http, user_id)
        changed = True

    device = published.get("device_keys", {}).get(user_id, {}).get(device_id)
    if device is None:
        raise RuntimeError(f"the homeserver has no keys for device {device_id} of {user_id}")
    if not verify_json(device, user_id, keys.self_signing.key_id, keys.self_signing.public_key):
        signed = keys.self_signing.sign_json(device, user_id)
        signed.pop("unsigned", None)
        result = await http.request(
            "POST", "/_matrix/client/v3/keys/signatures/upload", {user_id: {device_id: signed}}
        )
        if result.get("failures"):
            raise RuntimeError(f"the homeserver refused the device signature: {result['failures']}")
        log.info("Signed device %s of %s with its self-signing key", device_id, user_id)
        changed = True
    return changed


async def _query_own_keys(http: MatrixHttp, user_id: str) -> JsonDict:
    body: JsonDict = {"device_keys": {user_id: []}}
    return await http.request("POST", "/_matrix/client/v3/keys/query", body)


async def _upload_cross_signing_keys(
    http: MatrixHttp, user_id: str, keys: CrossSigningKeys, password: str
) -> None:
    body: JsonDict = dict(keys.public_objects(user_id))
    path = "/_matrix/client/v3/keys/device_signing/upload"
    try:
        await http.request("POST", path, body)
        return
    except MatrixHttpError as exc:
        # replacing existing keys needs user-interactive auth: the bot's password
        if exc.status != 401 or "session" not in exc.body:
            raise
        session = exc.body["session"]
    body["auth"] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user_id},
        "password": password,
        "session": session,
    }
    await http.request("POST", path, body)
