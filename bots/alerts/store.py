"""Alerts in the store: each received alert once, its thread, and the fan-out still to do.

An alert is recorded together with its deliveries (one row per room) in one transaction
before anything is sent, so a crash in the middle of a fan-out resumes where it stopped
and the send ledger keeps each room's message single.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bots.store.database import Database
from bots.store.times import from_ms, to_ms


@dataclass(frozen=True)
class StoredAlert:
    id: int
    thread: str
    document: bytes
    doc_index: int


@dataclass(frozen=True)
class Thread:
    thread: str
    state: str  # active, withdrawn, lifted, expired
    latest_alert: int  # the latest alert that is not a cancel (what the messages show)
    expires: datetime | None


@dataclass(frozen=True)
class RoomMessage:
    room_id: str
    event_id: str | None
    pinned: bool
    shown: str | None = None  # "<alert id>:<state>" the message shows now


class AlertStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        *,
        message_id: str,
        thread: str,
        keys: Sequence[str],
        origin: str,
        status: str,
        msg_type: str,
        severity: int,
        title: str,
        sent: datetime,
        expires: datetime | None,
        document: bytes,
        doc_index: int,
        thread_state: str,
        shows: bool,
        rooms: Sequence[str],
        tombstones: Sequence[str],
        withdraw: Sequence[str],
        now: datetime,
    ) -> int | None:
        """Record a received alert and its fan-out; None if it was received before.

        `shows`: the alert is what the thread's messages show (not a bare cancel);
        `withdraw`: other threads this alert cancels."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "INSERT INTO alerts (message_id, thread, origin, status, msg_type, severity,"
                " title, sent, expires, document, doc_index, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (message_id) DO NOTHING",
                (
                    message_id,
                    thread,
                    origin,
                    status,
                    msg_type,
                    severity,
                    title,
                    to_ms(sent),
                    to_ms(expires) if expires else None,
                    document,
                    doc_index,
                    to_ms(now),
                ),
            )
            if not changed:
                return None
            row = await tx.fetchone("SELECT id FROM alerts WHERE message_id = ?", (message_id,))
            assert row is not None
            alert_id = int(row[0])
            for key in keys:
                await tx.execute(
                    "INSERT INTO alert_keys (key, thread) VALUES (?, ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (key, thread),
                )
            existing = await tx.fetchone(
                "SELECT latest_alert FROM alert_threads WHERE thread = ?", (thread,)
            )
            if existing is None:
                await tx.execute(
                    "INSERT INTO alert_threads (thread, state, latest_alert, expires)"
                    " VALUES (?, ?, ?, ?)",
                    (thread, thread_state, alert_id, to_ms(expires) if expires else None),
                )
            elif shows:
                await tx.execute(
                    "UPDATE alert_threads SET state = ?, latest_alert = ?, expires = ?"
                    " WHERE thread = ?",
                    (thread_state, alert_id, to_ms(expires) if expires else None, thread),
                )
            else:
                await tx.execute(
                    "UPDATE alert_threads SET state = ? WHERE thread = ?", (thread_state, thread)
                )
            for other in withdraw:
                await tx.execute(
                    "UPDATE alert_threads SET state = 'withdrawn' WHERE thread = ?", (other,)
                )
            for key in tombstones:
                await tx.execute(
                    "INSERT INTO alert_tombstones (key, cancelled_by) VALUES (?, ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (key, alert_id),
                )
            for room in dict.fromkeys(rooms):
                await tx.execute(
                    "INSERT INTO alert_deliveries (alert_id, room_id) VALUES (?, ?)",
                    (alert_id, room),
                )
        return alert_id

    async def thread_of(self, key: str) -> str | None:
        row = await self._db.fetchone("SELECT thread FROM alert_keys WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def is_tombstoned(self, key: str) -> bool:
        row = await self._db.fetchone("SELECT 1 FROM alert_tombstones WHERE key = ?", (key,))
        return row is not None

    async def tombstone_time(self, key: str) -> datetime | None:
        """When the Cancel that came before its original was sent (None: no such Cancel)."""
        row = await self._db.fetchone(
            "SELECT a.sent FROM alert_tombstones t JOIN alerts a ON a.id = t.cancelled_by"
            " WHERE t.key = ?",
            (key,),
        )
        return from_ms(row[0]) if row else None

    async def get_thread(self, thread: str) -> Thread | None:
        row = await self._db.fetchone(
            "SELECT thread, state, latest_alert, expires FROM alert_threads WHERE thread = ?",
            (thread,),
        )
        return Thread(str(row[0]), str(row[1]), int(row[2]), from_ms(row[3])) if row else None

    async def get_alert(self, alert_id: int) -> StoredAlert | None:
        row = await self._db.fetchone(
            "SELECT id, thread, document, doc_index FROM alerts WHERE id = ?", (alert_id,)
        )
        return StoredAlert(int(row[0]), str(row[1]), bytes(row[2]), int(row[3])) if row else None

    async def thread_rooms(self, thread: str) -> list[RoomMessage]:
        rows = await self._db.fetchall(
            "SELECT room_id, event_id, pinned, shown FROM alert_messages WHERE thread = ?"
            " ORDER BY room_id",
            (thread,),
        )
        return [RoomMessage(str(r[0]), r[1], bool(r[2]), r[3]) for r in rows]

    async def pending_deliveries(self, limit: int = 500) -> list[tuple[int, str]]:
        rows = await self._db.fetchall(
            "SELECT alert_id, room_id FROM alert_deliveries WHERE done_at IS NULL"
            " ORDER BY alert_id, room_id LIMIT ?",
            (limit,),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    async def mark_delivered(self, alert_id: int, room_id: str, now: datetime) -> None:
        await self._db.execute(
            "UPDATE alert_deliveries SET done_at = ? WHERE alert_id = ? AND room_id = ?",
            (to_ms(now), alert_id, room_id),
        )

    async def set_message(
        self, thread: str, room_id: str, event_id: str | None, pinned: bool, shown: str
    ) -> None:
        await self._db.execute(
            "INSERT INTO alert_messages (thread, room_id, event_id, pinned, shown)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread, room_id) DO UPDATE SET"
            " event_id = excluded.event_id, pinned = excluded.pinned, shown = excluded.shown",
            (thread, room_id, event_id, int(pinned), shown),
        )

    async def set_thread_state(self, thread: str, state: str) -> None:
        await self._db.execute(
            "UPDATE alert_threads SET state = ? WHERE thread = ?", (state, thread)
        )

    async def expired_threads(self, now: datetime) -> list[Thread]:
        rows = await self._db.fetchall(
            "SELECT thread, state, latest_alert, expires FROM alert_threads"
            " WHERE state = 'active' AND expires IS NOT NULL AND expires <= ?",
            (to_ms(now),),
        )
        return [Thread(str(r[0]), str(r[1]), int(r[2]), from_ms(r[3])) for r in rows]

    async def active_threads(self) -> list[Thread]:
        rows = await self._db.fetchall(
            "SELECT thread, state, latest_alert, expires FROM alert_threads"
            " WHERE state = 'active' ORDER BY latest_alert DESC"
        )
        return [Thread(str(r[0]), str(r[1]), int(r[2]), from_ms(r[3])) for r in rows]
