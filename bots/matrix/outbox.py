"""Sending through the ledger: recorded first, sent with a derived transaction id, marked
with the event id once Synapse accepts it. What failed stays in the ledger and is sent
again later, never dropped silently and never doubled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nio import AsyncClient, RoomSendResponse

from bots.store.ledger import MAX_ATTEMPTS, LedgerEntry, SendLedger, derive_txn_id

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Outbox:
    def __init__(self, client: AsyncClient, ledger: SendLedger, clock: Clock) -> None:
        self._client = client
        self._ledger = ledger
        self._clock = clock
        self.has_failures = False

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def send(
        self, room_id: str, content: dict[str, Any], key: str, event_type: str = "m.room.message"
    ) -> str | None:
        """Send once; returns the event id, or None if it failed and waits for a retry."""
        txn_id = derive_txn_id(self._client.user_id, key)
        entry = await self._ledger.record(
            txn_id, self._client.user_id, room_id, event_type, content, self._now_ms()
        )
        if entry.event_id is not None:
            return entry.event_id
        return await self._deliver(entry)

    async def retry_pending(self) -> int:
        """Send again what is recorded but not accepted yet; returns how many remain."""
        pending = await self._ledger.get_pending_for_sender(self._client.user_id)
        remaining = 0
        for entry in pending:
            if await self._deliver(entry) is None:
                remaining += 1
        self.has_failures = remaining > 0
        return remaining

    async def _deliver(self, entry: LedgerEntry) -> str | None:
        try:
            response = await self._client.room_send(
                entry.room_id,
                entry.event_type,
                entry.content,
                tx_id=entry.txn_id,
                ignore_unverified_devices=True,
            )
        except Exception as exc:  # network errors, unknown room, encryption problems
            log.warning("Send %s to %s failed: %r", entry.txn_id, entry.room_id, exc)
            await self._ledger.mark_failed(entry.txn_id, repr(exc))
            self._note_failure(entry)
            return None
        if isinstance(response, RoomSendResponse):
            await self._ledger.mark_sent(entry.txn_id, response.event_id, self._now_ms())
            return str(response.event_id)
        log.warning(
            "Send %s to %s refused: %s %s",
            entry.txn_id,
            entry.room_id,
            getattr(response, "status_code", ""),
            response.message,
        )
        await self._ledger.mark_failed(entry.txn_id, f"{response.status_code}: {response.message}")
        self._note_failure(entry)
        return None

    def _note_failure(self, entry: LedgerEntry) -> None:
        self.has_failures = True
        if entry.attempts + 1 >= MAX_ATTEMPTS:
            log.error(
                "Send %s to %s failed %d times: kept in the ledger, no longer retried",
                entry.txn_id,
                entry.room_id,
                MAX_ATTEMPTS,
            )
