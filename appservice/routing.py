"""Which room events and workflow events go to which internal endpoint (outbound rules)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from appservice.metrics import Metrics
from appservice.outbox import OutboxStore
from bots.config_bridge import Outbound, OutboundRule
from bots.store.database import Database

log = logging.getLogger(__name__)

Resolve = Callable[[str], Awaitable[str | None]]


class OutboundRouter:
    def __init__(
        self,
        outbound: Outbound,
        outbox: OutboxStore,
        resolve_room: Resolve,
        is_own_user: Callable[[str], bool],
        metrics: Metrics,
        wake: asyncio.Event,
        clock: Callable[[], float],
        gateway: str | None = None,
    ) -> None:
        self._rules = outbound.rules
        self._gateway = gateway  # the roll call's mail/SMS gateway endpoint
        self._outbox = outbox
        self._resolve = resolve_room
        self._own = is_own_user
        self._metrics = metrics
        self._wake = wake
        self._clock = clock
        self._rooms: dict[int, frozenset[str]] = {}

    async def _rule_rooms(self, index: int, rule: OutboundRule) -> frozenset[str] | None:
        """The room IDs a rule names (None: every room)."""
        if not rule.rooms:
            return None
        if index in self._rooms:
            return self._rooms[index]
        ids = set()
        complete = True
        for ref in rule.rooms:
            room_id = ref if ref.startswith("!") else await self._resolve(ref)
            if room_id is None:
                log.warning("outbound rule %d: room %s not found (yet)", index, ref)
                complete = False
                continue
            ids.add(room_id)
        if complete:  # an alias that does not exist yet is looked up again next time
            self._rooms[index] = frozenset(ids)
        return frozenset(ids)

    async def route_event(self, room_id: str, event: dict[str, Any]) -> int:
        """Queue the event for every rule it matches; returns how many were new."""
        sender = str(event.get("sender", ""))
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or self._own(sender):
            return 0
        event_type = str(event.get("type", ""))
        content = event.get("content") if isinstance(event.get("content"), dict) else {}
        queued = 0
        for index, rule in enumerate(self._rules):
            if event_type not in rule.event_types:
                continue
            rooms = await self._rule_rooms(index, rule)
            if rooms is not None and room_id not in rooms:
                continue
            if rule.prefix is not None:
                body = content.get("body") if isinstance(content, dict) else None
                if not isinstance(body, str) or not body.lstrip().startswith(rule.prefix):
                    continue
            payload = {
                "type": "room.event",
                "room_id": room_id,
                "event_id": event_id,
                "sender": sender,
                "event_type": event_type,
                "origin_server_ts": event.get("origin_server_ts"),
                "content": content,
            }
            queued += await self._enqueue(rule.endpoint, f"event:{event_id}", payload)
        return queued

    async def _enqueue(self, endpoint: str, key: str, payload: dict[str, Any]) -> int:
        now = datetime.fromtimestamp(self._clock(), UTC)
        if await self._outbox.enqueue(endpoint, key, payload, now):
            self._metrics.webhooks_out_enqueued.labels(endpoint).inc()
            self._wake.set()
            return 1
        return 0

    async def route_task_events(self, db: Database, limit: int = 200) -> int:
        """Forward the task workflow's changes to the endpoints whose rules ask for them."""
        endpoints = sorted({r.endpoint for r in self._rules if r.task_events})
        rows = await db.fetchall(
            "SELECT id, task_id, kind, actor, payload, at FROM task_events"
            " WHERE forwarded_at IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        for row_id, task_id, kind, actor, payload, at in rows:
            body = {
                "type": "task.event",
                "id": row_id,
                "task_id": task_id,
                "kind": kind,
                "actor": actor,
                "at": datetime.fromtimestamp(at / 1000, UTC).isoformat(),
                "task": json.loads(payload),
            }
            for endpoint in endpoints:
                await self._enqueue(endpoint, f"task-event:{row_id}", body)
            await db.execute(
                "UPDATE task_events SET forwarded_at = ? WHERE id = ?",
                (int(self._clock() * 1000), row_id),
            )
        return len(rows)

    async def route_rollcall_events(self, db: Database, limit: int = 200) -> int:
        """The roll call's questions for people the chat did not reach, to the gateway."""
        rows = await db.fetchall(
            "SELECT id, rollcall_id, kind, user_id, payload, at FROM rollcall_events"
            " WHERE forwarded_at IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        for row_id, rollcall_id, kind, user_id, payload, at in rows:
            body = {
                **json.loads(payload),
                "id": row_id,
                "event": kind,
                "rollcall": rollcall_id,
                "user_id": user_id,
                "at": datetime.fromtimestamp(at / 1000, UTC).isoformat(),
            }
            if self._gateway is not None:
                await self._enqueue(self._gateway, f"rollcall-event:{row_id}", body)
            await db.execute(
                "UPDATE rollcall_events SET forwarded_at = ? WHERE id = ?",
                (int(self._clock() * 1000), row_id),
            )
        return len(rows)
