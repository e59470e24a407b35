"""Tasks as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Status(StrEnum):
    OPEN = "open"
    DONE = "done"
    DELETED = "deleted"


@dataclass(frozen=True)
class Task:
    id: int  # unique in the store
    number: int  # short id shown to people, unique per room: [12]
    room_id: str
    title: str
    creator: str  # full user ID of who added (and so assigned) it
    assignees: tuple[str, ...]
    due: datetime | None  # aware (UTC in the store)
    priority: Priority
    tags: tuple[str, ...]
    status: Status
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    event_id: str | None = None  # the task's message in its room

    @property
    def is_open(self) -> bool:
        return self.status is Status.OPEN


@dataclass(frozen=True)
class Comment:
    task_id: int
    author: str
    text: str
    at: datetime
    event_id: str | None = None
