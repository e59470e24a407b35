"""Announcements (お知らせ) as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class State(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    EXPIRED = "expired"
    RETRACTED = "retracted"


@dataclass(frozen=True)
class Announcement:
    id: int
    origin_room: str  # where it was announced from (replies go there)
    author: str
    target: str  # "room" or a group id
    title: str
    body: str  # Markdown
    important: bool
    ack_required: bool
    publish_at: datetime
    expires_at: datetime | None
    state: State
    version: int  # edits so far
    created_at: datetime
    reminders_sent: int
    next_reminder_at: datetime | None


@dataclass(frozen=True)
class Copy:
    announcement_id: int
    room_id: str
    event_id: str | None
    pinned: bool


@dataclass(frozen=True)
class RoomStatus:
    room_id: str
    acknowledged: tuple[str, ...]
    seen: tuple[str, ...]  # read past it, not acknowledged
    neither: tuple[str, ...]
