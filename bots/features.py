"""A workflow as the bot runtime sees it: its commands, plus what it does with reactions,
related messages (thread replies) and time. Each is called at most once per event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from bots.commands.router import CommandSet


@dataclass(frozen=True)
class Reaction:
    room_id: str
    event_id: str
    sender: str
    target: str  # the event reacted to
    key: str  # the emoji


@dataclass(frozen=True)
class RelatedMessage:
    """A text message that is not a command; a reply or thread reply names its target."""

    room_id: str
    event_id: str
    sender: str
    text: str
    thread_root: str | None
    in_reply_to: str | None


@dataclass(frozen=True)
class RoomEvent:
    """A room event of a type the runtime does not interpret itself (polls, custom types),
    decrypted where the bot could."""

    room_id: str
    event_id: str
    sender: str
    type: str
    content: dict[str, Any]
    origin_server_ts: int


class Feature(Protocol):
    name: str
    commands: CommandSet

    async def on_reaction(self, reaction: Reaction) -> None: ...

    async def on_related_message(self, message: RelatedMessage) -> None: ...

    async def on_event(self, event: RoomEvent) -> None:
        """An event of another type than a message or a reaction (polls, custom types)."""

    async def on_timeline(self, room_id: str, event_id: str) -> None:
        """Every event the bot sees in a room, in timeline order."""

    async def on_receipt(self, room_id: str, user_id: str, event_id: str) -> None:
        """A public read receipt: the user read up to `event_id`."""

    async def run_due(self) -> int:
        """Do what is due now (reminders, digests); returns how much was done."""
        ...

    async def close(self) -> None:
        """Stop background work (the bot is closing)."""


def relation(content: dict[str, Any]) -> tuple[str | None, str | None]:
    """(thread root, in-reply-to) of a message content."""
    relates = content.get("m.relates_to") or {}
    if not isinstance(relates, dict):
        return None, None
    root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    reply = (relates.get("m.in_reply_to") or {}).get("event_id")
    return (
        root if isinstance(root, str) else None,
        reply if isinstance(reply, str) else None,
    )


class FeatureBase:
    """What every workflow feature has: a clock and handlers that do nothing by default."""

    name = "feature"
    commands: CommandSet

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def on_reaction(self, reaction: Reaction) -> None:
        return None

    async def on_related_message(self, message: RelatedMessage) -> None:
        return None

    async def on_event(self, event: RoomEvent) -> None:
        return None

    async def on_timeline(self, room_id: str, event_id: str) -> None:
        return None

    async def on_receipt(self, room_id: str, user_id: str, event_id: str) -> None:
        return None

    async def run_due(self) -> int:
        return 0

    async def close(self) -> None:
        return None
