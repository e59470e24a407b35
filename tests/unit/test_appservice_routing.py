"""Outbound rules: which room events are queued for which endpoint."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from appservice.metrics import Metrics
from appservice.outbox import OutboxStore
from appservice.routing import OutboundRouter
from bots.config_bridge import Outbound
from bots.rollcall.model import Kind
from bots.rollcall.store import RollCallStore
from bots.store.database import Database

pytestmark = pytest.mark.postgresql

ROOM = "!room:city.example.jp"


def _outbound(**rule: Any) -> Outbound:
    return Outbound.model_validate(
        {
            "endpoints": [{"id": "ticket", "url": "https://ticket.city.lg.jp/h", "secret": "s"}],
            "rules": [{"endpoint": "ticket", **rule}],
        }
    )


def _event(body: str, sender: str = "@staff:city.example.jp", n: int = 1) -> dict[str, Any]:
    return {
        "event_id": f"$e{n}",
        "type": "m.room.message",
        "sender": sender,
        "content": {"msgtype": "m.text", "body": body},
    }


def _router(db: Database, outbound: Outbound, aliases: dict[str, str | None]) -> OutboundRouter:
    async def resolve(alias: str) -> str | None:
        return aliases.get(alias)

    return OutboundRouter(
        outbound,
        OutboxStore(db),
        resolve,
        lambda user: user.startswith("@_yakuba_"),
        Metrics(),
        asyncio.Event(),
        lambda: 1_800_000_000.0,
    )


async def test_prefix_type_and_own_users(db: Database) -> None:
    router = _router(db, _outbound(prefix="!受付"), {})
    assert await router.route_event(ROOM, _event("!受付 住民票", n=1)) == 1
    assert await router.route_event(ROOM, _event("雑談", n=2)) == 0
    assert await router.route_event(ROOM, _event("!受付 x", sender="@_yakuba_t:c", n=3)) == 0
    state = {**_event("!受付", n=4), "type": "m.room.topic"}
    assert await router.route_event(ROOM, state) == 0
    # the same event again is not queued twice
    assert await router.route_event(ROOM, _event("!受付 住民票", n=1)) == 0


async def test_a_room_alias_created_later_is_found(db: Database) -> None:
    aliases: dict[str, str | None] = {"#soumu:city.example.jp": None}
    router = _router(db, _outbound(rooms=["#soumu:city.example.jp"]), aliases)
    assert await router.route_event(ROOM, _event("hello", n=1)) == 0
    aliases["#soumu:city.example.jp"] = ROOM  # the room got its alias after start-up
    assert await router.route_event(ROOM, _event("hello", n=2)) == 1
    assert await router.route_event("!other:city.example.jp", _event("hello", n=3)) == 0


async def test_roll_call_questions_go_to_the_gateway_once(db: Database) -> None:
    outbound = _outbound()
    router = OutboundRouter(
        outbound,
        OutboxStore(db),
        lambda alias: asyncio.sleep(0, None),
        lambda user: False,
        Metrics(),
        asyncio.Event(),
        lambda: 1_800_000_000.0,
        gateway="ticket",
    )
    store = RollCallStore(db)
    now = datetime(2027, 1, 17, 5, 46, tzinfo=UTC)
    call = await store.create(
        kind=Kind.ANPI,
        level=None,
        drill=False,
        title="震度6弱",
        area_key="alert",
        strength=70,
        started_by="alert",
        status_room=ROOM,
        targets=[("@a:city.example.jp", "soumu"), ("@b:city.example.jp", "soumu")],
        now=now,
    )
    payload = {"type": "anpi.question", "text": "安否を確認しています"}
    await store.mark_escalated(
        call,
        ["@a:city.example.jp", "@b:city.example.jp"],
        [("@a:city.example.jp", payload), ("@b:city.example.jp", payload)],
        now,
    )
    assert await router.route_rollcall_events(db) == 2
    assert await router.route_rollcall_events(db) == 0  # forwarded once
    entries = await OutboxStore(db).get_due(datetime(2030, 1, 1, tzinfo=UTC))
    bodies = sorted((e.payload["user_id"], e.endpoint) for e in entries)
    assert bodies == [("@a:city.example.jp", "ticket"), ("@b:city.example.jp", "ticket")]
    assert entries[0].payload["text"] == "安否を確認しています"
    assert entries[0].payload["rollcall"] == call
