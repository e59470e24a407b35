"""Power levels, room version 12 included (nio's helpers ignore v12 creators).

In room version 12 the creators (the create event's sender and `additional_creators`)
have unlimited power and are not listed in `m.room.power_levels`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# room versions in which creators have infinite power (MSC4289)
_CREATOR_POWER_VERSIONS = frozenset({"12", "org.matrix.hydra.11"})


def creators(create_event_sender: str, create_content: Mapping[str, Any]) -> frozenset[str]:
    """The users who created the room, if the room version gives them infinite power."""
    if str(create_content.get("room_version", "1")) not in _CREATOR_POWER_VERSIONS:
        return frozenset()
    extra = create_content.get("additional_creators") or []
    return frozenset([create_event_sender, *[u for u in extra if isinstance(u, str)]])


def user_power(
    user_id: str,
    power_levels: Mapping[str, Any] | None,
    room_creators: frozenset[str],
    legacy_creator: str | None = None,
) -> float:
    """The power level of `user_id` (math.inf for a v12 creator)."""
    if user_id in room_creators:
        return math.inf
    if power_levels is None:
        # no power levels event: the creator has 100, everyone else 0
        return 100 if user_id == legacy_creator else 0
    users = power_levels.get("users") or {}
    if user_id in users:
        return _as_int(users[user_id])
    return _as_int(power_levels.get("users_default", 0))


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
