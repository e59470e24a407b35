"""What a CAP alert carries besides its key: info blocks per language, areas, values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bots.alerts.levels import Severity

DEFAULT_LANGUAGE = "en-US"  # CAP: a missing <language> means en-US


class Scope(StrEnum):
    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class Category(StrEnum):
    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class ResponseType(StrEnum):
    SHELTER = "Shelter"
    EVACUATE = "Evacuate"
    PREPARE = "Prepare"
    EXECUTE = "Execute"
    AVOID = "Avoid"
    MONITOR = "Monitor"
    ASSESS = "Assess"
    ALL_CLEAR = "AllClear"
    NONE = "None"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class CapSeverity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"

    def level(self) -> Severity:
        return {
            CapSeverity.EXTREME: Severity.EMERGENCY,
            CapSeverity.SEVERE: Severity.WARNING,
            CapSeverity.MODERATE: Severity.WARNING,
            CapSeverity.MINOR: Severity.ADVISORY,
        }.get(self, Severity.INFO)


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"
    VERY_LIKELY = "Very Likely"  # CAP 1.1 only (deprecated in 1.2, read as Likely)


@dataclass(frozen=True)
class NamedValue:
    """A CAP ``valueName``/``value`` pair (eventCode, parameter, geocode). Names repeat,
    so these stay an ordered tuple of pairs rather than a dict."""

    name: str
    value: str


def values_named(pairs: Sequence[NamedValue], name: str) -> tuple[str, ...]:
    return tuple(p.value for p in pairs if p.name == name)


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


Point = tuple[float, float]  # (lat, lon), WGS 84
Polygon = tuple[Point, ...]  # closed: first point == last point


@dataclass(frozen=True)
class CapArea:
    description: str  # areaDesc
    polygons: tuple[Polygon, ...] = ()
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[NamedValue, ...] = ()
    altitude: float | None = None  # feet above mean sea level
    ceiling: float | None = None

    def geocode_values(self, name: str) -> tuple[str, ...]:
        """Every geocode value under ``name`` (e.g. ``"SAME"``), in document order."""
        return values_named(self.geocodes, name)

    def geocode_map(self) -> dict[str, tuple[str, ...]]:
        result: dict[str, tuple[str, ...]] = {}
        for pair in self.geocodes:
            result[pair.name] = (*result.get(pair.name, ()), pair.value)
        return result


@dataclass(frozen=True)
class CapResource:
    description: str
    mime_type: str
    uri: str = ""
    size: int | None = None
    digest: str = ""


@dataclass(frozen=True)
class CapInfo:
    """One ``<info>`` block: the alert in one language."""

    language: str
    categories: tuple[Category, ...]
    event: str
    urgency: Urgency
    severity: CapSeverity
    certainty: Certainty
    response_types: tuple[ResponseType, ...] = ()
    audience: str = ""
    event_codes: tuple[NamedValue, ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    contact: str = ""
    parameters: tuple[NamedValue, ...] = ()
    resources: tuple[CapResource, ...] = ()
    areas: tuple[CapArea, ...] = ()

    def parameter_values(self, name: str) -> tuple[str, ...]:
        return values_named(self.parameters, name)

    def event_code_values(self, name: str) -> tuple[str, ...]:
        return values_named(self.event_codes, name)


@dataclass(frozen=True)
class CapDetails:
    """The CAP-only part of an alert."""

    version: str  # "1.2" or "1.1"
    scope: Scope
    infos: tuple[CapInfo, ...] = ()
    source: str = ""
    restriction: str = ""
    addresses: str = ""
    codes: tuple[str, ...] = ()
    note: str = ""
    incidents: tuple[str, ...] = ()
    signed: bool = False  # carries an XML signature (not verified here)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages present, in document order, without repeats."""
        return tuple(dict.fromkeys(info.language for info in self.infos))

    def infos_in(self, preferred: Sequence[str] = ()) -> tuple[CapInfo, ...]:
        """The blocks of the best language for a reader, in their order (a sequence).

        Tries each preferred tag exactly (case-insensitive), then by primary language
        (``ja`` matches ``ja-JP``), then en-US, then English, then the first language
        of the message."""
        if not self.infos:
            return ()
        languages = self.languages
        chosen = _choose(languages, [*preferred, DEFAULT_LANGUAGE, "en"]) or languages[0]
        return tuple(info for info in self.infos if info.language == chosen)


def _choose(available: Sequence[str], wanted: Sequence[str]) -> str | None:
    for tag in wanted:
        lowered = tag.lower()
        for language in available:
            if language.lower() == lowered:
                return language
        primary = lowered.split("-")[0]
        for language in available:
            if language.lower().split("-")[0] == primary:
                return language
    return None
