"""The outbox: recorded before sending, sent once, a failed send kept and sent again."""

from __future__ import annotations

from typing import Any

import pytest
from nio import RoomSendError, RoomSendResponse

from bots.matrix.outbox import Outbox
from bots.store.database import Database
from bots.store.ledger import MAX_ATTEMPTS, SendLedger, derive_txn_id

pytestmark = pytest.mark.postgresql

BOT = "@tasks:city.example.jp"
ROOM = "!room:city.example.jp"


class FakeClient:
    """Stands in for nio's AsyncClient at the edge: answers room_send from a script."""

    def __init__(self, answers: list[Any]) -> None:
        self.user_id = BOT
        self.answers = answers
        self.sent: list[tuple[str, str, dict[str, Any], str]] = []

    async def room_send(
        self,
        room_id: str,
        message_type: str,
        content: dict[str, Any],
        tx_id: str,
        ignore_unverified_devices: bool,
    ) -> Any:
        assert ignore_unverified_devices
        self.sent.append((room_id, message_type, content, tx_id))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def ledger(db: Database) -> SendLedger:
    return SendLedger(db)


def ok(event_id: str) -> RoomSendResponse:
    return RoomSendResponse(event_id, ROOM)


async def test_sends_once_with_a_derived_transaction_id(ledger: SendLedger) -> None:
    client = FakeClient([ok("$one")])
    outbox = Outbox(client, ledger, clock=lambda: 1000.0)  # type: ignore[arg-type]
    content = {"msgtype": "m.notice", "body": "hi", "m.mentions": {}}
    assert await outbox.send(ROOM, content, "reply:$cmd:0") == "$one"
    # the same intention again (a retry after a crash): not sent a second time
    assert await outbox.send(ROOM, content, "reply:$cmd:0") == "$one"
    assert len(client.sent) == 1
    assert client.sent[0][3] == derive_txn_id(BOT, "reply:$cmd:0")


async def test_rate_limited_send_is_kept_and_sent_later(ledger: SendLedger) -> None:
    limited = RoomSendError("Too Many Requests", "M_LIMIT_EXCEEDED", retry_after_ms=500)
    client = FakeClient([limited, OSError("connection reset"), ok("$late")])
    outbox = Outbox(client, ledger, clock=lambda: 1000.0)  # type: ignore[arg-type]
    content = {"msgtype": "m.notice", "body": "alert", "m.mentions": {}}
    assert await outbox.send(ROOM, content, "k1") is None
    assert outbox.has_failures
    assert await outbox.retry_pending() == 1  # still failing (network error)
    assert await outbox.retry_pending() == 0
    assert not outbox.has_failures
    # every attempt used the same transaction id, so Synapse can deduplicate them
    assert {sent[3] for sent in client.sent} == {derive_txn_id(BOT, "k1")}
    entry = await ledger.get(derive_txn_id(BOT, "k1"))
    assert entry is not None and entry.event_id == "$late" and entry.attempts == 2


async def test_a_send_that_keeps_failing_is_kept_but_no_longer_retried(
    ledger: SendLedger,
) -> None:
    refused = RoomSendError("Forbidden", "M_FORBIDDEN")
    client = FakeClient([refused] * (MAX_ATTEMPTS + 5))
    outbox = Outbox(client, ledger, clock=lambda: 1000.0)  # type: ignore[arg-type]
    assert await outbox.send(ROOM, {"msgtype": "m.notice", "body": "x"}, "k-bad") is None
    for _ in range(MAX_ATTEMPTS + 3):
        await outbox.retry_pending()
    assert len(client.sent) == MAX_ATTEMPTS  # then it stops trying
    entry = await ledger.get(derive_txn_id(BOT, "k-bad"))
    assert entry is not None and entry.event_id is None  # kept, for an operator to see
