"""The send ledger: every intended message is recorded before it is sent.

The transaction id is derived from the sender and from what the message is for (a key
such as "reply:$event:0"), so a retry after a crash reuses it: Synapse deduplicates it
(per device, for a day) and the ledger knows whether it was already accepted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bots.store.database import Database

#: a send that failed this often is left in the ledger (with its last error) and no longer
#: retried by itself: an operator can see it there
MAX_ATTEMPTS = 20


def derive_txn_id(sender: str, key: str) -> str:
    digest = hashlib.sha256(f"{sender}\x00{key}".encode()).hexdigest()
    return f"yk{digest[:40]}"


@dataclass(frozen=True)
class LedgerEntry:
    txn_id: str
    sender: str
    room_id: str
    event_type: str
    content: dict[str, Any]
    event_id: str | None
    attempts: int


class SendLedger:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        txn_id: str,
        sender: str,
        room_id: str,
        event_type: str,
        content: dict[str, Any],
        now_ms: int,
    ) -> LedgerEntry:
        """Record an intended send; if it was recorded before, return that record."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO send_ledger (txn_id, sender, room_id, event_type, content,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (txn_id) DO NOTHING",
                (txn_id, sender, room_id, event_type, json.dumps(content), now_ms),
            )
            row = await tx.fetchone(_SELECT + " WHERE txn_id = ?", (txn_id,))
        assert row is not None
        return _entry(row)

    async def mark_sent(self, txn_id: str, event_id: str, now_ms: int) -> None:
        await self._db.execute(
            "UPDATE send_ledger SET event_id = ?, sent_at = ?, last_error = NULL WHERE txn_id = ?",
            (event_id, now_ms, txn_id),
        )

    async def mark_failed(self, txn_id: str, error: str) -> None:
        await self._db.execute(
            "UPDATE send_ledger SET attempts = attempts + 1, last_error = ? WHERE txn_id = ?",
            (error[:500], txn_id),
        )

    async def get(self, txn_id: str) -> LedgerEntry | None:
        row = await self._db.fetchone(_SELECT + " WHERE txn_id = ?", (txn_id,))
        return _entry(row) if row else None

    async def get_pending_for_sender(self, sender: str) -> list[LedgerEntry]:
        rows = await self._db.fetchall(
            _SELECT + " WHERE sender = ? AND sent_at IS NULL AND attempts < ?"
            " ORDER BY created_at, txn_id",
            (sender, MAX_ATTEMPTS),
        )
        return [_entry(r) for r in rows]


_SELECT = "SELECT txn_id, sender, room_id, event_type, content, event_id, attempts FROM send_ledger"


def _entry(row: tuple[Any, ...]) -> LedgerEntry:
    txn_id, sender, room_id, event_type, content, event_id, attempts = row
    return LedgerEntry(txn_id, sender, room_id, event_type, json.loads(content), event_id, attempts)
