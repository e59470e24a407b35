"""Whether an alert meets a roll-call or staffing trigger (bots/rollcall/triggers.py), on
the real JMA samples: seismic intensity in the city's own areas, the whole quake for
"any", tsunami and weather-warning kinds (lifted ones do not count), severity."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from bots.alerts.levels import SeismicIntensity, Severity
from bots.alerts.model import Alert
from bots.alerts.parse import parse_alert_document
from bots.config_rollcall import Trigger
from bots.rollcall.triggers import Hit, first_hit, meets, strength
from tests.samples import SAMPLES

JMA = SAMPLES / "jma"
# 震源・震度情報 (訓練), 2009-10-01: 焼津市 震度5弱, 熱海市 震度4, the quake's maximum 5弱
QUAKE = (JMA / "32-35_01_03_240613_VXSE53.xml").read_bytes()
YAIZU, ATAMI = "2221200", "2220500"
# 津波警報 of 2011-03-11: 岩手県 (210) 大津波警報, 茨城県 (300) 津波警報, 静岡県 (380)
# 津波注意報, 東京湾内湾 (312) 津波予報
TSUNAMI = (JMA / "32-39_11_02_250206_VTSE41.xml").read_bytes()
# 島根県気象警報・注意報: 浜田市 大雨特別警報, 大田市 大雨警報, 松江市 注意報 only
SHIMANE = (JMA / "15_12_01_161130_VPWW53.xml").read_bytes()
HAMADA, OHDA, MATSUE = "3220200", "3220500", "3220100"
# 徳島県気象警報・注意報: 高潮警報 in 藍住町 (3640300), nothing in 徳島市 (3620100)
TOKUSHIMA = (JMA / "15_15_01_220314_VPWW54.xml").read_bytes()
AIZUMI, TOKUSHIMA_CITY = "3640300", "3620100"


def alert(document: bytes) -> Alert:
    alerts = parse_alert_document(document)
    assert len(alerts) == 1
    return alerts[0]


def trigger(**parts: Any) -> Trigger:
    """A trigger as the YAML config writes it (validated: codes normalised)."""
    return Trigger.model_validate(parts)


def met(t: Trigger, a: Alert, city: Sequence[str] = ()) -> bool:
    return meets(t, a, city) is not None


def quake(intensity_at_yaizu: str = "5-") -> Alert:
    """The drill quake, with 焼津市 (and the areas that share its 5弱) at another intensity."""
    return alert(QUAKE.replace(b">5-<", f">{intensity_at_yaizu}<".encode()))


def tsunami_lifted_in_ibaraki() -> Alert:
    """The tsunami message with 茨城県's 津波警報 lifted (警報解除), the rest as sent."""
    pattern = re.compile(
        r"(<Code>300</Code></Area>\s*<Category>\s*<Kind><Name>)津波警報(</Name><Code>)51"
        r"(</Code></Kind>\s*<LastKind><Name>)津波なし(</Name><Code>)00".encode()
    )
    document, count = pattern.subn(r"\g<1>警報解除\g<2>50\g<3>津波警報\g<4>51".encode(), TSUNAMI)
    assert count == 1
    return alert(document)


def tsunami_advisories_only() -> Alert:
    """The tsunami message with every 大津波警報/津波警報 made a 津波注意報: its title still
    reads 大津波警報・津波警報・津波注意報・津波予報."""
    document = TSUNAMI
    for kind in (
        "大津波警報：発表</Name><Code>53",
        "津波警報</Name><Code>51",
        "大津波警報</Name><Code>52",
    ):
        document = document.replace(
            f"<Name>{kind}".encode(), "<Name>津波注意報</Name><Code>62".encode()
        )
    return alert(document)


def tokushima_lifted() -> Alert:
    """The 徳島 warning with its 高潮警報 lifted (解除) everywhere."""
    return alert(
        TOKUSHIMA.replace("<Status>発表</Status>".encode(), "<Status>解除</Status>".encode())
    )


# --- seismic intensity -------------------------------------------------------------------


@pytest.mark.parametrize("city", [YAIZU, "22212"])
def test_5_lower_in_the_city_meets_min_intensity_5_lower(city: str) -> None:
    got = meets(trigger(min_intensity="5-"), alert(QUAKE), [city])
    assert got is not None
    level, names = got
    assert names == ["焼津市"]
    assert level == strength(SeismicIntensity.FIVE_LOWER, Severity.WARNING)


def test_intensity_4_in_the_city_does_not_meet_5_lower_elsewhere_in_the_quake() -> None:
    assert not met(trigger(min_intensity="5-"), alert(QUAKE), [ATAMI])
    assert met(trigger(min_intensity="4"), alert(QUAKE), [ATAMI])


def test_a_stronger_floor_is_not_met() -> None:
    assert not met(trigger(min_intensity="5+"), alert(QUAKE), [YAIZU])
    assert met(trigger(min_intensity="5+"), quake("5+"), [YAIZU])


def test_the_city_codes_as_the_config_holds_them() -> None:
    normalised = trigger(areas=[YAIZU], min_intensity="5-")
    assert normalised.areas == ("22212",)  # 7-digit JMA codes are kept as JIS
    assert met(normalised, alert(QUAKE))
    assert not met(trigger(areas=[ATAMI], min_intensity="5-"), alert(QUAKE))


def test_a_city_not_in_the_quake_is_not_met() -> None:
    assert not met(trigger(min_intensity="1"), alert(QUAKE), ["1310100"])  # 千代田区
    assert not met(trigger(min_intensity="1"), alert(QUAKE), [])  # no city codes at all


def test_any_judges_the_whole_quake() -> None:
    whole = trigger(areas="any", min_intensity="5-")
    got = meets(whole, alert(QUAKE), [ATAMI])  # the city itself had 4
    assert got is not None
    assert got[0] == strength(SeismicIntensity.FIVE_LOWER, Severity.WARNING)
    assert {"焼津市", "熱海市"} <= set(got[1])
    assert not met(trigger(areas="any", min_intensity="5+"), alert(QUAKE), [ATAMI])


def test_a_prefecture_code_covers_its_municipalities() -> None:
    assert met(trigger(areas=["22"], min_intensity="5-"), alert(QUAKE))
    assert met(trigger(areas=["13"], min_intensity="3"), alert(QUAKE))  # 東京都: at most 3
    assert not met(trigger(areas=["13"], min_intensity="4"), alert(QUAKE))
    assert not met(trigger(areas=["32"], min_intensity="1"), alert(QUAKE))  # 島根県: not felt


def test_min_severity_in_the_citys_area() -> None:
    assert met(trigger(min_severity="warning"), alert(QUAKE), [YAIZU])  # 5弱: warning
    assert not met(trigger(min_severity="emergency"), alert(QUAKE), [YAIZU])
    assert met(trigger(min_severity="advisory"), alert(QUAKE), [ATAMI])  # 4: advisory
    assert not met(trigger(min_severity="warning"), alert(QUAKE), [ATAMI])


def test_every_part_of_a_trigger_must_hold() -> None:
    assert met(trigger(min_intensity="5-", min_severity="warning"), alert(QUAKE), [YAIZU])
    assert not met(trigger(min_intensity="5-", min_severity="emergency"), alert(QUAKE), [YAIZU])
    assert not met(trigger(min_intensity="5-", kinds=["津波警報"]), alert(QUAKE), [YAIZU])


def test_intensity_weighs_before_severity() -> None:
    assert strength(SeismicIntensity.SIX_LOWER, Severity.INFO) > strength(
        SeismicIntensity.FIVE_UPPER, Severity.EMERGENCY
    )
    assert strength(SeismicIntensity.ONE, Severity.INFO) > strength(None, Severity.EMERGENCY)
    stronger = meets(trigger(min_intensity="5-"), quake("6-"), [YAIZU])
    weaker = meets(trigger(min_intensity="5-"), alert(QUAKE), [YAIZU])
    assert stronger is not None and weaker is not None
    assert stronger[0] > weaker[0]  # an aftershock this strong starts a new roll call


# --- tsunami -----------------------------------------------------------------------------


def test_a_tsunami_warning_in_its_forecast_area() -> None:
    got = meets(trigger(areas=["300"], kinds=["津波警報"]), alert(TSUNAMI), [])
    assert got is not None
    assert got[1] == ["茨城県"]


def test_a_major_tsunami_warning_meets_its_kind() -> None:
    assert met(trigger(areas=["210"], kinds=["大津波警報"]), alert(TSUNAMI))


def test_a_tsunami_advisory_is_no_tsunami_warning() -> None:
    assert not met(trigger(areas=["380"], kinds=["津波警報"]), alert(TSUNAMI))  # 静岡県: 注意報
    assert met(trigger(areas=["380"], kinds=["津波注意報"]), alert(TSUNAMI))
    # 東京湾内湾: 津波予報（若干の海面変動） only
    assert not met(trigger(areas=["312"], kinds=["津波警報", "津波注意報"]), alert(TSUNAMI))


def test_a_lifted_tsunami_warning_does_not_meet() -> None:
    lifted = tsunami_lifted_in_ibaraki()
    assert not met(trigger(areas=["300"], kinds=["津波警報"]), lifted)
    assert not met(trigger(areas=["300"], kinds=["警報"]), lifted)  # 警報解除 is no 警報
    assert met(trigger(areas=["310"], kinds=["津波警報"]), lifted)  # 千葉県九十九里 unchanged


def test_tsunami_areas_are_not_the_citys_municipality_codes() -> None:
    # a tsunami trigger names the coast's forecast area (e.g. 380), not the city's codes
    assert not met(trigger(kinds=["津波警報"]), alert(TSUNAMI), ["2220500"])


def test_any_looks_at_the_kinds_in_force_not_the_title() -> None:
    assert met(trigger(areas="any", kinds=["津波警報"]), alert(TSUNAMI))
    advisories = tsunami_advisories_only()
    assert "津波警報" in advisories.title
    assert not met(trigger(areas="any", kinds=["津波警報"]), advisories)
    assert met(trigger(areas="any", kinds=["津波注意報"]), advisories)


def test_a_tsunami_has_no_seismic_intensity() -> None:
    assert not met(trigger(areas=["300"], min_intensity="1"), alert(TSUNAMI))


def test_a_tsunami_advisory_area_has_advisory_severity() -> None:
    assert not met(trigger(areas=["380"], min_severity="warning"), alert(TSUNAMI))


# --- weather warnings --------------------------------------------------------------------


def test_a_special_warning_in_the_city() -> None:
    got = meets(trigger(kinds=["特別警報"]), alert(SHIMANE), [HAMADA])
    assert got is not None and got[1] == ["浜田市"]
    assert got[0] == strength(None, Severity.EMERGENCY)


def test_a_warning_is_no_special_warning() -> None:
    assert not met(trigger(kinds=["特別警報"]), alert(SHIMANE), [OHDA])  # 大雨警報
    assert met(trigger(kinds=["警報"]), alert(SHIMANE), [OHDA])
    assert met(trigger(kinds=["警報"]), alert(SHIMANE), [HAMADA])  # 特別警報 is a 警報 too


def test_an_advisory_is_no_warning() -> None:
    assert not met(trigger(kinds=["警報"]), alert(SHIMANE), [MATSUE])  # 注意報 only
    assert met(trigger(kinds=["大雨注意報"]), alert(SHIMANE), [MATSUE])


def test_the_same_kinds_in_the_new_format_message() -> None:
    shimane = alert((JMA / "15_12_01_161130_VPWW54.xml").read_bytes())
    assert met(trigger(kinds=["特別警報"]), shimane, [HAMADA])
    assert not met(trigger(kinds=["特別警報"]), shimane, [OHDA])


def test_min_severity_of_a_weather_warning_in_the_city() -> None:
    assert met(trigger(min_severity="emergency"), alert(SHIMANE), [HAMADA])
    assert not met(trigger(min_severity="emergency"), alert(SHIMANE), [OHDA])
    assert met(trigger(min_severity="warning"), alert(SHIMANE), [OHDA])
    assert not met(trigger(min_severity="warning"), alert(SHIMANE), [MATSUE])


def test_a_lifted_weather_warning_does_not_meet() -> None:
    assert met(trigger(kinds=["高潮警報"]), alert(TOKUSHIMA), [AIZUMI])
    assert not met(trigger(kinds=["高潮警報"]), alert(TOKUSHIMA), [TOKUSHIMA_CITY])
    lifted = tokushima_lifted()
    assert not met(trigger(kinds=["高潮警報"]), lifted, [AIZUMI])
    assert not met(trigger(min_severity="warning"), lifted, [AIZUMI])


def test_a_lifted_weather_warning_does_not_meet_anywhere() -> None:
    # the title 徳島県気象警報・注意報 names 警報 whatever is in force
    assert met(trigger(areas="any", kinds=["警報"]), alert(TOKUSHIMA))
    assert not met(trigger(areas="any", kinds=["警報"]), tokushima_lifted())


# --- the strongest trigger ---------------------------------------------------------------


def test_first_hit_names_the_trigger_met() -> None:
    triggers = [trigger(kinds=["津波警報"]), trigger(min_intensity="5-")]
    hit = first_hit(triggers, alert(QUAKE), [YAIZU])
    assert hit == Hit(1, strength(SeismicIntensity.FIVE_LOWER, Severity.WARNING), ("焼津市",))


def test_first_hit_prefers_the_strongest() -> None:
    triggers = [trigger(min_intensity="4"), trigger(areas="any", min_intensity="4")]
    hit = first_hit(triggers, alert(QUAKE), [ATAMI])
    assert hit is not None
    assert hit.trigger == 1  # the whole quake (5弱) is stronger than 熱海市's 4
    assert hit.strength == strength(SeismicIntensity.FIVE_LOWER, Severity.WARNING)


def test_first_hit_is_none_when_nothing_is_met() -> None:
    assert first_hit([trigger(min_intensity="5-")], alert(QUAKE), [ATAMI]) is None
    assert first_hit([], alert(QUAKE), [YAIZU]) is None
