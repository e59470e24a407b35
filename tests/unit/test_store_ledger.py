"""The send ledger: every intended message recorded before it is sent, keyed by txn id."""

from __future__ import annotations

import pytest

from bots.store.database import Database
from bots.store.ledger import SendLedger, derive_txn_id
from tests.postgres import StoreOpener

pytestmark = pytest.mark.postgresql

TASKS = "@tasks:city.example.jp"
ALERTS = "@alerts:city.example.jp"
ROOM = "!room:city.example.jp"


@pytest.fixture
def ledger(db: Database) -> SendLedger:
    return SendLedger(db)


def test_derive_txn_id_is_deterministic() -> None:
    assert derive_txn_id(TASKS, "reply:$ev:0") == derive_txn_id(TASKS, "reply:$ev:0")


def test_derive_txn_id_differs_per_sender_and_per_key() -> None:
    base = derive_txn_id(TASKS, "reply:$ev:0")
    assert derive_txn_id(ALERTS, "reply:$ev:0") != base
    assert derive_txn_id(TASKS, "reply:$ev:1") != base
    assert derive_txn_id(TASKS, "reply:$other:0") != base


def test_derive_txn_id_does_not_confuse_sender_and_key_boundaries() -> None:
    assert derive_txn_id("@a:x", "bc") != derive_txn_id("@a:xb", "c")


def test_derive_txn_id_is_a_valid_transaction_id() -> None:
    txn = derive_txn_id(TASKS, "reply:$ev:0 with spaces/and:odd chars")
    # it goes into a URL path segment: keep it to safe characters
    assert txn.isascii() and txn.isalnum()


async def test_record_returns_the_entry(ledger: SendLedger) -> None:
    entry = await ledger.record("txn1", TASKS, ROOM, "m.room.message", {"body": "hi"}, 1000)
    assert entry.txn_id == "txn1"
    assert entry.sender == TASKS
    assert entry.room_id == ROOM
    assert entry.event_type == "m.room.message"
    assert entry.content == {"body": "hi"}
    assert entry.event_id is None
    assert entry.attempts == 0


async def test_record_twice_keeps_the_first_content(ledger: SendLedger) -> None:
    first = await ledger.record("txn1", TASKS, ROOM, "m.room.message", {"body": "first"}, 1000)
    second = await ledger.record(
        "txn1", TASKS, "!other:city.example.jp", "m.room.message", {"body": "second"}, 2000
    )
    assert second == first
    assert second.content == {"body": "first"}
    stored = await ledger.get("txn1")
    assert stored is not None
    assert stored.content == {"body": "first"}
    assert stored.room_id == ROOM
    assert len(await ledger.get_pending_for_sender(TASKS)) == 1


async def test_record_after_sent_returns_the_sent_event(ledger: SendLedger) -> None:
    await ledger.record("txn1", TASKS, ROOM, "m.room.message", {"body": "x"}, 1000)
    await ledger.mark_sent("txn1", "$sent", 1100)
    again = await ledger.record("txn1", TASKS, ROOM, "m.room.message", {"body": "x"}, 2000)
    assert again.event_id == "$sent"


async def test_mark_sent_removes_from_pending(ledger: SendLedger) -> None:
    await ledger.record("txn1", TASKS, ROOM, "m.room.message", {"body": "1"}, 1000)
    await ledger.record("txn2", TASKS, ROOM, "m.room.message", {"body": "2"}, 1001)
    await ledger.mark_sent("txn1", "$event1", 1500)

    sent = await ledger.get("txn1")
    assert sent is not None
    assert sent.event_id == "$event1"
    assert [e.txn_id for e in await ledger.get_pending_for_sender(TASKS)] == ["txn2"]


async def test_pending_is_per_sender_and_in_creation_order(ledger: SendLedger) -> None:
    await ledger.record("b-late", TASKS, ROOM, "m.room.message", {"n": 3}, 3000)
    await ledger.record("a-early", TASKS, ROOM, "m.room.message", {"n": 1}, 1000)
    await ledger.record("z-middle", TASKS, ROOM, "m.room.message", {"n": 2}, 2000)
    await ledger.record("alerts", ALERTS, ROOM, "m.room.message", {"n": 0}, 500)

    pending = await ledger.get_pending_for_sender(TASKS)
    assert [e.txn_id for e in pending] == ["a-early", "z-middle", "b-late"]
    assert [e.txn_id for e in await ledger.get_pending_for_sender(ALERTS)] == ["alerts"]
    assert await ledger.get_pending_for_sender("@nobody:city.example.jp") == []


async def test_mark_failed_counts_attempts_and_stays_pending(
    ledger: SendLedger, db: Database
) -> None:
    await ledger.record("txn1", TASKS, ROOM, "m.room.message", {"body": "x"}, 1000)
    await ledger.mark_failed("txn1", "M_LIMIT_EXCEEDED")
    await ledger.mark_failed("txn1", "timeout " + "x" * 1000)

    entry = await ledger.get("txn1")
    assert entry is not None
    assert entry.attempts == 2
    assert entry.event_id is None
    assert [e.txn_id for e in await ledger.get_pending_for_sender(TASKS)] == ["txn1"]
    row = await db.fetchone("SELECT last_error FROM send_ledger WHERE txn_id = ?", ("txn1",))
    assert row is not None
    assert str(row[0]).startswith("timeout ")
    assert len(row[0]) <= 500

    await ledger.mark_sent("txn1", "$finally", 5000)
    row = await db.fetchone("SELECT last_error FROM send_ledger WHERE txn_id = ?", ("txn1",))
    assert row == (None,)
    assert await ledger.get_pending_for_sender(TASKS) == []


async def test_get_unknown_txn_is_none(ledger: SendLedger) -> None:
    assert await ledger.get("never-recorded") is None


async def test_ledger_survives_reopening(open_db: StoreOpener) -> None:
    db = await open_db()
    await SendLedger(db).record("txn1", TASKS, ROOM, "m.room.message", {"body": "日本語"}, 1)
    await db.close()

    db = await open_db()
    try:
        pending = await SendLedger(db).get_pending_for_sender(TASKS)
        assert [(e.txn_id, e.content) for e in pending] == [("txn1", {"body": "日本語"})]
    finally:
        await db.close()
