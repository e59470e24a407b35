"""The audit log: who did what, when, where, and with what result, for every privileged
action (for records retention and to prove who did what).

Entries are only ever appended: yakuba has no code that changes or deletes one. Each
entry's hash covers its content and the previous entry's hash, so an entry changed or
removed in the database afterwards is found by :meth:`AuditLog.verify`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bots.spreadsheet import csv_bytes, guard
from bots.store.database import Database
from bots.store.times import from_ms, to_ms

GENESIS = "0" * 64
#: the detail kept per entry (a command's text; longer ones are cut)
MAX_DETAIL = 2000


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str  # a full user ID, or "alert:…", "system", "cli:…"
    action: str  # the command: "anpi close", "task assign"…; or "provision invite"…
    room_id: str  # where ("" when not in a room)
    detail: str
    result: str  # "ok", "denied", "error:<catalog key>", "failed"


def _digest(
    prev: str, at_ms: int, actor: str, action: str, room: str, detail: str, result: str
) -> str:
    body = json.dumps([prev, at_ms, actor, action, room, detail, result], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self, actor: str, action: str, room_id: str = "", detail: str = "", result: str = "ok"
    ) -> None:
        at_ms = int(self._clock() * 1000)
        detail = detail[:MAX_DETAIL]
        async with self._db.transaction() as tx:
            row = await tx.fetchone("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
            prev = row[0] if row else GENESIS
            digest = _digest(prev, at_ms, actor, action, room_id, detail, result)
            await tx.execute(
                "INSERT INTO audit_log (at, actor, action, room_id, detail, result, prev_hash,"
                " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (at_ms, actor, action, room_id, detail, result, prev, digest),
            )

    async def entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        where: list[str] = []
        params: list[object] = []
        if since is not None:
            where.append("at >= ?")
            params.append(to_ms(since))
        if until is not None:
            where.append("at < ?")
            params.append(to_ms(until))
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        if action is not None:  # "anpi" matches "anpi start", "anpi close"…
            where.append("(action = ? OR action LIKE ?)")
            params += [action, f"{action} %"]
        sql = "SELECT id, at, actor, action, room_id, detail, result FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self._db.fetchall(sql, params)
        return [
            Entry(int(r[0]), from_ms(r[1]) or datetime.fromtimestamp(0, UTC), *r[2:]) for r in rows
        ]

    async def verify(self) -> int | None:
        """The id of the first entry that was changed, removed after, or inserted out of
        the chain; None when the whole log is intact."""
        rows = await self._db.fetchall(
            "SELECT id, at, actor, action, room_id, detail, result, prev_hash, hash"
            " FROM audit_log ORDER BY id"
        )
        prev = GENESIS
        for row in rows:
            entry_id, at_ms, actor, action, room, detail, result, prev_hash, digest = row
            if prev_hash != prev or digest != _digest(
                prev, at_ms, actor, action, room, detail, result
            ):
                return int(entry_id)
            prev = digest
        return None


async def record_config_load(log: AuditLog, source: Path | None) -> None:
    """yakuba reads its config at start (a changed config takes a restart): which file,
    and its SHA-256, so that what rules applied when can be told afterwards."""
    if source is None:
        await log.record("system", "config load")
        return
    digest = hashlib.sha256(source.read_bytes()).hexdigest()  # noqa: ASYNC240 (once, at start)
    await log.record("system", "config load", "", f"{source} sha256={digest}")


CSV_HEADER = ("id", "at", "actor", "action", "room", "detail", "result")


def to_csv(entries: Sequence[Entry]) -> bytes:
    """For records retention: times in UTC (ISO 8601), free text guarded for spreadsheets."""
    rows = [
        (
            str(e.id),
            e.at.astimezone(UTC).isoformat(),
            e.actor,
            guard(e.action),
            e.room_id,
            guard(e.detail),
            e.result,
        )
        for e in entries
    ]
    return csv_bytes(CSV_HEADER, rows)
