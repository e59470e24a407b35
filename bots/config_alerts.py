"""Configuration of disaster alerts: the city's area codes, routes to rooms with their
thresholds, drills, and the Atom feeds to poll."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from bots.config_errors import fail
from bots.config_types import Duration, Model, RoomRef

Level = Literal["info", "advisory", "warning", "emergency"]
_INTENSITIES = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")


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


class Point(Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class AlertRoute(Model):
    """One room and what reaches it."""

    room: RoomRef
    #: the least severe level that reaches the room
    min_severity: Level = "info"
    #: earthquakes reach the room from this intensity (e.g. "5-" = 震度5弱)
    min_intensity: str | None = None
    #: "city": only alerts about the city's own areas; "any": all; or a list of area codes
    areas: Literal["city", "any"] | tuple[AreaCode, ...] = "any"
    #: CAP polygons and circles: the alert concerns the room when it covers one of these
    points: tuple[Point, ...] = ()

    @field_validator("min_intensity")
    @classmethod
    def _intensity(cls, value: str | None) -> str | None:
        if value is not None and value not in _INTENSITIES:
            raise fail(f"expected one of {', '.join(_INTENSITIES)}, got {value!r}")
        return value


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
