"""Configuration of disaster alerts: the city's area codes, routes to rooms with their
thresholds, drills, the Atom feeds to poll, and the Matrix rooms (e.g. the prefecture's,
over federation) whose listed senders post alerts as CAP or JMA XML."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from bots.config_errors import fail
from bots.config_types import Duration, Model, RoomRef, UserId

Level = Literal["info", "advisory", "warning", "emergency"]
INTENSITIES = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")


def area_code(value: str) -> str:
    """Municipality codes: 7-digit JMA (JIS + "00") become the 5-digit JIS code; others
    (5-digit JIS, 6-digit JIS with check digit or JMA area codes, prefectures, CAP
    geocodes) are kept as written."""
    text = str(value).strip()
    if not re.fullmatch(r"[0-9A-Za-z_-]{2,20}", text):
        raise fail(f"expected an area code (JMA or JIS digits, or a CAP geocode), got {value!r}")
    if not text.isdigit():
        return text  # a CAP geocode value such as CAZ017
    if len(text) == 7 and text.endswith("00"):
        return text[:5]
    return text  # 6 digits may be JIS with a check digit or a JMA area code: see area_forms


def area_forms(code: str) -> frozenset[str]:
    """The codes a configured code stands for: a 6-digit code whose last digit is a valid
    JIS check digit also names that JIS municipality (5 digits)."""
    forms = {code}
    if len(code) == 6 and code.isdigit() and _check_digit(code[:5]) == int(code[5]):
        forms.add(code[:5])
    return frozenset(forms)


def _check_digit(jis5: str) -> int:
    total = sum(int(d) * w for d, w in zip(jis5, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


AreaCode = Annotated[str, AfterValidator(area_code)]


def intensity_code(value: str) -> str:
    """A seismic intensity as JMA codes it: "5-" is 震度5弱, "6+" 震度6強."""
    if value not in INTENSITIES:
        raise fail(f"expected one of {', '.join(INTENSITIES)}, got {value!r}")
    return value


Intensity = Annotated[str, AfterValidator(intensity_code)]


class Point(Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class AlertRoute(Model):
    """One room and what reaches it."""

    room: RoomRef
    #: the least severe level that reaches the room
    min_severity: Level = "info"
    #: earthquakes reach the room from this intensity (e.g. "5-" = 震度5弱)
    min_intensity: Intensity | None = None
    #: "city": only alerts about the city's own areas; "any": all; or a list of area codes
    areas: Literal["city", "any"] | tuple[AreaCode, ...] = "any"
    #: CAP polygons and circles: the alert concerns the room when it covers one of these
    points: tuple[Point, ...] = ()


class Drills(Model):
    """訓練 / 試験 / Exercise / Test messages: never shown as real alerts."""

    mode: Literal["room", "drop"] = "drop"
    room: RoomRef | None = None


class Feed(Model):
    """An Atom feed to poll (JMA's, or an internal mirror on a closed network)."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
    url: str
    #: the long feed to catch up from after downtime (optional)
    long_url: str | None = None
    every: Duration = timedelta(minutes=1)
    #: no successful poll for this long is an alarm
    alarm_after: Duration = timedelta(minutes=10)


#: the event form a Matrix source names by default: a custom event type whose content
#: carries the XML under `content_key`
DEFAULT_ALERT_EVENT_TYPE = "jp.yakuba.alert"
#: the other form: a plain text message (msgtype m.text) whose body is the XML
MESSAGE_EVENT_TYPE = "m.room.message"
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")


def alert_event_type(value: str) -> str:
    """A custom, namespaced event type (`jp.yakuba.alert`, `jp.lg.pref.bousai.alert`), or
    `m.room.message`; other `m.` types are the spec's own and never carry an alert."""
    if value == MESSAGE_EVENT_TYPE:
        return value
    if value.startswith("m.") or not _EVENT_TYPE.fullmatch(value) or len(value) > 255:
        raise fail(
            f"expected a namespaced custom event type like {DEFAULT_ALERT_EVENT_TYPE!r}, or"
            f" {MESSAGE_EVENT_TYPE!r} for a text message whose body is the XML, got {value!r}"
        )
    return value


class MatrixSource(Model):
    """A room whose listed senders post CAP or JMA XML alerts (e.g. the prefecture's shared
    disaster room, over federation). Their alerts are routed by the city's own `routes`;
    the same event form from anyone else is ignored and logged. Listing a sender here
    grants nothing else: commands still follow `roles` and `security.trusted_users`."""

    room: RoomRef
    #: full user IDs whose alerts are taken (e.g. the prefecture's alert-system account)
    senders: tuple[UserId, ...]
    #: the event type that carries an alert; `m.room.message`: a text message (m.text)
    #: whose body is the XML
    event_type: Annotated[str, AfterValidator(alert_event_type)] = DEFAULT_ALERT_EVENT_TYPE
    #: the content key holding the XML string (custom event types only; default "xml")
    content_key: Annotated[str, Field(min_length=1, max_length=255)] | None = None

    @field_validator("senders")
    @classmethod
    def _some_senders(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise fail("list at least one sender (full user IDs like @bousai:pref.example.jp)")
        return value

    @model_validator(mode="after")
    def _key_for_messages(self) -> MatrixSource:
        if self.event_type == MESSAGE_EVENT_TYPE and self.content_key not in (None, "body"):
            raise fail(
                f"content_key {self.content_key!r}: with event_type {MESSAGE_EVENT_TYPE!r} the"
                " XML is the message body; leave content_key out"
            )
        return self

    @property
    def is_message(self) -> bool:
        return self.event_type == MESSAGE_EVENT_TYPE

    @property
    def key(self) -> str:
        """The content key that holds the XML."""
        return "body" if self.is_message else self.content_key or "xml"


class AlertSettings(Model):
    #: the city's own municipality codes (JMA 7-digit, JIS 6-digit with check digit, or 5)
    city_codes: tuple[AreaCode, ...] = ()
    routes: tuple[AlertRoute, ...] = ()
    drills: Drills = Drills()
    #: alerts at this level or above notify the whole room and stay pinned while active
    pin_level: Level = "emergency"
    #: manual alerts (!alert) at this level need a second disaster officer to confirm
    confirm_level: Level = "emergency"
    #: the disaster office's room, told once when a feed stalls and again when it recovers
    office_room: RoomRef | None = None
    feeds: tuple[Feed, ...] = ()
    #: Matrix rooms whose listed senders post alerts (the prefecture's, over federation)
    matrix_sources: tuple[MatrixSource, ...] = ()
