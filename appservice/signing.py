"""Standard Webhooks signatures (https://www.standardwebhooks.com/, as used by Svix).

A webhook carries three headers::

    webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
    webhook-timestamp: 1614265330
    webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=

The signature is ``base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))``. The header may
hold several space-separated ``v1,<sig>`` entries (the sender signs with each secret while
one is rotated); one match is enough. A secret is ``whsec_<base64 key>`` or, failing that
prefix, plain text whose UTF-8 bytes are the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Literal

__all__ = [
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "decode_secret",
    "sign",
    "signed_headers",
    "verify",
]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"

_SECRET_PREFIX = "whsec_"
_VERSION = "v1"
_TIMESTAMP = re.compile(r"[0-9]{1,15}")

ErrorCode = Literal[
    "missing_header", "bad_header", "bad_timestamp", "stale", "future", "bad_signature"
]


class SignatureError(Exception):
    """A webhook failed verification; ``code`` says why (stable, for metrics and replies)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a secret: the base64 part of ``whsec_…``, else the UTF-8 text.

    Raises ``ValueError`` (without the value) for a ``whsec_`` secret that is not base64.
    """
    if secret.startswith(_SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a 'whsec_' webhook secret must be followed by base64") from None
        if not key:
            raise ValueError("a 'whsec_' webhook secret must not be empty")
        return key
    if not secret:
        raise ValueError("the webhook secret is empty")
    return secret.encode("utf-8")


def _digest(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> bytes:
    content = f"{webhook_id}.{timestamp}.".encode() + body
    return hmac.new(key, content, hashlib.sha256).digest()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one secret: ``v1,<base64 signature>``."""
    digest = _digest(decode_secret(secret), webhook_id, timestamp, body)
    return f"{_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for a request carrying ``body``."""
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, webhook_id, timestamp, body),
    }


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    # works for plain dicts in any case and for aiohttp's CIMultiDict(Proxy)
    return {key.lower(): value for key, value in headers.items()}


def _signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a header; other versions are ignored."""
    entries = header.split()
    if not entries:
        raise SignatureError("bad_header", f"the {SIGNATURE_HEADER} header is empty")
    found: list[bytes] = []
    for entry in entries:
        version, sep, value = entry.partition(",")
        if not sep or not version or not value:
            raise SignatureError(
                "bad_header", f"expected '<version>,<base64>' entries in {SIGNATURE_HEADER}"
            )
        if version != _VERSION:
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue  # a malformed entry cannot match; another entry still may
    return found


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_s: int = 300,
) -> str:
    """Check a webhook's signature and freshness; return its ``webhook-id``.

    ``now`` is the receiver's clock (unix seconds); the timestamp may differ from it by at
    most ``tolerance_s`` either way. Any of ``secrets`` may have signed it (rotation).
    Raises :class:`SignatureError`.
    """
    lowered = _lower(headers)
    missing = [
        name for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER) if name not in lowered
    ]
    if missing:
        raise SignatureError("missing_header", f"missing header(s): {', '.join(missing)}")
    webhook_id = lowered[ID_HEADER].strip()
    if not webhook_id:
        raise SignatureError("bad_header", f"the {ID_HEADER} header is empty")

    raw_timestamp = lowered[TIMESTAMP_HEADER].strip()
    if not _TIMESTAMP.fullmatch(raw_timestamp):
        raise SignatureError("bad_timestamp", f"{TIMESTAMP_HEADER} must be whole unix seconds")
    timestamp = int(raw_timestamp)
    if now - timestamp > tolerance_s:
        raise SignatureError("stale", f"the webhook is older than {tolerance_s} s")
    if timestamp - now > tolerance_s:
        raise SignatureError("future", f"the webhook is dated more than {tolerance_s} s ahead")

    candidates = _signatures(lowered[SIGNATURE_HEADER])
    matched = False
    for secret in secrets:
        expected = _digest(decode_secret(secret), webhook_id, timestamp, body)
        for candidate in candidates:
            # compare every pair, so timing says nothing about which one matched
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("bad_signature", "no signature matches a configured secret")
    return webhook_id
