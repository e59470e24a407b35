"""The outbound webhook outbox: what is to be delivered, persisted before anything is sent.

An entry is *pending* until it is delivered (``delivered_at``) or given up on
(``dead_at``, a dead letter an operator can retry or drop with ``yakuba outbox``). Each
``(endpoint, dedupe_key)`` is enqueued at most once, ever: a delivered entry is the record
that stops the same event from being sent twice, so it is kept (and cannot be dropped).

Times are stored as milliseconds since the epoch, the payload as JSON text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bots.store.database import Database, Row

__all__ = ["OutboxEntry", "OutboxState", "OutboxStore", "from_ms", "to_ms"]

OutboxState = Literal["pending", "dead", "delivered"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

_COLUMNS = (
    "id, endpoint, dedupe_key, payload, created_at, attempts, next_attempt_at, "
    "last_error, delivered_at, dead_at"
)
_PENDING = "delivered_at IS NULL AND dead_at IS NULL"


def to_ms(when: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    if when.tzinfo is None:
        raise ValueError(f"expected an aware datetime (UTC), got naive {when.isoformat()}")
    return (when - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def _maybe(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    endpoint: str
    dedupe_key: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    dead_at: datetime | None

    @property
    def state(self) -> OutboxState:
        if self.delivered_at is not None:
            return "delivered"
        if self.dead_at is not None:
            return "dead"
        return "pending"

    @classmethod
    def from_row(cls, row: Row) -> OutboxEntry:
        payload = json.loads(row[3])
        return cls(
            id=int(row[0]),
            endpoint=str(row[1]),
            dedupe_key=str(row[2]),
            payload=payload if isinstance(payload, dict) else {"value": payload},
            created_at=from_ms(int(row[4])),
            attempts=int(row[5]),
            next_attempt_at=from_ms(int(row[6])),
            last_error=row[7],
            delivered_at=_maybe(row[8]),
            dead_at=_maybe(row[9]),
        )


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(
        self, endpoint: str, dedupe_key: str, payload: dict[str, Any], now: datetime
    ) -> bool:
        """Queue a payload, due now; False (and nothing changes) if the key was seen."""
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        at = to_ms(now)
        changed = await self._db.execute(
            "INSERT INTO outbox (endpoint, dedupe_key, payload, created_at, attempts,"
            " next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)"
            " ON CONFLICT (endpoint, dedupe_key) DO NOTHING",
            (endpoint, dedupe_key, text, at, at),
        )
        return changed == 1

    async def get(self, entry_id: int) -> OutboxEntry | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (entry_id,))
        return None if row is None else OutboxEntry.from_row(row)

    async def get_due(self, now: datetime, limit: int = 100) -> list[OutboxEntry]:
        """Pending entries whose next attempt is due, oldest first."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM outbox WHERE {_PENDING} AND next_attempt_at <= ?"
            " ORDER BY created_at, id LIMIT ?",
            (to_ms(now), limit),
        )
        return [OutboxEntry.from_row(r) for r in rows]

    async def get_due_endpoints(self, now: datetime) -> list[str]:
        """The endpoints that have at least one entry due."""
        rows = await self._db.fetchall(
            f"SELECT DISTINCT endpoint FROM outbox WHERE {_PENDING} AND next_attempt_at <= ?"
            " ORDER BY endpoint",
            (to_ms(now),),
        )
        return [str(r[0]) for r in rows]

    async def get_due_for_endpoint(
        self, endpoint: str, now: datetime, limit: int = 100
    ) -> list[OutboxEntry]:
        """One endpoint's due entries, oldest first (so no endpoint starves another)."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM outbox WHERE endpoint = ? AND {_PENDING}"
            " AND next_attempt_at <= ? ORDER BY created_at, id LIMIT ?",
            (endpoint, to_ms(now), limit),
        )
        return [OutboxEntry.from_row(r) for r in rows]

    async def mark_delivered(self, entry_id: int, now: datetime) -> None:
        """Delivered by this attempt (counted in ``attempts``)."""
        await self._db.execute(
            f"UPDATE outbox SET delivered_at = ?, attempts = attempts + 1"
            f" WHERE id = ? AND {_PENDING}",
            (to_ms(now), entry_id),
        )

    async def mark_failed(self, entry_id: int, error: str, next_attempt_at: datetime) -> None:
        await self._db.execute(
            f"UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            f" WHERE id = ? AND {_PENDING}",
            (error, to_ms(next_attempt_at), entry_id),
        )

    async def mark_dead(self, entry_id: int, error: str, now: datetime) -> None:
        await self._db.execute(
            f"UPDATE outbox SET attempts = attempts + 1, last_error = ?, dead_at = ?"
            f" WHERE id = ? AND {_PENDING}",
            (error, to_ms(now), entry_id),
        )

    async def list_entries(self, state: OutboxState, limit: int = 100) -> list[OutboxEntry]:
        """Pending entries by next attempt; dead and delivered ones most recent first."""
        if state == "pending":
            where, order = _PENDING, "next_attempt_at, created_at, id"
        elif state == "dead":
            where, order = "dead_at IS NOT NULL", "dead_at DESC, id DESC"
        elif state == "delivered":
            where, order = "delivered_at IS NOT NULL", "delivered_at DESC, id DESC"
        else:
            raise ValueError(f"expected 'pending', 'dead' or 'delivered', got {state!r}")
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM outbox WHERE {where} ORDER BY {order} LIMIT ?", (limit,)
        )
        return [OutboxEntry.from_row(r) for r in rows]

    async def retry(self, entry_id: int, now: datetime) -> bool:
        """Make a dead or pending entry due now with its attempts reset; False if there is
        no such undelivered entry. The last error is kept until the next attempt."""
        changed = await self._db.execute(
            "UPDATE outbox SET attempts = 0, next_attempt_at = ?, dead_at = NULL"
            " WHERE id = ? AND delivered_at IS NULL",
            (to_ms(now), entry_id),
        )
        return changed == 1

    async def drop(self, entry_id: int) -> bool:
        """Delete an undelivered entry; False if there is none (delivered ones stay)."""
        changed = await self._db.execute(
            "DELETE FROM outbox WHERE id = ? AND delivered_at IS NULL", (entry_id,)
        )
        return changed == 1

    async def pending_count(self) -> int:
        row = await self._db.fetchone(f"SELECT COUNT(*) FROM outbox WHERE {_PENDING}")
        return int(row[0]) if row else 0

    async def dead_count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL")
        return int(row[0]) if row else 0

    async def oldest_pending_since(self) -> datetime | None:
        """When the oldest pending entry was created (None when nothing is pending)."""
        row = await self._db.fetchone(f"SELECT MIN(created_at) FROM outbox WHERE {_PENDING}")
        return None if row is None or row[0] is None else from_ms(int(row[0]))
