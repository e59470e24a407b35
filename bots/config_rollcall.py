"""Configuration of the safety roll call (安否確認) and the staffing levels (防災体制).

The roster is the ``staff`` of each department (``departments[].staff``); who is told
about missing answers are the department's ``leads``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from bots.config_alerts import AreaCode, Intensity, Level
from bots.config_errors import fail
from bots.config_types import DepartmentId, Duration, LocalText, Model, RoomRef, UserId

LevelId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


class Trigger(Model):
    """An alert condition: every given part must hold, judged in the trigger's areas."""

    #: "city": the city's own codes (alerts.city_codes); "any"; or a list of area codes
    areas: Literal["city", "any"] | tuple[AreaCode, ...] = "city"
    #: earthquakes from this seismic intensity in those areas (e.g. "5-" = 震度5弱)
    min_intensity: Intensity | None = None
    #: the least severe level in those areas
    min_severity: Level | None = None
    #: a kind named in those areas contains one of these (e.g. 津波警報, 特別警報)
    kinds: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> Trigger:
        if self.min_intensity is None and self.min_severity is None and not self.kinds:
            raise fail("a trigger needs min_intensity, min_severity or kinds")
        return self


class RollCallSettings(Model):
    #: the disaster office's room: the tally message and the CSV go there, nowhere else
    #: (default: alerts.office_room)
    room: RoomRef | None = None
    #: alerts that start a roll call by themselves
    triggers: tuple[Trigger, ...] = ()
    #: 訓練/試験 alerts that meet a trigger start a drill roll call (marked 【訓練】)
    drills: bool = True
    #: an automatic roll call waits this long; an officer can stop it (!安否 中止)
    hold: Duration = timedelta(minutes=0)
    #: a new alert for the same area within this window joins the running roll call
    #: (a stronger one starts a new roll call instead)
    aftershock_window: Duration = timedelta(hours=6)
    #: those who have not answered are asked again this often …
    resend_every: Duration = timedelta(minutes=15)
    #: … this many times
    resend_times: int = Field(default=3, ge=0, le=20)
    #: after this many re-sends without an answer, the department's leads are told
    #: (and the gateway, if configured, reaches the person by mail or SMS)
    escalate_after: int = Field(default=2, ge=0, le=20)
    #: an outbound endpoint (outbound.endpoints[].id) for the mail/SMS gateway
    gateway: str | None = None
    #: answers are deleted this long after the roll call is closed
    retention: Duration = timedelta(days=90)

    @model_validator(mode="after")
    def _escalation_reached(self) -> RollCallSettings:
        if self.escalate_after > self.resend_times:
            raise fail(
                f"escalate_after ({self.escalate_after}) is more than resend_times"
                f" ({self.resend_times}): the leads would never be told"
            )
        return self

    @field_validator("resend_every")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise fail("expected at least 1 minute")
        return value


class StaffingLevel(Model):
    """One level of 防災体制 and whom it calls in."""

    id: LevelId
    name: LocalText
    #: where those called in report (shown in their message)
    report_to: LocalText
    #: the departments whose staff it calls in, and individual users
    departments: tuple[DepartmentId, ...] = ()
    users: tuple[UserId, ...] = ()
    #: alerts that raise the city to this level
    triggers: tuple[Trigger, ...] = ()

    @model_validator(mode="after")
    def _someone(self) -> StaffingLevel:
        if not self.departments and not self.users:
            raise fail("a staffing level calls in departments or users; none are given")
        return self


class StaffingSettings(Model):
    #: lowest first: 注意体制, 警戒体制, 非常体制
    levels: tuple[StaffingLevel, ...] = ()

    @field_validator("levels")
    @classmethod
    def _unique(cls, value: tuple[StaffingLevel, ...]) -> tuple[StaffingLevel, ...]:
        ids = [level.id for level in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise fail(f"level id {repeated[0]!r} is used more than once")
        return value

    def level(self, name: str) -> StaffingLevel | None:
        """A level by id or by its Japanese or English name."""
        wanted = name.strip().casefold()
        for level in self.levels:
            names = (level.id, level.name.ja, level.name.en or "")
            if wanted in (n.casefold() for n in names if n):
                return level
        return None

    def rank(self, level_id: str) -> int:
        return [level.id for level in self.levels].index(level_id)


# --- checks against the rest of the config (called by bots.config.Config) ---------------


def check_rollcall(value: RollCallSettings, fields: Mapping[str, Any]) -> RollCallSettings:
    """`fields`: the config's fields validated before `rollcall` (bots, alerts, outbound)."""
    bots = fields.get("bots") or {}
    serving = [name for name, bot in bots.items() if "rollcall" in bot.features]
    if serving and value.room is None:
        alerts = fields.get("alerts")
        if alerts is None or alerts.office_room is None:
            raise fail("the roll call needs a room for its tally: set rollcall.room")
    if value.triggers and serving and "alerts" not in bots[serving[0]].features:
        raise fail(
            f"rollcall.triggers need the alerts feature on the same bot"
            f" ({serving[0]!r} serves rollcall but not alerts)"
        )
    outbound = fields.get("outbound")
    if value.gateway is not None and outbound is not None:
        known = [e.id for e in outbound.endpoints]
        if value.gateway not in known:
            listed = ", ".join(known) or "none"
            raise fail(
                f"gateway {value.gateway!r} is not an outbound endpoint (configured: {listed})"
            )
    return value


def check_staffing(value: StaffingSettings, fields: Mapping[str, Any]) -> StaffingSettings:
    """`fields`: the config's fields validated before `staffing` (departments, bots)."""
    departments = {d.id for d in fields.get("departments") or ()}
    for level in value.levels:
        for department in level.departments:
            if department not in departments:
                listed = ", ".join(sorted(departments)) or "none"
                raise fail(
                    f"level {level.id!r} calls in department {department!r}, which is not"
                    f" configured (departments: {listed})"
                )
    bots = fields.get("bots") or {}
    if value.levels and not any("rollcall" in b.features for b in bots.values()):
        raise fail("staffing levels are run by the bot with the rollcall feature; none has it")
    return value
