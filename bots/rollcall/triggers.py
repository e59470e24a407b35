"""Whether an alert meets a roll-call or staffing trigger, and how strong it is (pure).

Every part of a trigger is judged in the trigger's own areas: 震度5弱 in the city, not
somewhere else in the prefecture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bots.alerts.levels import SeismicIntensity
from bots.alerts.model import Alert
from bots.alerts.routing import LEVELS, AreaLevel, area_levels, matches_codes
from bots.config_rollcall import Trigger


@dataclass(frozen=True)
class Hit:
    """A trigger met: which one, how strongly, and the areas that met it."""

    trigger: int
    strength: int  # compared between quakes: a stronger aftershock starts a new roll call
    areas: tuple[str, ...]


def strength(intensity: SeismicIntensity | None, severity: int) -> int:
    """Seismic intensity first (震度6弱 > 5強), then the severity level."""
    return (int(intensity) + 1 if intensity is not None else 0) * 10 + severity


def _in_areas(trigger: Trigger, areas: Sequence[AreaLevel], city: Sequence[str]) -> list[AreaLevel]:
    if trigger.areas == "any":
        return list(areas)
    wanted = city if trigger.areas == "city" else trigger.areas
    return [a for a in areas if wanted and matches_codes(a, wanted)]


def _kinds_per_area(alert: Alert) -> bool:
    """Whether the alert says per area which kinds are in force (JMA warnings and tsunami
    forecasts, CAP areas). Then its title names no kind: 徳島県気象警報・注意報 and
    大津波警報・津波警報・津波注意報・津波予報 stay the title when only 注意報 or 解除 remain."""
    if alert.jma is not None:
        return bool(alert.jma.warnings or alert.jma.tsunami)
    return alert.cap is not None and any(info.areas for info in alert.cap.infos)


def meets(trigger: Trigger, alert: Alert, city: Sequence[str]) -> tuple[int, list[str]] | None:
    """(strength, area names) if the alert meets the trigger."""
    anywhere = trigger.areas == "any"
    hits = _in_areas(trigger, area_levels(alert), city)
    if not hits and not anywhere:
        return None
    intensity = max((a.intensity for a in hits if a.intensity is not None), default=None)
    if anywhere:  # the alert as a whole
        intensity = (
            alert.max_intensity
            if intensity is None
            else max(intensity, alert.max_intensity or intensity)
        )
    severity = max((a.severity for a in hits), default=alert.severity)
    if trigger.min_intensity is not None:
        floor = SeismicIntensity.parse(trigger.min_intensity)
        if floor is None or intensity is None or intensity < floor:
            return None
    if trigger.min_severity is not None and severity < LEVELS[trigger.min_severity]:
        return None
    if trigger.kinds:
        named = [k for a in hits for k in a.kinds]
        if anywhere and not _kinds_per_area(alert):
            named.append(alert.title)
        if not any(word in kind for word in trigger.kinds for kind in named):
            return None
    names = list(dict.fromkeys(a.name for a in hits if a.name))
    return strength(intensity, int(severity)), names


def first_hit(triggers: Sequence[Trigger], alert: Alert, city: Sequence[str]) -> Hit | None:
    """The strongest trigger the alert meets, if any."""
    best: Hit | None = None
    for index, trigger in enumerate(triggers):
        met = meets(trigger, alert, city)
        if met is not None and (best is None or met[0] > best.strength):
            best = Hit(index, met[0], tuple(met[1]))
    return best
