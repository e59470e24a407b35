"""Signed JSON (Matrix spec appendix) and the bot's cross-signing keys."""

from __future__ import annotations

import copy
import stat
from pathlib import Path

import pytest

from bots.matrix.crosssigning import (
    CrossSigningKeys,
    KeyFile,
    SealedKeysError,
    seal,
    unseal,
)
from bots.matrix.signatures import (
    SigningKey,
    decode_unpadded_b64,
    only_key,
    unpadded_b64,
    verify_json,
)

USER = "@tasks:city.example.jp"
PICKLE_KEY = "a-pickle-key-of-some-length"

# Matrix spec, appendix "Signing JSON": the key whose seed is this base64, version "1"
SPEC_SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SPEC_EMPTY_SIGNATURE = (
    "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
)
SPEC_ONE_TWO_SIGNATURE = (
    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
)


def spec_key() -> SigningKey:
    return SigningKey(decode_unpadded_b64(SPEC_SEED))


# --------------------------------------------------------------------------- signed JSON


def test_unpadded_base64_round_trip() -> None:
    for data in (b"", b"a", b"ab", b"abc", bytes(range(32))):
        text = unpadded_b64(data)
        assert not text.endswith("=")
        assert decode_unpadded_b64(text) == data


@pytest.mark.parametrize(
    ("obj", "expected"),
    [({}, SPEC_EMPTY_SIGNATURE), ({"one": 1, "two": "Two"}, SPEC_ONE_TWO_SIGNATURE)],
)
def test_spec_signing_vectors(obj: dict[str, object], expected: str) -> None:
    key = spec_key()
    signed = key.sign_json(obj, "domain")
    assert signed["signatures"]["domain"][key.key_id] == expected

    spec_signed = {**obj, "signatures": {"domain": {"ed25519:1": expected}}}
    assert verify_json(spec_signed, "domain", "ed25519:1", key.public_key)


def test_key_id_is_the_public_key() -> None:
    key = SigningKey.generate()
    assert len(key.seed) == 32
    assert key.key_id == f"ed25519:{key.public_key}"
    assert len(decode_unpadded_b64(key.public_key)) == 32


def test_sign_verify_round_trip_and_input_untouched() -> None:
    key = SigningKey.generate()
    obj = {"user_id": USER, "keys": {"a": "b"}, "n": 1}
    before = copy.deepcopy(obj)
    signed = key.sign_json(obj, USER)
    assert obj == before
    assert verify_json(signed, USER, key.key_id, key.public_key)


def test_tampered_object_fails() -> None:
    key = SigningKey.generate()
    signed = key.sign_json({"user_id": USER, "keys": {"a": "b"}}, USER)
    tampered = copy.deepcopy(signed)
    tampered["keys"]["a"] = "c"
    assert not verify_json(tampered, USER, key.key_id, key.public_key)
    added = {**signed, "extra": True}
    assert not verify_json(added, USER, key.key_id, key.public_key)


def test_signature_excludes_unsigned() -> None:
    key = SigningKey.generate()
    signed = key.sign_json({"a": 1, "unsigned": {"device_display_name": "old"}}, USER)
    signed["unsigned"] = {"device_display_name": "renamed"}
    assert verify_json(signed, USER, key.key_id, key.public_key)
    del signed["unsigned"]
    assert verify_json(signed, USER, key.key_id, key.public_key)


def test_signing_keeps_other_signatures() -> None:
    first, second = SigningKey.generate(), SigningKey.generate()
    signed = second.sign_json(first.sign_json({"a": 1}, USER), "@other:city.example.jp")
    assert verify_json(signed, USER, first.key_id, first.public_key)
    assert verify_json(signed, "@other:city.example.jp", second.key_id, second.public_key)


def test_wrong_key_user_or_key_id_fails() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    signed = key.sign_json({"a": 1}, USER)
    assert not verify_json(signed, USER, key.key_id, other.public_key)
    assert not verify_json(signed, "@someone:city.example.jp", key.key_id, key.public_key)
    assert not verify_json(signed, USER, other.key_id, key.public_key)
    assert not verify_json({"a": 1}, USER, key.key_id, key.public_key)


def test_malformed_signature_or_key_fails_without_raising() -> None:
    key = SigningKey.generate()
    signed = key.sign_json({"a": 1}, USER)
    assert not verify_json(signed, USER, key.key_id, "not base64 !!")
    assert not verify_json(signed, USER, key.key_id, unpadded_b64(b"short"))
    broken = copy.deepcopy(signed)
    broken["signatures"][USER][key.key_id] = "AAAA"
    assert not verify_json(broken, USER, key.key_id, key.public_key)


def test_only_key() -> None:
    key = SigningKey.generate()
    assert only_key({"keys": {key.key_id: key.public_key}}) == (key.key_id, key.public_key)
    with pytest.raises(ValueError):
        only_key({"keys": {}})
    with pytest.raises(ValueError):
        only_key({"keys": {"ed25519:a": "a", "ed25519:b": "b"}})


# --------------------------------------------------------------------------- cross-signing


def test_cross_signing_objects_have_the_right_usages_and_keys() -> None:
    keys = CrossSigningKeys.generate()
    objects = keys.public_objects(USER)
    expected = {
        "master_key": ("master", keys.master),
        "self_signing_key": ("self_signing", keys.self_signing),
        "user_signing_key": ("user_signing", keys.user_signing),
    }
    assert set(objects) == set(expected)
    for name, (usage, key) in expected.items():
        obj = objects[name]
        assert obj["user_id"] == USER
        assert obj["usage"] == [usage]
        assert only_key(obj) == (key.key_id, key.public_key)
    assert len({keys.master.seed, keys.self_signing.seed, keys.user_signing.seed}) == 3


def test_sub_keys_are_signed_by_the_master_key() -> None:
    keys = CrossSigningKeys.generate()
    objects = keys.public_objects(USER)
    master_id, master_public = only_key(objects["master_key"])
    for name in ("self_signing_key", "user_signing_key"):
        assert verify_json(objects[name], USER, master_id, master_public), name
        # and not by some other key
        other = SigningKey.generate()
        assert not verify_json(objects[name], USER, master_id, other.public_key)


def test_seal_unseal_round_trip() -> None:
    keys = CrossSigningKeys.generate()
    sealed = seal(keys, PICKLE_KEY)
    assert unseal(sealed, PICKLE_KEY) == keys
    # the private keys are not in the file in clear
    for key in (keys.master, keys.self_signing, keys.user_signing):
        assert unpadded_b64(key.seed).encode() not in sealed
        assert key.seed not in sealed


def test_unseal_with_the_wrong_pickle_key_fails() -> None:
    sealed = seal(CrossSigningKeys.generate(), PICKLE_KEY)
    with pytest.raises(SealedKeysError):
        unseal(sealed, PICKLE_KEY + "x")


def test_unseal_damaged_data_fails() -> None:
    sealed = bytearray(seal(CrossSigningKeys.generate(), PICKLE_KEY))
    with pytest.raises(SealedKeysError):
        unseal(b"not json", PICKLE_KEY)
    with pytest.raises(SealedKeysError):
        unseal(bytes(sealed[: len(sealed) // 2]), PICKLE_KEY)


def test_key_file_save_writes_a_private_file_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "bots" / "tasks" / "cross-signing.keys"
    key_file = KeyFile(path, PICKLE_KEY)
    assert key_file.load() is None

    keys = CrossSigningKeys.generate()
    key_file.save(keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyFile(path, PICKLE_KEY).load() == keys
    with pytest.raises(SealedKeysError):
        KeyFile(path, "another-pickle-key-123").load()


def test_key_file_save_replaces_and_stays_private(tmp_path: Path) -> None:
    path = tmp_path / "cross-signing.keys"
    key_file = KeyFile(path, PICKLE_KEY)
    key_file.save(CrossSigningKeys.generate())
    newer = CrossSigningKeys.generate()
    key_file.save(newer)
    assert key_file.load() == newer
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["cross-signing.keys"]
