"""Standard Webhooks signing and verification."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from multidict import CIMultiDict

from appservice.signing import SignatureError, decode_secret, sign, signed_headers, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def reference_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The algorithm as the spec writes it, independently of the module under test."""
    key = base64.b64decode(secret.split("_", 1)[1])
    to_sign = f"{msg_id}.{timestamp}.{body.decode()}".encode()
    return "v1," + base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest()).decode()


def test_reference_vector() -> None:
    assert reference_signature(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_signed_headers_verify() -> None:
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert headers == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": EXPECTED,
    }
    assert verify([SECRET], headers, BODY, now=TIMESTAMP) == MSG_ID


def test_plain_secret_uses_utf8_bytes() -> None:
    secret = "秘密-plain-secret"
    assert decode_secret(secret) == secret.encode("utf-8")
    digest = hmac.new(secret.encode(), f"{MSG_ID}.{TIMESTAMP}.".encode() + BODY, "sha256")
    assert (
        sign(secret, MSG_ID, TIMESTAMP, BODY) == "v1," + base64.b64encode(digest.digest()).decode()
    )
    assert verify([secret], signed_headers(secret, MSG_ID, TIMESTAMP, BODY), BODY, TIMESTAMP)


def test_bad_whsec_secret_is_value_error_without_value() -> None:
    with pytest.raises(ValueError) as info:
        decode_secret("whsec_not*base64!")
    assert "not*base64" not in str(info.value)


def test_headers_case_insensitive() -> None:
    headers = {k.upper(): v for k, v in signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY).items()}
    assert verify([SECRET], headers, BODY, TIMESTAMP) == MSG_ID
    mixed = CIMultiDict({"Webhook-Id": MSG_ID, "Webhook-Timestamp": str(TIMESTAMP)})
    mixed["Webhook-Signature"] = EXPECTED
    assert verify([SECRET], mixed, BODY, TIMESTAMP) == MSG_ID


def test_rotation_second_secret_matches() -> None:
    old = "whsec_" + base64.b64encode(b"the old key, still in use").decode()
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert verify([old, SECRET], headers, BODY, TIMESTAMP) == MSG_ID


def test_several_signatures_in_header() -> None:
    other = "whsec_" + base64.b64encode(b"someone else's key").decode()
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    headers["webhook-signature"] = " ".join(
        [sign(other, MSG_ID, TIMESTAMP, BODY), "v2,c29tZXRoaW5n", "v1,@@notbase64@@", EXPECTED]
    )
    assert verify([SECRET], headers, BODY, TIMESTAMP) == MSG_ID
    with pytest.raises(SignatureError) as info:
        verify(["whsec_" + base64.b64encode(b"a third key").decode()], headers, BODY, TIMESTAMP)
    assert info.value.code == "bad_signature"


def codes(headers: dict[str, str], now: float = TIMESTAMP, body: bytes = BODY) -> str:
    with pytest.raises(SignatureError) as info:
        verify([SECRET], headers, body, now)
    return info.value.code


def good() -> dict[str, str]:
    return signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header(name: str) -> None:
    headers = good()
    del headers[name]
    assert codes(headers) == "missing_header"


@pytest.mark.parametrize("signature", ["", "   ", "v1", "v1,", ",abc", "g0hM9SsE+OTPJTGt"])
def test_bad_signature_header(signature: str) -> None:
    assert codes({**good(), "webhook-signature": signature}) == "bad_header"


def test_empty_id_is_bad_header() -> None:
    assert codes({**good(), "webhook-id": ""}) == "bad_header"


@pytest.mark.parametrize("timestamp", ["", "abc", "1614265330.5", "-1614265330", "1e9"])
def test_bad_timestamp(timestamp: str) -> None:
    assert codes({**good(), "webhook-timestamp": timestamp}) == "bad_timestamp"


def test_tolerance_edges() -> None:
    headers = good()
    assert verify([SECRET], headers, BODY, now=TIMESTAMP + 300) == MSG_ID
    assert verify([SECRET], headers, BODY, now=TIMESTAMP - 300) == MSG_ID
    assert codes(headers, now=TIMESTAMP + 300.001) == "stale"
    assert codes(headers, now=TIMESTAMP - 300.001) == "future"
    assert verify([SECRET], headers, BODY, now=TIMESTAMP + 10, tolerance_s=10) == MSG_ID
    with pytest.raises(SignatureError) as info:
        verify([SECRET], headers, BODY, now=TIMESTAMP + 11, tolerance_s=10)
    assert info.value.code == "stale"


def test_tampering_is_bad_signature() -> None:
    assert codes(good(), body=BODY + b" ") == "bad_signature"
    assert codes({**good(), "webhook-id": "msg_other"}) == "bad_signature"
    # a re-dated message keeps its old signature
    assert codes({**good(), "webhook-timestamp": str(TIMESTAMP + 1)}) == "bad_signature"


def test_wrong_secret_is_bad_signature() -> None:
    with pytest.raises(SignatureError) as info:
        verify(["plain-but-wrong"], good(), BODY, TIMESTAMP)
    assert info.value.code == "bad_signature"
