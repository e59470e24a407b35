"""The body parts of JMA reports: warnings per area, earthquakes, intensities, tsunami."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from bots.alerts.jmareport import (
    Earthquake,
    Hypocenter,
    IntensityArea,
    IntensityForecastArea,
    JmaWarningArea,
    JmaWarningKind,
    TsunamiForecast,
)
from bots.alerts.levels import SeismicIntensity, TsunamiGrade, warning_kind_severity
from bots.alerts.xmlnode import Node, parse_datetime

_SPACES = re.compile(r"[ \t\r\f\v]+")
# ISO 6709 as JMA writes it: +34.8+138.5-10000/ (depth in metres, negative is below)
_COORDINATE = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?/$")


@dataclass(frozen=True)
class BodyParts:
    warnings: tuple[JmaWarningArea, ...] = ()
    earthquake: Earthquake | None = None
    max_intensity: SeismicIntensity | None = None
    intensities: tuple[IntensityArea, ...] = ()
    intensity_forecast: tuple[IntensityForecastArea, ...] = ()
    tsunami: tuple[TsunamiForecast, ...] = ()
    text: str = ""


def clean_text(text: str) -> str:
    """Trim every line and collapse runs of half-width spaces (full-width kept)."""
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.strip().splitlines())


def parse_body(body: Node) -> BodyParts:
    intensity = body.child("Intensity")
    observation = intensity.child("Observation") if intensity is not None else None
    forecast = intensity.child("Forecast") if intensity is not None else None
    observed_max, observed = (
        _intensity_observation(observation) if observation is not None else (None, ())
    )
    forecast_max, forecast_areas = (
        _intensity_forecast(forecast) if forecast is not None else (None, ())
    )
    earthquake = body.child("Earthquake")
    tsunami = body.child("Tsunami")
    tsunami_forecast = tsunami.child("Forecast") if tsunami is not None else None
    texts = [body.text_of("Text"), *(c.text_of("Text") for c in body.children("Comment"))]
    return BodyParts(
        warnings=_warnings(body),
        earthquake=_earthquake(earthquake) if earthquake is not None else None,
        max_intensity=observed_max if observed_max is not None else forecast_max,
        intensities=observed,
        intensity_forecast=forecast_areas,
        tsunami=_tsunami(tsunami_forecast) if tsunami_forecast is not None else (),
        text="\n\n".join(clean_text(t) for t in texts if t),
    )


def _warnings(body: Node) -> tuple[JmaWarningArea, ...]:
    """Every ``Warning/Item`` as one entry per area, whatever the Warning type."""
    found: list[JmaWarningArea] = []
    for warning in body.children("Warning"):
        warning_type = warning.attr("type")
        for item in warning.children("Item"):
            kinds = tuple(_kind(k, warning_type) for k in item.children("Kind"))
            areas = item.children("Area") + [
                a for group in item.children("Areas") for a in group.children("Area")
            ]
            for area in areas:
                found.append(
                    JmaWarningArea(
                        warning_type=warning_type,
                        name=area.text_of("Name"),
                        code=area.text_of("Code"),
                        kinds=kinds,
                        change_status=item.text_of("ChangeStatus"),
                    )
                )
    return tuple(found)


def _kind(kind: Node, warning_type: str) -> JmaWarningKind:
    name = kind.text_of("Name")
    last = kind.child("LastKind")
    return JmaWarningKind(
        name=name,
        code=kind.text_of("Code"),
        status=kind.text_of("Status"),
        condition=kind.text_of("Condition"),
        last_kind=last.text_of("Name") if last is not None else "",
        severity=warning_kind_severity(name, warning_type),
    )


def _earthquake(node: Node) -> Earthquake:
    area = node.descend("Hypocenter", "Area")
    hypocenter = _hypocenter(area) if area is not None else None
    magnitude = node.child("Magnitude")
    return Earthquake(
        origin_time=_datetime(node, "OriginTime"),
        hypocenter=hypocenter,
        magnitude=_float(magnitude.text) if magnitude is not None else None,
        magnitude_type=magnitude.attr("type") if magnitude is not None else "",
        magnitude_description=magnitude.attr("description") if magnitude is not None else "",
    )


def _hypocenter(area: Node) -> Hypocenter:
    coordinate = area.child("Coordinate")
    lat = lon = depth = None
    if coordinate is not None:
        match = _COORDINATE.match(coordinate.text)
        if match:
            lat, lon = float(match[1]), float(match[2])
            depth = abs(float(match[3])) / 1000 if match[3] else None
    return Hypocenter(
        name=area.text_of("Name"),
        code=area.text_of("Code"),
        lat=lat,
        lon=lon,
        depth_km=depth,
        description=coordinate.attr("description") if coordinate is not None else "",
    )


def _intensity_observation(
    node: Node,
) -> tuple[SeismicIntensity | None, tuple[IntensityArea, ...]]:
    found: list[IntensityArea] = []
    for pref in node.children("Pref"):
        pref_code = pref.text_of("Code")
        found.append(_intensity_area("pref", pref, ""))
        for area in pref.children("Area"):
            found.append(_intensity_area("area", area, pref_code))
            for city in area.children("City"):
                found.append(_intensity_area("city", city, area.text_of("Code")))
    return SeismicIntensity.parse(node.text_of("MaxInt")), tuple(found)


def _intensity_area(level: str, node: Node, parent: str) -> IntensityArea:
    return IntensityArea(
        level=level,
        name=node.text_of("Name"),
        code=node.text_of("Code"),
        intensity=SeismicIntensity.parse(node.text_of("MaxInt")),
        parent_code=parent,
        condition=node.text_of("Condition"),
    )


def _intensity_forecast(
    node: Node,
) -> tuple[SeismicIntensity | None, tuple[IntensityForecastArea, ...]]:
    found: list[IntensityForecastArea] = []
    for pref in node.children("Pref"):
        for area in pref.children("Area"):
            kind = area.descend("Category", "Kind")
            span = area.child("ForecastInt")
            from_text = span.text_of("From") if span is not None else ""
            to_text = span.text_of("To") if span is not None else ""
            found.append(
                IntensityForecastArea(
                    name=area.text_of("Name"),
                    code=area.text_of("Code"),
                    kind=kind.text_of("Name") if kind is not None else "",
                    lowest=SeismicIntensity.parse(from_text),
                    highest=SeismicIntensity.parse(to_text),
                    highest_over=to_text == "over",
                    arrival_time=_datetime(area, "ArrivalTime"),
                    condition=area.text_of("Condition"),
                )
            )
    overall = node.child("ForecastInt")
    lowest = SeismicIntensity.parse(overall.text_of("From")) if overall is not None else None
    return lowest, tuple(found)


def _tsunami(forecast: Node) -> tuple[TsunamiForecast, ...]:
    found: list[TsunamiForecast] = []
    for item in forecast.children("Item"):
        area = item.child("Area")
        category = item.child("Category")
        kind = category.child("Kind") if category is not None else None
        last = category.child("LastKind") if category is not None else None
        first = item.child("FirstHeight")
        height = item.descend("MaxHeight", "TsunamiHeight")
        kind_name = kind.text_of("Name") if kind is not None else ""
        found.append(
            TsunamiForecast(
                name=area.text_of("Name") if area is not None else "",
                code=area.text_of("Code") if area is not None else "",
                kind=kind_name,
                grade=TsunamiGrade.from_kind(kind_name),
                last_kind=last.text_of("Name") if last is not None else "",
                lifted="解除" in kind_name,
                first_arrival=_datetime(first, "ArrivalTime") if first is not None else None,
                arrival_condition=first.text_of("Condition") if first is not None else "",
                max_height_m=_float(height.text) if height is not None else None,
                max_height_description=height.attr("description") if height is not None else "",
            )
        )
    return tuple(found)


def _datetime(node: Node, name: str) -> datetime | None:
    child = node.child(name)
    if child is None or not child.text:
        return None
    return parse_datetime(child.text, child.path)


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
