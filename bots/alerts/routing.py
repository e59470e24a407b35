"""Which rooms an alert concerns, and how strongly (pure).

An alert's areas are read as codes (JMA municipality codes as 5-digit JIS, JMA area and
prefecture codes, CAP geocode values) and, for CAP, as polygons and circles. A route
names the areas it cares about ("city", "any", or codes) and the least severe level and
seismic intensity that reach its room. For areas-restricted routes, the level is the one
*in those areas* (the city's 震度3 is not the 震度6弱 elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bots.alerts.levels import SeismicIntensity, Severity
from bots.alerts.model import Alert, Status
from bots.config_alerts import AlertRoute, AlertSettings, Point, area_forms

LEVELS = {
    "info": Severity.INFO,
    "advisory": Severity.ADVISORY,
    "warning": Severity.WARNING,
    "emergency": Severity.EMERGENCY,
}


@dataclass(frozen=True)
class Concern:
    """How an alert concerns a route: the level and intensity there, and the area names."""

    severity: Severity
    intensity: SeismicIntensity | None
    area_names: tuple[str, ...]


@dataclass(frozen=True)
class AreaLevel:
    """One area an alert names: its codes, its own level, and the kinds in force there
    (気象警報 kinds, a tsunami grade, a CAP event)."""

    codes: frozenset[str]
    name: str
    severity: Severity
    intensity: SeismicIntensity | None
    kinds: tuple[str, ...] = ()


def _forms(code: str) -> set[str]:
    """An alert's code and what else it names: a 7-digit JMA municipality code (including
    the parts of a split municipality, 4621501) also names its 5-digit JIS code; JMA's
    6-digit area codes stay as they are (they are not JIS codes with a check digit)."""
    text = code.strip()
    if len(text) == 7 and text.isdigit():
        return {text, text[:5]}
    return {text} if text else set()


def _intensity_severity(intensity: SeismicIntensity | None) -> Severity:
    if intensity is None:
        return Severity.INFO
    if intensity >= SeismicIntensity.SIX_LOWER:
        return Severity.EMERGENCY
    if intensity >= SeismicIntensity.FIVE_LOWER:
        return Severity.WARNING
    if intensity >= SeismicIntensity.FOUR:
        return Severity.ADVISORY
    return Severity.INFO


def area_levels(alert: Alert) -> list[AreaLevel]:
    """Every area the alert names, with its own level."""
    out: list[AreaLevel] = []
    if alert.jma is not None:
        jma = alert.jma
        for w in jma.warnings:
            kinds = tuple(k.name for k in w.active_kinds)
            out.append(AreaLevel(frozenset(_forms(w.code)), w.name, w.severity, None, kinds))
        for a in jma.intensities:
            codes = _forms(a.code) | (_forms(a.parent_code) if a.parent_code else set())
            out.append(
                AreaLevel(frozenset(codes), a.name, _intensity_severity(a.intensity), a.intensity)
            )
        for f in jma.intensity_forecast:  # 緊急地震速報: the lower bound of the forecast
            out.append(
                AreaLevel(
                    frozenset(_forms(f.code)),
                    f.name,
                    _intensity_severity(f.lowest) if f.lowest else alert.severity,
                    f.lowest,
                )
            )
        for t in jma.tsunami:
            out.append(
                AreaLevel(
                    frozenset(_forms(t.code)),
                    t.name,
                    Severity.INFO if t.lifted else t.grade.severity(),
                    None,
                    () if t.lifted else (t.kind,),
                )
            )
    if alert.cap is not None:
        for info in alert.cap.infos:
            for area in info.areas:
                geocodes = frozenset(c for g in area.geocodes for c in _forms(g.value))
                out.append(
                    AreaLevel(geocodes, area.description, alert.severity, None, (info.event,))
                )
    return out


def matches_codes(area: AreaLevel, wanted: Iterable[str]) -> bool:
    for code in (form for w in wanted for form in area_forms(w)):
        for have in area.codes:
            if have == code or (len(code) == 2 and have.startswith(code) and len(have) >= 5):
                return True
    return False


def _covers(alert: Alert, points: Sequence[Point]) -> list[str]:
    """Names of CAP areas whose polygons or circles contain one of the points."""
    names: list[str] = []
    if alert.cap is None:
        return names
    for info in alert.cap.infos:
        for area in info.areas:
            for point in points:
                inside = any(_in_polygon(point, poly) for poly in area.polygons) or any(
                    _distance_km(point.lat, point.lon, c.lat, c.lon) <= c.radius_km
                    for c in area.circles
                )
                if inside:
                    names.append(area.description)
                    break
    return names


def _in_polygon(point: Point, polygon: Sequence[tuple[float, float]]) -> bool:
    inside = False
    n = len(polygon)
    for i in range(n):
        (y1, x1), (y2, x2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > point.lat) != (y2 > point.lat):
            x = x1 + (point.lat - y1) * (x2 - x1) / (y2 - y1)
            if point.lon < x:
                inside = not inside
    return inside


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def concern(alert: Alert, route: AlertRoute, settings: AlertSettings) -> Concern | None:
    """How the alert concerns this route, or None if it does not reach its room."""
    areas = area_levels(alert)
    if route.areas == "any" and not route.points:
        severity, intensity = alert.severity, alert.max_intensity
        names = tuple(dict.fromkeys(a.name for a in areas if a.name))
    else:
        wanted: tuple[str, ...] = ()
        if route.areas == "city":
            wanted = settings.city_codes
        elif route.areas != "any":
            wanted = route.areas
        hits = [a for a in areas if wanted and matches_codes(a, wanted)]
        covered = _covers(alert, route.points) if route.points else []
        if not hits and not covered:
            return None
        severity = max([*(a.severity for a in hits), *([alert.severity] if covered else [])])
        known = [a.intensity for a in hits if a.intensity is not None]
        intensity = max(known) if known else None
        names = tuple(dict.fromkeys([*(a.name for a in hits), *covered]))
    if severity < LEVELS[route.min_severity]:
        return None
    if route.min_intensity is not None and alert.max_intensity is not None:
        floor = SeismicIntensity.parse(route.min_intensity)
        if floor is not None and (intensity is None or intensity < floor):
            return None
    return Concern(severity, intensity, names)


def is_drill(alert: Alert) -> bool:
    return alert.status in (Status.EXERCISE, Status.TEST)
