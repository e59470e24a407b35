"""Roll calls in the store: each change one transaction, so a restart loses no answer
and asks no question twice (the send ledger keys the messages themselves)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bots.rollcall.model import Answer, Attendance, Kind, RollCall, Safety, State, Target
from bots.store.database import Database, Row
from bots.store.times import from_ms, to_ms

_CALL = (
    "id, kind, level, drill, state, title, area_key, strength, started_by, created_at,"
    " hold_until, started_at, closed_at, status_room, status_event"
)
_TARGET = (
    "rollcall_id, user_id, department, rounds, due_at, room_id, safety, attendance, note,"
    " answered_at, escalated_at"
)


def _call(row: Row) -> RollCall:
    created = from_ms(row[9])
    assert created is not None
    return RollCall(
        id=int(row[0]),
        kind=Kind(row[1]),
        level=row[2],
        drill=bool(row[3]),
        state=State(row[4]),
        title=row[5],
        area_key=row[6],
        strength=int(row[7]),
        started_by=row[8],
        created_at=created,
        hold_until=from_ms(row[10]),
        started_at=from_ms(row[11]),
        closed_at=from_ms(row[12]),
        status_room=row[13],
        status_event=row[14],
    )


def _target(row: Row) -> Target:
    return Target(
        rollcall_id=int(row[0]),
        user_id=row[1],
        department=row[2],
        rounds=int(row[3]),
        due_at=from_ms(row[4]),
        room_id=row[5],
        safety=Safety(row[6]) if row[6] else None,
        attendance=Attendance(row[7]) if row[7] else None,
        note=row[8],
        answered_at=from_ms(row[9]),
        escalated=row[10] is not None,
    )


class RollCallStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.db = db  # the database the roll call shares (the staff list is kept there too)

    # --- roll calls ---------------------------------------------------------------------

    async def create(
        self,
        *,
        kind: Kind,
        level: str | None,
        drill: bool,
        title: str,
        area_key: str,
        strength: int,
        started_by: str,
        status_room: str,
        targets: Sequence[tuple[str, str]],
        now: datetime,
        hold_until: datetime | None = None,
        alert: tuple[str, str] | None = None,
        supersede: int | None = None,
    ) -> int:
        """The roll call, one row per person and the alert that started it, together.
        A roll call it supersedes is ended in the same transaction."""
        state = State.HELD if hold_until is not None and hold_until > now else State.RUNNING
        async with self._db.transaction() as tx:
            if supersede is not None:
                await tx.execute(
                    "UPDATE rollcalls SET state = ?, closed_at = ?,"
                    " status_version = status_version + 1 WHERE id = ?",
                    (State.SUPERSEDED.value, to_ms(now), supersede),
                )
                await tx.execute(
                    "UPDATE rollcall_targets SET due_at = NULL WHERE rollcall_id = ?",
                    (supersede,),
                )
            await tx.execute(
                "INSERT INTO rollcalls (kind, level, drill, state, title, area_key, strength,"
                " started_by, created_at, hold_until, started_at, status_room)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind.value,
                    level,
                    int(drill),
                    state.value,
                    title,
                    area_key,
                    strength,
                    started_by,
                    to_ms(now),
                    to_ms(hold_until) if state is State.HELD and hold_until else None,
                    None if state is State.HELD else to_ms(now),
                    status_room,
                ),
            )
            row = await tx.fetchone("SELECT MAX(id) FROM rollcalls")
            assert row is not None
            call_id = int(row[0])
            due = to_ms(hold_until if state is State.HELD and hold_until else now)
            await tx.executemany(
                "INSERT INTO rollcall_targets (rollcall_id, user_id, department, due_at)"
                " VALUES (?, ?, ?, ?)",
                [(call_id, user, department, due) for user, department in targets],
            )
            if alert is not None:
                await tx.execute(
                    "INSERT INTO rollcall_alerts (alert_key, rollcall_id, series, at)"
                    " VALUES (?, ?, ?, ?)",
                    (alert[0], call_id, alert[1], to_ms(now)),
                )
        return call_id

    async def get(self, call_id: int) -> RollCall | None:
        row = await self._db.fetchone(f"SELECT {_CALL} FROM rollcalls WHERE id = ?", (call_id,))
        return _call(row) if row else None

    async def open_calls(self, kind: Kind | None = None) -> list[RollCall]:
        rows = await self._db.fetchall(
            f"SELECT {_CALL} FROM rollcalls WHERE state IN (?, ?) ORDER BY id",
            (State.HELD.value, State.RUNNING.value),
        )
        calls = [_call(r) for r in rows]
        return [c for c in calls if kind is None or c.kind is kind]

    async def latest(self, kind: Kind, limit: int = 5) -> list[RollCall]:
        rows = await self._db.fetchall(
            f"SELECT {_CALL} FROM rollcalls WHERE kind = ? ORDER BY id DESC LIMIT ?",
            (kind.value, limit),
        )
        return [_call(r) for r in rows]

    async def set_state(self, call_id: int, state: State, now: datetime, by: str) -> bool:
        """Move an open roll call to another state; False if it was not open."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone("SELECT state FROM rollcalls WHERE id = ?", (call_id,))
            if row is None or not State(row[0]).is_open:
                return False
            if state is State.RUNNING:
                await tx.execute(
                    "UPDATE rollcalls SET state = ?, started_at = ?, hold_until = NULL,"
                    " status_version = status_version + 1 WHERE id = ?",
                    (state.value, to_ms(now), call_id),
                )
                await tx.execute(
                    "UPDATE rollcall_targets SET due_at = ? WHERE rollcall_id = ?",
                    (to_ms(now), call_id),
                )
                return True
            await tx.execute(
                "UPDATE rollcalls SET state = ?, closed_at = ?, closed_by = ?,"
                " status_version = status_version + 1 WHERE id = ?",
                (state.value, to_ms(now), by, call_id),
            )
            await tx.execute(
                "UPDATE rollcall_targets SET due_at = NULL WHERE rollcall_id = ?", (call_id,)
            )
        return True

    async def holds_over(self, now: datetime) -> list[int]:
        rows = await self._db.fetchall(
            "SELECT id FROM rollcalls WHERE state = ? AND hold_until <= ? ORDER BY id",
            (State.HELD.value, to_ms(now)),
        )
        return [int(r[0]) for r in rows]

    # --- alerts ---------------------------------------------------------------------------

    async def attach_alert(self, call_id: int, key: str, series: str, now: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO rollcall_alerts (alert_key, rollcall_id, series, at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (key, call_id, series, to_ms(now)),
            )
            await tx.execute(
                "UPDATE rollcalls SET status_version = status_version + 1 WHERE id = ?",
                (call_id,),
            )

    async def alert_seen(self, key: str) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM rollcall_alerts WHERE alert_key = ? LIMIT 1", (key,)
        )
        return row is not None

    async def calls_of_series(self, series: str) -> list[int]:
        rows = await self._db.fetchall(
            "SELECT DISTINCT rollcall_id FROM rollcall_alerts WHERE series = ?", (series,)
        )
        return [int(r[0]) for r in rows]

    async def last_alert_at(self, call_id: int) -> datetime | None:
        row = await self._db.fetchone(
            "SELECT MAX(at) FROM rollcall_alerts WHERE rollcall_id = ?", (call_id,)
        )
        return from_ms(row[0]) if row and row[0] is not None else None

    async def alert_count(self, call_id: int) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM rollcall_alerts WHERE rollcall_id = ?", (call_id,)
        )
        return int(row[0]) if row else 0

    # --- people ---------------------------------------------------------------------------

    async def targets(self, call_id: int) -> list[Target]:
        rows = await self._db.fetchall(
            f"SELECT {_TARGET} FROM rollcall_targets WHERE rollcall_id = ?"
            " ORDER BY department, user_id",
            (call_id,),
        )
        return [_target(r) for r in rows]

    async def due(self, now: datetime, limit: int = 500) -> list[Target]:
        """People to ask (again) now, in running roll calls."""
        rows = await self._db.fetchall(
            f"SELECT {', '.join('t.' + c.strip() for c in _TARGET.split(','))}"
            " FROM rollcall_targets t JOIN rollcalls c ON c.id = t.rollcall_id"
            " WHERE t.due_at IS NOT NULL AND t.due_at <= ? AND c.state = ?"
            " ORDER BY t.due_at, t.rollcall_id, t.user_id LIMIT ?",
            (to_ms(now), State.RUNNING.value, limit),
        )
        return [_target(r) for r in rows]

    async def record_question(
        self,
        target: Target,
        room_id: str,
        event_id: str,
        round_: int,
        next_due: datetime | None,
    ) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO rollcall_questions (event_id, rollcall_id, user_id, room_id, round)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (event_id, target.rollcall_id, target.user_id, room_id, round_),
            )
            await tx.execute(
                "UPDATE rollcall_targets SET rounds = ?, room_id = ?, due_at = ?"
                " WHERE rollcall_id = ? AND user_id = ? AND answered_at IS NULL",
                (
                    round_,
                    room_id,
                    to_ms(next_due) if next_due else None,
                    target.rollcall_id,
                    target.user_id,
                ),
            )
            # answered meanwhile: count the question, ask no more
            await tx.execute(
                "UPDATE rollcall_targets SET rounds = ?, room_id = ?, due_at = NULL"
                " WHERE rollcall_id = ? AND user_id = ? AND answered_at IS NOT NULL",
                (round_, room_id, target.rollcall_id, target.user_id),
            )

    async def asked_in(
        self, room_id: str, user_id: str, question: str | None = None
    ) -> list[tuple[RollCall, Target]]:
        """The roll calls that asked `user_id` in `room_id`, oldest first; only the one
        the question belongs to when the message relates to a question."""
        if question is not None:
            row = await self._db.fetchone(
                "SELECT rollcall_id FROM rollcall_questions WHERE event_id = ? AND user_id = ?",
                (question, user_id),
            )
            if row is not None:
                call_ids = [int(row[0])]
            else:
                question = None
        if question is None:
            rows = await self._db.fetchall(
                "SELECT rollcall_id FROM rollcall_targets WHERE room_id = ? AND user_id = ?"
                " ORDER BY rollcall_id",
                (room_id, user_id),
            )
            call_ids = [int(r[0]) for r in rows]
        found: list[tuple[RollCall, Target]] = []
        for call_id in call_ids:
            call = await self.get(call_id)
            target = await self.target(call_id, user_id)
            if call is not None and target is not None and target.room_id == room_id:
                found.append((call, target))
        return found

    async def target(self, call_id: int, user_id: str) -> Target | None:
        row = await self._db.fetchone(
            f"SELECT {_TARGET} FROM rollcall_targets WHERE rollcall_id = ? AND user_id = ?",
            (call_id, user_id),
        )
        return _target(row) if row else None

    async def record_answer(
        self, call_id: int, user_id: str, answer: Answer, event_id: str, now: datetime
    ) -> bool:
        """Store the (merged) answer; False if the roll call is no longer running."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone("SELECT state FROM rollcalls WHERE id = ?", (call_id,))
            if row is None or State(row[0]) is not State.RUNNING:
                return False
            changed = await tx.execute(
                "UPDATE rollcall_targets SET safety = ?, attendance = ?, note = ?,"
                " answered_at = ?, answer_event = ?, receipt_for = ?, due_at = NULL"
                " WHERE rollcall_id = ? AND user_id = ?",
                (
                    answer.safety.value if answer.safety else None,
                    answer.attendance.value if answer.attendance else None,
                    answer.note,
                    to_ms(now),
                    event_id,
                    event_id,
                    call_id,
                    user_id,
                ),
            )
            await tx.execute(
                "UPDATE rollcalls SET status_version = status_version + 1 WHERE id = ?",
                (call_id,),
            )
        return changed > 0

    async def receipts_owed(self, limit: int = 500) -> list[tuple[Target, str]]:
        """People whose latest answer has no receipt yet, with that answer's event."""
        rows = await self._db.fetchall(
            f"SELECT {_TARGET}, receipt_for FROM rollcall_targets"
            " WHERE receipt_for IS NOT NULL ORDER BY answered_at LIMIT ?",
            (limit,),
        )
        return [(_target(r), str(r[-1])) for r in rows]

    async def receipt_sent(self, call_id: int, user_id: str, answer_event: str) -> None:
        """Done, unless a newer answer came meanwhile (it is owed its own receipt)."""
        await self._db.execute(
            "UPDATE rollcall_targets SET receipt_for = NULL"
            " WHERE rollcall_id = ? AND user_id = ? AND receipt_for = ?",
            (call_id, user_id, answer_event),
        )

    # --- escalation ---------------------------------------------------------------------

    async def to_escalate(self, rounds: int) -> list[Target]:
        """Unanswered people in running roll calls asked at least `rounds` times, not yet
        reported to their leads."""
        rows = await self._db.fetchall(
            f"SELECT {', '.join('t.' + c.strip() for c in _TARGET.split(','))}"
            " FROM rollcall_targets t JOIN rollcalls c ON c.id = t.rollcall_id"
            " WHERE c.state = ? AND t.answered_at IS NULL AND t.escalated_at IS NULL"
            " AND t.rounds >= ? ORDER BY t.rollcall_id, t.department, t.user_id",
            (State.RUNNING.value, rounds),
        )
        return [_target(r) for r in rows]

    async def mark_escalated(
        self,
        call_id: int,
        users: Sequence[str],
        events: Sequence[tuple[str, dict[str, Any]]],
        now: datetime,
    ) -> None:
        """Mark people reported, and queue the gateway's messages, together."""
        async with self._db.transaction() as tx:
            await tx.executemany(
                "UPDATE rollcall_targets SET escalated_at = ?"
                " WHERE rollcall_id = ? AND user_id = ?",
                [(to_ms(now), call_id, user) for user in users],
            )
            await tx.executemany(
                "INSERT INTO rollcall_events (rollcall_id, kind, user_id, payload, at)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (call_id, "question", user, json.dumps(payload, ensure_ascii=False), to_ms(now))
                    for user, payload in events
                ],
            )

    # --- the tally message ------------------------------------------------------------------

    async def stale_status(self) -> list[tuple[RollCall, int]]:
        """Roll calls whose tally message is behind, with the version to show."""
        rows = await self._db.fetchall(
            f"SELECT {_CALL}, status_version FROM rollcalls"
            " WHERE status_shown < status_version AND purged_at IS NULL ORDER BY id"
        )
        return [(_call(r), int(r[-1])) for r in rows]

    async def status_shown(self, call_id: int, event_id: str, version: int) -> None:
        await self._db.execute(
            "UPDATE rollcalls SET status_event = ?, status_shown = ? WHERE id = ?",
            (event_id, version, call_id),
        )

    # --- retention ----------------------------------------------------------------------

    async def purge(self, closed_before: datetime, now: datetime) -> int:
        """Delete the answers of roll calls closed before then; the roll call itself stays."""
        rows = await self._db.fetchall(
            "SELECT id FROM rollcalls WHERE closed_at IS NOT NULL AND closed_at < ?"
            " AND purged_at IS NULL",
            (to_ms(closed_before),),
        )
        for (call_id,) in rows:
            async with self._db.transaction() as tx:
                for table in ("rollcall_targets", "rollcall_questions", "rollcall_events"):
                    await tx.execute(f"DELETE FROM {table} WHERE rollcall_id = ?", (call_id,))
                await tx.execute(
                    "UPDATE rollcalls SET purged_at = ? WHERE id = ?",
                    (to_ms(now), call_id),
                )
        return len(rows)
