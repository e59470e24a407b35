"""Outbound rules: which room events are queued for which endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

from appservice.metrics import Metrics
from appservice.outbox import OutboxStore
from appservice.routing import OutboundRouter
from bots.config_bridge import Outbound
from bots.store.database import Database

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
