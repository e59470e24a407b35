"""The appservice's stores of what came in: homeserver transactions and webhook-ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from appservice.hooks import ReceiptStore
from appservice.transactions import TransactionStore, body_hash
from bots.store.database import Database

pytestmark = pytest.mark.postgresql

ROOM = "!room:city.example.jp"


def event(event_id: str, body: str = "hi") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": ROOM,
        "type": "m.room.message",
        "sender": "@tanaka:city.example.jp",
        "content": {"msgtype": "m.text", "body": body},
    }


def digest(events: list[Any]) -> str:
    return body_hash(json.dumps({"events": events}).encode())


@pytest.fixture
def transactions(db: Database) -> TransactionStore:
    return TransactionStore(db)


async def test_events_are_queued_in_order_of_arrival(transactions: TransactionStore) -> None:
    first = [event("$b"), event("$a")]
    accepted = await transactions.accept("1", digest(first), first, 1000)
    assert (accepted.replay, accepted.queued, accepted.skipped) == (False, 2, 0)
    second = [event("$c", "日本語")]
    await transactions.accept("2", digest(second), second, 2000)

    pending = await transactions.get_pending()
    # received_at, then event id
    assert [e["event_id"] for e in pending] == ["$a", "$b", "$c"]
    assert pending[2]["content"]["body"] == "日本語"
    assert await transactions.pending_count() == 3


async def test_the_same_transaction_again_is_a_replay(transactions: TransactionStore) -> None:
    events = [event("$a")]
    await transactions.accept("1", digest(events), events, 1000)
    again = await transactions.accept("1", digest(events), events, 2000)
    assert (again.replay, again.queued) == (True, 0)
    assert await transactions.pending_count() == 1


async def test_a_reused_id_with_another_body_is_new_and_known_events_count_once(
    transactions: TransactionStore,
) -> None:
    """Synapse on SQLite restarts its transaction ids: the body tells them apart."""
    first = [event("$a")]
    await transactions.accept("1", digest(first), first, 1000)
    second = [event("$a"), event("$b"), {"no": "event id"}]
    accepted = await transactions.accept("1", digest(second), second, 2000)
    assert (accepted.replay, accepted.queued, accepted.skipped) == (False, 1, 1)
    assert await transactions.pending_count() == 2


async def test_handled_events_leave_the_queue_with_their_error(
    transactions: TransactionStore, db: Database
) -> None:
    events = [event("$a"), event("$b"), event("$c")]
    await transactions.accept("1", digest(events), events, 1000)
    await transactions.mark_handled([("$a", None), ("$b", "boom " * 200)], 1500)

    assert [e["event_id"] for e in await transactions.get_pending()] == ["$c"]
    rows = await db.fetchall(
        "SELECT event_id, handled_at, error FROM as_events WHERE handled_at IS NOT NULL"
        " ORDER BY event_id"
    )
    assert [(r[0], r[1]) for r in rows] == [("$a", 1500), ("$b", 1500)]
    assert rows[0][2] is None
    assert str(rows[1][2]).startswith("boom") and len(rows[1][2]) == 500


async def test_a_webhook_id_is_received_once_per_hook(db: Database) -> None:
    receipts = ReceiptStore(db)
    assert await receipts.seen("ticket", "msg_1") is False
    assert await receipts.first_time("ticket", "msg_1", 1000) is True
    assert await receipts.first_time("ticket", "msg_1", 2000) is False
    assert await receipts.seen("ticket", "msg_1") is True
    assert await receipts.first_time("other", "msg_1", 2000) is True
    # ids are kept to 200 characters, and compared that way
    long = "x" * 300
    assert await receipts.first_time("ticket", long, 3000) is True
    assert await receipts.seen("ticket", long + "y") is True
