"""Roll calls and answers as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    ANPI = "anpi"  # 安否確認: safe or injured, can come in or not
    STAFFING = "staffing"  # 参集: those a staffing level calls in acknowledge


class State(StrEnum):
    HELD = "held"  # started by an alert, waiting for the hold (an officer may stop it)
    RUNNING = "running"
    STOPPED = "stopped"  # stopped by an officer (a false report) or by a 取消
    SUPERSEDED = "superseded"  # a stronger quake started a new roll call
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self in (State.HELD, State.RUNNING)


class Safety(StrEnum):
    SAFE = "safe"  # 無事
    MINOR = "minor"  # 軽傷
    SERIOUS = "serious"  # 重傷


class Attendance(StrEnum):
    YES = "yes"  # 出勤可能 / 参集します
    NO = "no"  # 出勤不可 / 参集できない


@dataclass(frozen=True)
class Answer:
    """What one reply says; parts not said are None (a later answer fills them in)."""

    safety: Safety | None = None
    attendance: Attendance | None = None
    note: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.safety is None and self.attendance is None


@dataclass(frozen=True)
class RollCall:
    id: int
    kind: Kind
    level: str | None
    drill: bool
    state: State
    title: str
    area_key: str
    strength: int
    started_by: str
    created_at: datetime
    hold_until: datetime | None
    started_at: datetime | None
    closed_at: datetime | None
    status_room: str
    status_event: str | None


@dataclass(frozen=True)
class Target:
    """One person asked, and their latest answer."""

    rollcall_id: int
    user_id: str
    department: str
    rounds: int
    due_at: datetime | None
    room_id: str | None
    safety: Safety | None
    attendance: Attendance | None
    note: str | None
    answered_at: datetime | None
    escalated: bool

    @property
    def answered(self) -> bool:
        return self.answered_at is not None
