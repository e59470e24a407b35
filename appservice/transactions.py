"""Transactions from the homeserver: queued durably first, handled after the ack.

Deduplication is by event id (persisted). A repeated transaction id counts as a replay
only when its body is the same: Synapse on SQLite restarts its transaction ids after a
restart, and a reused id then carries new events.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bots.store.database import Database


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Accepted:
    replay: bool
    queued: int  # new events queued (already known event ids are not)
    skipped: int  # entries without an event id or of the wrong shape


class TransactionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def accept(self, txn_id: str, digest: str, events: list[Any], now_ms: int) -> Accepted:
        """Queue the transaction's events in one database transaction (all or nothing)."""
        queued = skipped = 0
        async with self._db.transaction() as tx:
            seen = await tx.fetchone(
                "SELECT 1 FROM as_transactions WHERE txn_id = ? AND body_hash = ?",
                (txn_id, digest),
            )
            if seen is not None:
                return Accepted(replay=True, queued=0, skipped=0)
            await tx.execute(
                "INSERT INTO as_transactions (txn_id, body_hash, received_at) VALUES (?, ?, ?)",
                (txn_id, digest, now_ms),
            )
            rows = []
            for event in events:
                event_id = event.get("event_id") if isinstance(event, dict) else None
                if not isinstance(event_id, str):
                    skipped += 1
                    continue
                rows.append(
                    (
                        event_id,
                        str(event.get("room_id", "")),
                        str(event.get("type", "")),
                        json.dumps(event, ensure_ascii=False),
                        now_ms,
                    )
                )
            if rows:
                queued = await tx.executemany(
                    "INSERT INTO as_events (event_id, room_id, event_type, event, received_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                    rows,
                )
        return Accepted(replay=False, queued=queued, skipped=skipped)

    async def get_pending(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self._db.fetchall(
            "SELECT event FROM as_events WHERE handled_at IS NULL"
            " ORDER BY received_at, event_id LIMIT ?",
            (limit,),
        )
        return [json.loads(r[0]) for r in rows]

    async def mark_handled(self, results: list[tuple[str, str | None]], now_ms: int) -> None:
        """Mark a batch of (event id, error or None) handled, in one transaction."""
        async with self._db.transaction() as tx:
            await tx.executemany(
                "UPDATE as_events SET handled_at = ?, error = ? WHERE event_id = ?",
                [(now_ms, error[:500] if error else None, eid) for eid, error in results],
            )

    async def pending_count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM as_events WHERE handled_at IS NULL")
        return int(row[0]) if row else 0
