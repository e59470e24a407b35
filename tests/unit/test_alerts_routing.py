"""Routing (bots/alerts/routing.py): which routes an alert concerns, and at what level
*in the route's areas*, on the shared JMA and CAP samples and variants derived from them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bots.alerts.levels import SeismicIntensity, Severity
from bots.alerts.model import Alert
from bots.alerts.parse import parse_alert_document
from bots.alerts.routing import LEVELS, Concern, area_levels, concern, is_drill
from bots.config_alerts import AlertRoute, AlertSettings, area_forms
from tests.samples import SAMPLES

# the samples are part of the workplace (../shared beside the repository): never skip
assert SAMPLES.is_dir(), f"samples not found at {SAMPLES}"

ROOM = "#bousai:city.example.jp"
EARTHQUAKE = "jma/32-35_04_04_240613_VXSE53.xml"  # 震源・震度情報, 鹿児島県大隅 震度4
SHINDO_SOKUHO = "jma/32-35_01_01_100806_VXSE51.xml"  # 震度速報, 静岡県 震度6弱
WARNINGS_53 = "jma/15_12_01_161130_VPWW53.xml"  # 島根県, 大雨特別警報
WARNINGS_54 = "jma/15_12_01_161130_VPWW54.xml"  # the same, H27 format
THUNDERSTORM = "cap/thunderstorm.cap"  # NWS, polygon and SAME geocodes


def data(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def alert_of(document: bytes) -> Alert:
    (alert,) = parse_alert_document(document)
    return alert


def sample(name: str) -> Alert:
    return alert_of(data(name))


def settings(**values: Any) -> AlertSettings:
    return AlertSettings.model_validate(values)


def route(**values: Any) -> AlertRoute:
    return AlertRoute.model_validate({"room": ROOM, **values})


def reach(
    alert: Alert, areas: Any = "any", city: tuple[str, ...] = (), **values: Any
) -> Concern | None:
    return concern(alert, route(areas=areas, **values), settings(city_codes=list(city)))


def lift_area(document: bytes, code: str) -> bytes:
    """Every kind of the warning items naming `code` says 解除 (lifted)."""

    def lift(item: re.Match[str]) -> str:
        text = item.group(0)
        if f"<Code>{code}</Code>" not in text:
            return text
        return re.sub(r"<Status>[^<]*</Status>", "<Status>解除</Status>", text)

    text = document.decode()
    return re.sub(r"<Item>(?:(?!<Item>).)*?</Item>", lift, text, flags=re.DOTALL).encode()


# --- earthquakes: the city's own intensity, not the maximum ----------------------------


def test_the_earthquake_sample_is_what_the_routing_tests_assume() -> None:
    alert = sample(EARTHQUAKE)
    assert alert.max_intensity is SeismicIntensity.FOUR
    assert alert.severity is Severity.ADVISORY


# 鹿児島市: JMA 4620100, JIS 46201, JIS with its check digit 462012
@pytest.mark.parametrize("code", ["4620100", "46201", "462012"])
def test_a_city_route_gets_the_citys_own_intensity(code: str) -> None:
    found = reach(sample(EARTHQUAKE), areas="city", city=(code,))
    assert found is not None
    assert found.intensity is SeismicIntensity.THREE  # not the 震度4 of 鹿屋市
    assert found.severity is Severity.INFO
    assert found.area_names == ("鹿児島市",)


@pytest.mark.parametrize("code", ["4620100", "46201", "462012"])
def test_a_route_naming_the_city_code_gets_the_citys_own_intensity(code: str) -> None:
    found = reach(sample(EARTHQUAKE), areas=[code])
    assert found is not None
    assert found.intensity is SeismicIntensity.THREE
    assert found.area_names == ("鹿児島市",)


def test_city_codes_are_read_in_every_form() -> None:
    # 7 digits (JMA) become JIS; a 6-digit code stays as written (it may be a JMA area
    # code) but, when its check digit fits, also stands for the JIS municipality
    assert settings(city_codes=["4620100", "46201", "462012"]).city_codes == (
        "46201",
        "46201",
        "462012",
    )
    assert area_forms("462012") == {"462012", "46201"}
    assert "320013" in area_forms("320013")  # 雲南地区 (a JMA area code) is still matched


def test_a_city_at_the_maximum_intensity_gets_that_intensity() -> None:
    found = reach(sample(EARTHQUAKE), areas="city", city=("4620300",))  # 鹿屋市
    assert found is not None
    assert found.intensity is SeismicIntensity.FOUR
    assert found.severity is Severity.ADVISORY


def test_a_route_with_a_floor_above_the_citys_intensity_gets_nothing() -> None:
    alert = sample(EARTHQUAKE)
    assert reach(alert, areas="city", city=("46201",), min_intensity="4") is None
    assert reach(alert, areas="city", city=("46201",), min_intensity="3") is not None
    assert reach(alert, areas="city", city=("46203",), min_intensity="4") is not None
    assert reach(alert, areas="city", city=("46203",), min_intensity="5-") is None


def test_a_route_with_a_severity_floor_above_the_citys_level_gets_nothing() -> None:
    alert = sample(EARTHQUAKE)
    assert reach(alert, areas="city", city=("46201",), min_severity="advisory") is None
    assert reach(alert, areas="city", city=("46203",), min_severity="advisory") is not None


def test_a_city_the_earthquake_does_not_name_gets_nothing() -> None:
    assert reach(sample(EARTHQUAKE), areas="city", city=("1310100",)) is None  # 千代田区
    assert reach(sample(EARTHQUAKE), areas="city", city=()) is None


def test_prefecture_codes_match_their_own_areas() -> None:
    alert = sample(EARTHQUAKE)
    kagoshima = reach(alert, areas=["46"])
    miyazaki = reach(alert, areas=["45"])
    assert kagoshima is not None and kagoshima.intensity is SeismicIntensity.FOUR
    assert miyazaki is not None and miyazaki.intensity is SeismicIntensity.THREE
    assert "宮崎市" in miyazaki.area_names and "鹿屋市" not in miyazaki.area_names
    assert reach(alert, areas=["13"]) is None  # 東京都: not in this report


def test_an_any_route_gets_the_maximum() -> None:
    found = reach(sample(EARTHQUAKE))
    assert found is not None
    assert found.intensity is SeismicIntensity.FOUR
    assert "鹿屋市" in found.area_names and "宮崎市" in found.area_names


def test_shindo_sokuho_routes_by_prefecture_and_area() -> None:
    alert = sample(SHINDO_SOKUHO)
    assert alert.max_intensity is SeismicIntensity.SIX_LOWER
    shizuoka = reach(alert, areas=["22"])
    chiba = reach(alert, areas=["12"])
    chiba_northwest = reach(alert, areas=["341"])  # 千葉県北西部
    assert shizuoka is not None and shizuoka.severity is Severity.EMERGENCY
    assert shizuoka.intensity is SeismicIntensity.SIX_LOWER
    assert chiba is not None and chiba.intensity is SeismicIntensity.FOUR
    assert chiba.severity is Severity.ADVISORY
    assert chiba_northwest is not None and chiba_northwest.intensity is SeismicIntensity.THREE
    assert chiba_northwest.area_names == ("千葉県北西部",)
    assert reach(alert, areas=["12"], min_intensity="5-") is None
    assert reach(alert, areas=["22"], min_intensity="6+") is None
    assert reach(alert, areas=["22"], min_intensity="6-") is not None
    assert reach(alert, areas=["46"]) is None  # 鹿児島県: not in this report


def test_a_split_municipality_is_reached_by_its_jis_code() -> None:
    # 薩摩川内市 (JIS 46215) is two JMA areas here: 4621501 (本土) and 4621502 (甑島).
    # A city configured with its JIS code must get its own intensity (震度2), not nothing.
    found = reach(sample(EARTHQUAKE), areas="city", city=("46215",))
    assert found is not None
    assert found.intensity is SeismicIntensity.TWO


# --- weather warnings: the areas' active kinds ------------------------------------------


@pytest.mark.parametrize("name", [WARNINGS_53, WARNINGS_54])
def test_warning_areas_get_their_own_level(name: str) -> None:
    alert = sample(name)
    hamada = reach(alert, areas=["3220200"])  # 浜田市: 大雨特別警報
    oda = reach(alert, areas=["32205"])  # 大田市: 大雨警報
    matsue = reach(alert, areas="city", city=("3220100",))  # 松江市: 注意報
    okinoshima = reach(alert, areas=["3252800"])  # 隠岐の島町: none
    assert hamada is not None and hamada.severity is Severity.EMERGENCY
    assert hamada.area_names == ("浜田市",)
    assert oda is not None and oda.severity is Severity.WARNING
    assert matsue is not None and matsue.severity is Severity.ADVISORY
    assert okinoshima is not None and okinoshima.severity is Severity.INFO
    assert reach(alert, areas=["3220100"], min_severity="warning") is None
    assert reach(alert, areas=["3220200"], min_severity="emergency") is not None


@pytest.mark.parametrize("name", [WARNINGS_53, WARNINGS_54])
def test_a_lifted_area_is_info(name: str) -> None:
    lifted = alert_of(lift_area(data(name), "3220500"))  # 大田市: every kind 解除
    assert lifted.jma is not None
    (oda_area,) = [w for w in lifted.jma.warnings if w.code == "3220500"]
    assert oda_area.kinds and not oda_area.active_kinds
    oda = reach(lifted, areas=["32205"])
    assert oda is not None and oda.severity is Severity.INFO
    assert reach(lifted, areas=["32205"], min_severity="advisory") is None
    hamada = reach(lifted, areas=["32202"])  # untouched
    assert hamada is not None and hamada.severity is Severity.EMERGENCY


def test_a_prefecture_route_gets_the_worst_of_its_warnings() -> None:
    found = reach(sample(WARNINGS_53), areas=["32"])
    assert found is not None and found.severity is Severity.EMERGENCY
    assert reach(sample(WARNINGS_53), areas=["36"]) is None


def test_jma_area_codes_of_six_digits_are_matched_as_they_are() -> None:
    # 320013 is JMA's 雲南地区 (注意報 here); it is not a JIS code with a check digit,
    # though its last digit happens to be one for 32001.
    found = reach(sample(WARNINGS_53), areas=["320013"])
    assert found is not None
    assert found.severity is Severity.ADVISORY
    assert found.area_names == ("雲南地区",)


def test_area_levels_list_each_warning_area_once_per_item() -> None:
    levels = area_levels(sample(WARNINGS_53))
    hamada = [a for a in levels if "32202" in a.codes]
    assert [a.severity for a in hamada] == [Severity.EMERGENCY]


# --- CAP: geocodes, polygons and circles -------------------------------------------------

INSIDE = {"lat": 38.5, "lon": -119.9}  # inside the thunderstorm polygon
OUTSIDE = {"lat": 38.0, "lon": -121.0}  # Stockton, well outside it


def test_the_thunderstorm_geocode_route_matches() -> None:
    found = reach(sample(THUNDERSTORM), areas=["006109"])
    assert found is not None
    assert found.severity is Severity.WARNING  # CAP Severe
    assert found.intensity is None
    assert len(found.area_names) == 1 and "ALPINE COUNTY" in found.area_names[0]


def test_every_geocode_of_the_area_matches_as_it_is() -> None:
    # SAME 006009 (Calaveras County) ends in what looks like a JIS check digit for 00600.
    for code in ("006109", "006003", "006009"):
        assert reach(sample(THUNDERSTORM), areas=[code]) is not None, code


def test_a_geocode_the_alert_does_not_name_gets_nothing() -> None:
    assert reach(sample(THUNDERSTORM), areas=["006001"]) is None
    assert reach(sample(THUNDERSTORM), areas="city", city=("13101",)) is None


def test_a_point_inside_the_polygon_matches_and_one_outside_does_not() -> None:
    alert = sample(THUNDERSTORM)
    inside = reach(alert, points=[INSIDE])
    assert inside is not None and inside.severity is Severity.WARNING
    assert reach(alert, points=[OUTSIDE]) is None
    assert reach(alert, points=[OUTSIDE, INSIDE]) is not None


def test_points_and_codes_together_match_on_either() -> None:
    alert = sample(THUNDERSTORM)
    assert reach(alert, areas=["006109"], points=[OUTSIDE]) is not None
    assert reach(alert, areas=["006001"], points=[INSIDE]) is not None
    assert reach(alert, areas=["006001"], points=[OUTSIDE]) is None


def circle_alert(lat: float, lon: float, radius_km: float) -> Alert:
    text = data(THUNDERSTORM).decode()
    polygon = re.search(r"<polygon>[^<]*</polygon>", text)
    assert polygon is not None
    return alert_of(
        text.replace(polygon.group(0), f"<circle>{lat},{lon} {radius_km}</circle>").encode()
    )


def test_a_circle_matches_by_distance() -> None:
    alert = circle_alert(38.5, -119.9, 10.0)
    assert alert.cap is not None and alert.cap.infos[0].areas[0].circles
    near = {"lat": 38.545, "lon": -119.9}  # about 5 km north
    far = {"lat": 38.68, "lon": -119.9}  # about 20 km north
    east = {"lat": 38.5, "lon": -119.8}  # about 8.7 km east
    assert reach(alert, points=[near]) is not None
    assert reach(alert, points=[east]) is not None
    assert reach(alert, points=[far]) is None
    assert reach(alert, points=[OUTSIDE]) is None  # the polygon is gone


def test_a_zero_radius_circle_only_covers_its_centre() -> None:
    alert = circle_alert(38.5, -119.9, 0.0)
    assert reach(alert, points=[{"lat": 38.5, "lon": -119.9}]) is not None
    assert reach(alert, points=[{"lat": 38.51, "lon": -119.9}]) is None


def test_levels_and_drills() -> None:
    assert [LEVELS[k] for k in ("info", "advisory", "warning", "emergency")] == sorted(Severity)
    assert not is_drill(sample(THUNDERSTORM))
    exercise = alert_of(data(THUNDERSTORM).replace(b"Actual", b"Exercise"))
    assert is_drill(exercise)
