"""Every bad input at the appservice's edge gets the right status and changes nothing;
transactions are deduplicated by event id, and a transaction id only by its body."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest

from appservice.signing import signed_headers
from bots.store.ledger import derive_txn_id
from tests.integration.bridge import HOOK_SECRET, Bridge
from tests.integration.harness import eventually, unique


async def _stored_txn(bridge: Bridge, txn_id: str) -> bool:
    assert bridge.app is not None
    row = await bridge.app.db.fetchone("SELECT 1 FROM as_transactions WHERE txn_id = ?", (txn_id,))
    return row is not None


async def _stored_hook(bridge: Bridge, hook: str, webhook_id: str) -> bool:
    """A receipt, or an intended send in the ledger (as the system or through a bot)."""
    assert bridge.app is not None
    db = bridge.app.db
    if await db.fetchone("SELECT 1 FROM webhook_receipts WHERE webhook_id = ?", (webhook_id,)):
        return True
    senders = ["@_yakuba_ticketing:localhost", *(b.user_id for b in bridge.app.bots.values())]
    key = f"hook:{hook}:{webhook_id}"
    for sender in senders:
        if await db.fetchone(
            "SELECT 1 FROM send_ledger WHERE txn_id = ?", (derive_txn_id(sender, key),)
        ):
            return True
    return False


async def _put_txn(
    bridge: Bridge, txn_id: str, body: bytes, token: str | None = "good", path: str = ""
) -> tuple[int, dict[str, Any]]:
    assert bridge.service is not None
    headers = {"Content-Type": "application/json"}
    if token == "good":
        headers["Authorization"] = f"Bearer {bridge.service.hs_token}"
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{bridge.as_url}{path or '/_matrix/app/v1/transactions/'}{txn_id}"
    async with aiohttp.ClientSession() as http, http.put(url, data=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


def _events(*bodies: str, ids: list[str] | None = None) -> bytes:
    events = [
        {
            "event_id": (ids[i] if ids else f"$ev-{unique('')}"),
            "room_id": "!edge:localhost",
            "type": "m.room.message",
            "sender": "@someone:localhost",
            "origin_server_ts": 1,
            "content": {"msgtype": "m.text", "body": body},
        }
        for i, body in enumerate(bodies)
    ]
    return json.dumps({"events": events}).encode()


@pytest.mark.parametrize(
    ("token", "status", "errcode"),
    [(None, 401, "M_UNAUTHORIZED"), ("wrong-token", 403, "M_FORBIDDEN")],
)
async def test_transactions_need_the_hs_token(
    bridge: Bridge, token: str | None, status: int, errcode: str
) -> None:
    for path in ("/_matrix/app/v1/transactions/", "/transactions/"):  # legacy path too
        txn = unique("t")
        code, body = await _put_txn(bridge, txn, _events("!ticket x"), token, path)
        assert (code, body["errcode"]) == (status, errcode)
        assert not await _stored_txn(bridge, txn)


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (b"{not json", "M_NOT_JSON"),
        (b'{"no": "events"}', "M_BAD_JSON"),
        (b'{"events": {}}', "M_BAD_JSON"),
        (b"[]", "M_BAD_JSON"),
    ],
)
async def test_malformed_transactions_are_refused(
    bridge: Bridge, body: bytes, errcode: str
) -> None:
    txn = unique("t")
    code, answer = await _put_txn(bridge, txn, body)
    assert (code, answer["errcode"]) == (400, errcode)
    assert not await _stored_txn(bridge, txn)


async def test_unknown_endpoints_and_queries(bridge: Bridge) -> None:
    assert bridge.service is not None
    auth = {"Authorization": f"Bearer {bridge.service.hs_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bridge.as_url}/_matrix/app/v1/unknown", headers=auth) as r:
            assert r.status == 404 and (await r.json())["errcode"] == "M_UNRECOGNIZED"
        user = "@_yakuba_ticketing:localhost"
        async with http.get(f"{bridge.as_url}/_matrix/app/v1/users/{user}", headers=auth) as r:
            assert r.status == 200
        other = "@_yakuba_nobody:localhost"
        async with http.get(f"{bridge.as_url}/_matrix/app/v1/users/{other}", headers=auth) as r:
            assert r.status == 404 and (await r.json())["errcode"] == "M_NOT_FOUND"
        async with http.get(
            f"{bridge.as_url}/_matrix/app/v1/rooms/%23x:localhost", headers=auth
        ) as r:
            assert r.status == 404
        async with http.post(f"{bridge.as_url}/_matrix/app/v1/ping", json={}, headers=auth) as r:
            assert r.status == 200
        async with http.get(f"{bridge.as_url}/health") as r:
            assert r.status == 200
        async with http.get(f"{bridge.as_url}/metrics") as r:
            text = await r.text()
            assert r.status == 200 and "yakuba_as_transactions_total" in text
            assert "yakuba_bot_seconds_since_sync" in text


async def test_replays_and_repeated_event_ids_are_handled_once(bridge: Bridge) -> None:
    txn = unique("txn")
    first = unique("!ticket once ")
    body = _events(first, ids=[f"$once-{txn}"])
    assert (await _put_txn(bridge, txn, body))[0] == 200
    assert (await _put_txn(bridge, txn, body))[0] == 200  # a replay of the same transaction
    # the same event again, in a new transaction
    assert (await _put_txn(bridge, unique("txn"), body))[0] == 200
    # Synapse restarted (SQLite) and reuses the transaction id with new events
    second = unique("!ticket reused id ")
    assert (await _put_txn(bridge, txn, _events(second)))[0] == 200
    await eventually(lambda: second in bridge.receiver.bodies(), "the reused id's new event")
    await eventually(lambda: first in bridge.receiver.bodies(), "the first event")

    # and across an appservice restart, the replay still changes nothing
    await bridge.stop()
    await bridge.start()
    assert (await _put_txn(bridge, txn, body))[0] == 200
    marker = unique("!ticket marker ")
    assert (await _put_txn(bridge, unique("txn"), _events(marker)))[0] == 200
    await eventually(lambda: marker in bridge.receiver.bodies(), "the marker")
    assert bridge.receiver.bodies().count(first) == 1
    assert bridge.receiver.bodies().count(second) == 1


async def test_a_transaction_of_more_than_16_mib_is_accepted(bridge: Bridge) -> None:
    filler = "x" * (17 * 1024 * 1024)
    body = json.dumps(
        {
            "events": [
                {
                    "event_id": f"$big-{unique('')}",
                    "room_id": "!edge:localhost",
                    "type": "m.room.message",
                    "sender": "@someone:localhost",
                    "content": {"msgtype": "m.text", "body": filler},
                }
            ]
        }
    ).encode()
    assert len(body) > 16 * 1024 * 1024
    code, _ = await _put_txn(bridge, unique("big"), body)
    assert code == 200


async def _post_hook(
    bridge: Bridge, hook: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bridge.as_url}/hooks/{hook}",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        ) as r,
    ):
        return r.status, await r.json(content_type=None)


def _signed(body: bytes, webhook_id: str, at: float | None = None) -> dict[str, str]:
    return signed_headers(HOOK_SECRET, webhook_id, int(at or time.time()), body)


BODY = json.dumps({"number": 7, "subject": "粗大ごみ"}).encode()


@pytest.mark.parametrize(
    ("case", "status", "errcode"),
    [
        ("unknown hook", 404, "M_NOT_FOUND"),
        ("no signature", 401, "M_UNAUTHORIZED"),
        ("wrong secret", 401, "M_UNAUTHORIZED"),
        ("malformed signature header", 401, "M_UNAUTHORIZED"),
        ("stale timestamp", 401, "M_UNAUTHORIZED"),
        ("future timestamp", 401, "M_UNAUTHORIZED"),
        ("not json", 400, "M_NOT_JSON"),
        ("payload misses a template field", 422, "M_INVALID_PARAM"),
        ("oversized body", 413, "M_TOO_LARGE"),
    ],
)
async def test_bad_webhooks_are_refused_and_change_nothing(
    bridge: Bridge, case: str, status: int, errcode: str
) -> None:
    hook, body, webhook_id = "ticket", BODY, unique("msg_")
    headers = _signed(body, webhook_id)
    if case == "unknown hook":
        hook = "nope"
    elif case == "no signature":
        headers = {}
    elif case == "wrong secret":
        headers = signed_headers("whsec_d3Jvbmctc2VjcmV0", webhook_id, int(time.time()), body)
    elif case == "malformed signature header":
        headers = {**headers, "webhook-signature": "garbage"}
    elif case == "stale timestamp":
        headers = _signed(body, webhook_id, time.time() - 3600)
    elif case == "future timestamp":
        headers = _signed(body, webhook_id, time.time() + 3600)
    elif case == "not json":
        body = b"<xml/>"
        headers = _signed(body, webhook_id)
    elif case == "payload misses a template field":
        body = json.dumps({"number": 1}).encode()
        headers = _signed(body, webhook_id)
    elif case == "oversized body":
        body = b'{"pad": "' + b"y" * (300 * 1024) + b'"}'
        headers = _signed(body, webhook_id)
    code, answer = await _post_hook(bridge, hook, body, headers)
    assert (code, answer.get("errcode")) == (status, errcode), answer
    assert not await _stored_hook(bridge, hook, webhook_id)


async def test_a_replayed_webhook_id_is_posted_once(bridge: Bridge) -> None:
    webhook_id = unique("msg_")
    body = json.dumps({"number": 9, "subject": unique("再送")}).encode()
    first = await _post_hook(bridge, "ticket", body, _signed(body, webhook_id))
    again = await _post_hook(bridge, "ticket", body, _signed(body, webhook_id))
    assert first[0] == 200 and first[1]["status"] in ("sent", "queued")
    assert again == (200, {"status": "duplicate"})
    assert bridge.app is not None
    row = await bridge.app.db.fetchone(
        "SELECT COUNT(*) FROM webhook_receipts WHERE webhook_id = ?", (webhook_id,)
    )
    assert row == (1,)
