"""What permissions need to know about a room: power levels (room v12 creators included)
and the names config may use for it (room ID, aliases)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from nio import AsyncClient, RoomGetStateResponse

from bots.config import Config
from bots.matrix.powerlevels import creators, user_power

log = logging.getLogger(__name__)


class RoomState:
    def __init__(self, client: AsyncClient, config: Config) -> None:
        self._client = client
        self._config = config
        #: room_id -> (sender, content) of its m.room.create event; it never changes
        self._create_events: dict[str, tuple[str, dict[str, Any]]] = {}
        self._alias_cache: dict[str, str] = {}

    def remember(self, room_id: str, events: Sequence[Any]) -> None:
        """Keep the create event when a sync shows it (state or timeline)."""
        for event in events:
            source = getattr(event, "source", None) or {}
            if source.get("type") == "m.room.create" and source.get("state_key") == "":
                self._create_events[room_id] = (source["sender"], source.get("content") or {})

    async def _create_event(self, room_id: str) -> tuple[str, dict[str, Any]]:
        if room_id not in self._create_events:
            response = await self._client.room_get_state(room_id)
            if isinstance(response, RoomGetStateResponse):
                self.remember(room_id, [_Source(e) for e in response.events])
            else:
                log.warning("cannot read the state of %s: %s", room_id, response)
        return self._create_events.get(room_id, ("", {}))

    async def power(self, user_id: str, room_id: str) -> float:
        room = self._client.rooms.get(room_id)
        if room is None:
            return 0
        levels = room.power_levels
        content = {"users": dict(levels.users), "users_default": levels.defaults.users_default}
        sender, create = await self._create_event(room_id)
        return user_power(user_id, content, creators(sender, create), legacy_creator=sender)

    async def names(self, room_id: str) -> frozenset[str]:
        names = {room_id}
        room = self._client.rooms.get(room_id)
        if room is not None and room.canonical_alias:
            names.add(room.canonical_alias)
        for department in self._config.departments:
            for ref in department.rooms:
                if ref.startswith("#") and await self.resolve(ref) == room_id:
                    names.add(ref)
        return frozenset(names)

    async def resolve(self, ref: str) -> str | None:
        """The room ID of a room ID or alias (found aliases are remembered; a missing one
        is asked again next time, since it may be created later)."""
        if ref.startswith("!"):
            return ref
        alias = ref
        if alias not in self._alias_cache:
            response = await self._client.room_resolve_alias(alias)
            room_id = getattr(response, "room_id", None)
            if room_id is None:
                return None  # not cached: the alias may be created later
            self._alias_cache[alias] = room_id
        return self._alias_cache[alias]


class _Source:
    """A raw state event dict seen through `.source`, like nio's parsed events."""

    def __init__(self, source: dict[str, Any]) -> None:
        self.source = source
