"""What a workflow may do in Matrix, as a port: the services call it, the Matrix layer
(`bots.matrix.messenger`) performs it, and unit tests pass a recording fake.

Every send names a ledger `key` that says what the message is for; the same key never
sends twice.
"""

from __future__ import annotations

from typing import Any, Protocol


class Messenger(Protocol):
    @property
    def user_id(self) -> str: ...

    async def send(
        self, room_id: str, content: dict[str, Any], key: str, event_type: str = "m.room.message"
    ) -> str | None:
        """Send once; the event id, or None if it is queued for a retry."""

    async def edit(
        self, room_id: str, event_id: str, new_content: dict[str, Any], key: str
    ) -> str | None:
        """Replace a message's content (m.replace)."""

    async def direct_room(self, user_id: str) -> str | None:
        """The encrypted direct room with this user, created if missing; None while a new
        room is not ready to send in yet (created, not yet seen in sync: ask again later)."""

    async def pin(self, room_id: str, event_id: str) -> bool:
        """Add to the room's pinned events, keeping the others; False if not allowed."""

    async def unpin(self, room_id: str, event_id: str) -> bool:
        """Remove from the room's pinned events; False if not allowed."""

    async def upload(
        self, room_id: str, data: bytes, filename: str, mimetype: str, key: str
    ) -> str | None:
        """Upload a file (encrypted in encrypted rooms) and post it; the event id."""

    async def redact(self, room_id: str, event_id: str, reason: str, key: str) -> bool:
        """Redact an event; True if the homeserver accepted it."""

    def members(self, room_id: str) -> list[str]:
        """Joined members of the room."""

    def is_member(self, room_id: str, user_id: str) -> bool:
        """True if the user is joined to or invited into the room."""

    def member_count(self, room_id: str) -> int:
        """Joined and invited members (a direct chat with a bot has 2)."""

    def room_name(self, room_id: str) -> str:
        """The room's display name (for text only)."""

    def display_name(self, room_id: str, user_id: str) -> str:
        """The user's display name in the room (for text only, never for decisions)."""
