"""JMA 防災情報XML samples (../shared/samples/jma) parsed into the alert model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bots.alerts import (
    AlertParseError,
    JmaKey,
    JmaSeriesKey,
    MsgType,
    Origin,
    SeismicIntensity,
    Severity,
    Status,
    TsunamiGrade,
)
from bots.alerts.jmareport import JmaDetails, JmaWarningArea
from bots.alerts.model import Alert
from bots.alerts.parse import parse_alert_document
from tests.samples import SAMPLES as shared_samples

SAMPLES = shared_samples
JMA = SAMPLES / "jma"
# the samples are part of the workplace (../shared beside the repository): never skip
assert JMA.is_dir(), f"alert samples not found at {JMA}"
JST = timezone(timedelta(hours=9))


def sample(name: str) -> bytes:
    return (JMA / name).read_bytes()


def one(name_or_data: str | bytes) -> Alert:
    data = sample(name_or_data) if isinstance(name_or_data, str) else name_or_data
    (alert,) = parse_alert_document(data)
    return alert


def details(alert: Alert) -> JmaDetails:
    assert alert.origin is Origin.JMA and alert.jma is not None
    return alert.jma


def area(alert: Alert, code: str, warning_type: str = "（市町村等）") -> JmaWarningArea:
    (found,) = [w for w in details(alert).warning_areas(warning_type) if w.code == code]
    return found


def test_vpww53_special_warning_by_municipality() -> None:
    alert = one("15_12_01_161130_VPWW53.xml")
    jma = details(alert)
    assert (alert.status, alert.msg_type, alert.delayed) == (Status.ACTUAL, MsgType.ALERT, False)
    assert alert.is_real_alert
    assert alert.title == "島根県気象警報・注意報"
    assert alert.sent == datetime(2016, 2, 12, 6, 44, tzinfo=UTC)  # Control/DateTime
    assert jma.report_datetime == datetime(2016, 2, 12, 15, 44, tzinfo=JST)
    assert isinstance(alert.key, JmaKey)
    assert alert.key.series == JmaSeriesKey("気象特別警報・警報・注意報", "松江地方気象台", "")
    assert (jma.info_type, jma.info_kind) == ("発表", "気象警報・注意報")
    assert alert.headline.startswith("【特別警報（大雨）】浜田地区、大田邑智地区に特別警報")
    assert alert.severity is Severity.EMERGENCY
    assert len(jma.municipalities()) == 19
    hamada = area(alert, "3220200")
    assert (hamada.name, hamada.jis_code, hamada.is_municipality) == ("浜田市", "32202", True)
    assert hamada.change_status == "警報・注意報種別に変化有"
    assert [(k.name, k.code, k.status) for k in hamada.kinds] == [
        ("大雨特別警報", "33", "発表"),
        ("洪水警報", "04", "継続"),
        ("雷注意報", "14", "継続"),
    ]
    assert hamada.kinds[0].condition == "土砂災害、浸水害"
    assert [k.severity for k in hamada.kinds] == [
        Severity.EMERGENCY,
        Severity.WARNING,
        Severity.ADVISORY,
    ]
    assert hamada.severity is Severity.EMERGENCY
    ohda = area(alert, "3220500")
    assert ohda.name == "大田市" and ohda.severity is Severity.WARNING  # 大雨警報 継続
    ama = area(alert, "3252500")
    assert ama.name == "海士町" and ama.active_kinds == () and ama.severity is Severity.INFO
    assert ama.kinds[0].status == "発表警報・注意報はなし"
    pref = area(alert, "320000", "（府県予報区等）")
    assert pref.name == "島根県" and not pref.is_municipality and pref.jis_code == ""
    assert len(jma.headline_items) == 29
    first = jma.headline_items[0]
    assert first.information_type == "気象警報・注意報（府県予報区等）"
    assert [k.name for k in first.kinds] == ["大雨特別警報", "洪水警報", "雷注意報"]
    assert [(a.name, a.code) for a in first.areas] == [("島根県", "320000")]


def test_vpww54_carries_the_previous_kind() -> None:
    alert = one("15_12_01_161130_VPWW54.xml")
    hamada = area(alert, "3220200")
    assert hamada.kinds[0].name == "大雨特別警報"
    assert hamada.kinds[0].last_kind == "大雨警報"
    assert details(alert).control_title == "気象警報・注意報（Ｈ２７）"
    assert alert.severity is Severity.EMERGENCY


def test_vpww54_storm_surge_warning_and_split_municipality_codes() -> None:
    alert = one("15_15_01_220314_VPWW54.xml")
    assert alert.severity is Severity.WARNING
    aizumi = area(alert, "3640300")
    assert aizumi.name == "藍住町"
    assert [(k.name, k.status, k.active) for k in aizumi.kinds] == [("高潮警報", "発表", True)]
    split = area(alert, "3620701")  # part of a municipality: JIS code is still 5 digits
    assert (split.name, split.jis_code) == ("美馬市脇・美馬・穴吹", "36207")
    municipalities = details(alert).municipalities()
    assert [m.code for m in municipalities if m.active_kinds] == ["3640300"]


def test_vpww55_new_names_and_lifting() -> None:
    alert = one("15_17_01_250630_VPWW55.xml")
    jma = details(alert)
    assert jma.control_title == "気象警報・注意報（Ｒ０６）（大雨）"
    assert jma.info_kind_version == "1.5_0"
    assert alert.severity is Severity.WARNING  # レベル３大雨警報
    matsue = area(alert, "3220100")
    assert [(k.name, k.status, k.severity) for k in matsue.kinds] == [
        ("レベル３大雨警報", "継続", Severity.WARNING)
    ]
    okinoshima = area(alert, "3252800")
    # a lifting (解除) is a normal 発表 whose item status says 解除
    assert alert.msg_type is MsgType.ALERT
    assert [(k.name, k.status, k.active) for k in okinoshima.kinds] == [
        ("レベル２大雨注意報", "解除", False)
    ]
    assert okinoshima.severity is Severity.INFO
    assert area(alert, "3234300").severity is Severity.ADVISORY  # レベル２大雨注意報 継続


def test_vxww50_landslide_alert_per_municipality() -> None:
    alert = one("17_01_01_190529_VXWW50.xml")
    jma = details(alert)
    assert alert.title == "福岡県土砂災害警戒情報"
    assert jma.event_id == "福岡県土砂災害警戒情報" and jma.serial == "5"
    assert jma.publishing_office == "福岡県 福岡管区気象台"
    assert alert.severity is Severity.WARNING
    assert len(jma.warnings) == 60
    kitakyushu = area(alert, "4010000", "土砂災害警戒情報")
    assert kitakyushu.name == "北九州市" and kitakyushu.severity is Severity.WARNING
    assert [(k.name, k.code, k.status) for k in kitakyushu.kinds] == [("警戒", "3", "継続")]
    fukuoka = area(alert, "4013000", "土砂災害警戒情報")
    assert fukuoka.name == "福岡市" and fukuoka.active_kinds == ()
    assert area(alert, "4020700", "土砂災害警戒情報").active_kinds == ()  # なし
    active = [w.name for w in jma.warnings if w.active_kinds]
    assert len(active) == 25 and "宮若市" in active


def test_vpoa50_record_short_time_heavy_rain() -> None:
    alert = one("18_03_01_190412_VPOA50.xml")
    jma = details(alert)
    assert alert.severity is Severity.WARNING
    assert alert.headline.splitlines() == [
        "１９時４０分北海道で記録的短時間大雨",
        "札幌市中央区付近で約１００ミリ",
        "小樽市付近で約９０ミリ",
    ]
    assert [(w.name, w.code, bool(w.active_kinds)) for w in jma.warnings] == [
        ("石狩地方", "016010", True),
        ("空知地方", "016020", False),
        ("後志地方", "016030", True),
    ]
    assert [a.name for item in jma.headline_items for a in item.areas] == ["石狩地方", "後志地方"]


def test_vxse51_intensity_flash() -> None:
    alert = one("32-35_01_01_100806_VXSE51.xml")
    jma = details(alert)
    assert alert.max_intensity is SeismicIntensity.SIX_LOWER
    assert alert.max_intensity >= SeismicIntensity.FIVE_LOWER  # a 震度5弱以上 rule fires
    assert alert.severity is Severity.EMERGENCY
    assert jma.earthquake is None
    prefs = {(a.name, a.code): a.intensity for a in jma.intensities if a.level == "pref"}
    assert prefs[("静岡県", "22")] is SeismicIntensity.SIX_LOWER
    assert prefs[("千葉県", "12")] is SeismicIntensity.FOUR
    areas = {a.name: a for a in jma.intensities if a.level == "area"}
    assert areas["静岡県伊豆"].intensity is SeismicIntensity.FIVE_UPPER
    assert areas["静岡県伊豆"].parent_code == "22"
    assert areas["東京都２３区"].intensity is SeismicIntensity.FOUR
    assert jma.headline_items[0].kinds[0].name == "震度６弱"


def test_vxse53_drill_with_cities_and_hypocentre() -> None:
    alert = one("32-35_01_03_240613_VXSE53.xml")
    jma = details(alert)
    assert alert.status is Status.EXERCISE and not alert.is_real_alert  # 訓練
    assert alert.max_intensity is SeismicIntensity.FIVE_LOWER
    assert alert.severity is Severity.WARNING
    quake = jma.earthquake
    assert quake is not None and quake.hypocenter is not None
    assert (quake.hypocenter.name, quake.hypocenter.code) == ("駿河湾", "485")
    assert (quake.hypocenter.lat, quake.hypocenter.lon, quake.hypocenter.depth_km) == (
        34.8,
        138.5,
        10.0,
    )
    assert (quake.magnitude, quake.magnitude_type) == (5.9, "Mj")
    assert quake.origin_time == datetime(2009, 10, 1, 13, 45, tzinfo=JST)
    cities = {a.name: a for a in jma.intensities if a.level == "city"}
    assert len(cities) == 129
    nishiizu = cities["西伊豆町"]
    assert (nishiizu.code, nishiizu.jis_code, nishiizu.intensity) == (
        "2230600",
        "22306",
        SeismicIntensity.FIVE_LOWER,
    )
    assert nishiizu.parent_code == "440"
    assert cities["熱海市"].intensity is SeismicIntensity.FOUR  # "<MaxInt>4 </MaxInt>"


def test_vxse53_actual() -> None:
    alert = one("32-35_04_04_240613_VXSE53.xml")
    quake = details(alert).earthquake
    assert alert.status is Status.ACTUAL and alert.max_intensity is SeismicIntensity.FOUR
    assert alert.severity is Severity.ADVISORY
    assert quake is not None and quake.hypocenter is not None
    assert (quake.hypocenter.name, quake.hypocenter.depth_km, quake.magnitude) == (
        "大隅半島東方沖",
        50.0,
        5.3,
    )
    assert alert.key.series == JmaSeriesKey(  # type: ignore[union-attr]
        "震源・震度に関する情報", "大阪管区気象台", "20100125161517"
    )


def test_vtse41_major_tsunami_warning() -> None:
    alert = one("32-39_11_02_250206_VTSE41.xml")
    jma = details(alert)
    assert alert.severity is Severity.EMERGENCY
    assert alert.title == "大津波警報・津波警報・津波注意報・津波予報"
    assert len(jma.tsunami) == 43
    by_name = {t.name: t for t in jma.tsunami}
    iwate = by_name["岩手県"]
    assert (iwate.code, iwate.kind, iwate.grade) == (
        "210",
        "大津波警報：発表",
        TsunamiGrade.MAJOR_WARNING,
    )
    assert iwate.last_kind == "津波なし" and not iwate.lifted
    assert iwate.arrival_condition == "津波到達中と推測" and iwate.first_arrival is None
    assert iwate.max_height_m is None and iwate.max_height_description == "巨大"
    assert by_name["宮城県"].first_arrival == datetime(2011, 3, 11, 15, 0, tzinfo=JST)
    assert by_name["茨城県"].grade is TsunamiGrade.WARNING
    assert by_name["静岡県"].grade is TsunamiGrade.ADVISORY
    assert by_name["大阪府"].grade is TsunamiGrade.FORECAST
    grades = [t.grade for t in jma.tsunami]
    assert grades.count(TsunamiGrade.MAJOR_WARNING) == 3
    assert grades.count(TsunamiGrade.WARNING) == 5
    assert grades.count(TsunamiGrade.ADVISORY) == 15
    quake = jma.earthquake
    assert quake is not None and quake.hypocenter is not None
    assert quake.hypocenter.name == "三陸沖"
    assert quake.magnitude is None  # NaN: unknown
    assert quake.magnitude_description == "Ｍ８を超える巨大地震"


@pytest.mark.parametrize(
    ("name", "series", "text"),
    [
        (
            "32-35_06_06_100915_VXSE53.xml",
            ("震源・震度に関する情報", "気象庁本庁", "20080614084350"),
            "先ほどの、震源・震度情報を取り消します。",
        ),
        (
            "32-35_10_01_220510_VXSE51.xml",
            ("震度速報", "気象庁本庁", "20220509152315"),
            "先ほどの、震度速報を取り消します。",
        ),
        (
            "38-39_03_01_210805_VTSE41.xml",
            ("津波警報・注意報・予報a", "気象庁本庁", "20210805103531"),
            "先ほどの、津波注意報を取り消します。",
        ),
        (
            "37_01_03_240613_VXSE43.xml",
            ("緊急地震速報（警報）", "気象庁本庁", "20240417231454"),
            "先ほどの、緊急地震速報（警報）を取り消します。",
        ),
        (
            "74_03_01_220318_VYSE50.xml",
            ("南海トラフ地震臨時情報", "気象庁本庁", "20220318193600"),
            "１８日１９時３６分に発表した「南海トラフ地震臨時情報（調査中）」は"
            "誤りですので取り消します。",
        ),
    ],
)
def test_cancellations_are_matched_by_series(
    name: str, series: tuple[str, str, str], text: str
) -> None:
    alert = one(name)
    assert alert.msg_type is MsgType.CANCEL and alert.status is Status.ACTUAL
    assert isinstance(alert.key, JmaKey) and alert.key.series == JmaSeriesKey(*series)
    assert details(alert).info_type == "取消" and details(alert).text == text
    assert alert.severity is Severity.INFO and alert.max_intensity is None


def test_cancel_matches_the_series_of_the_original_not_its_message_id() -> None:
    original = one("32-39_11_02_250206_VTSE41.xml")
    cancel = one("38-39_03_01_210805_VTSE41.xml")
    assert isinstance(original.key, JmaKey) and isinstance(cancel.key, JmaKey)
    assert original.key.series.title == cancel.key.series.title == "津波警報・注意報・予報a"
    assert original.key.message_id != cancel.key.message_id


def test_vxse42_test_message() -> None:
    alert = one("54_01_01_100514_VXSE42.xml")
    assert alert.status is Status.TEST and not alert.is_real_alert
    assert alert.title == "緊急地震速報配信テスト"
    assert details(alert).text == "緊急地震速報のテスト電文です。"
    assert alert.severity is Severity.INFO


def test_corrections_are_updates() -> None:
    snow = one("01_01_03_091210_VGSK50.xml")
    assert snow.msg_type is MsgType.UPDATE and details(snow).info_type == "訂正"
    assert snow.key.series == JmaSeriesKey("季節観測", "熊谷地方気象台", "20090109110000_初雪")  # type: ignore[union-attr]
    assert snow.headline == "" and snow.severity is Severity.INFO
    typhoon = one("06_02_01_100514_VPTI50.xml")
    assert typhoon.msg_type is MsgType.UPDATE and details(typhoon).serial == "14"
    assert typhoon.title == "平成２１年　台風第８号に関する情報　第１４号"
    assert "訂正箇所は" in details(typhoon).text


# ---- derived variants --------------------------------------------------------------


def test_delayed_report_is_an_alert_marked_delayed() -> None:
    data = sample("18_03_01_190412_VPOA50.xml").replace(
        "<InfoType>発表</InfoType>".encode(), "<InfoType>遅延</InfoType>".encode()
    )
    alert = one(data)
    assert (alert.msg_type, alert.delayed) == (MsgType.ALERT, True)


def test_unknown_status_and_info_type_are_refused_with_their_path() -> None:
    data = sample("54_01_01_100514_VXSE42.xml").replace("試験".encode(), "本番".encode())
    with pytest.raises(AlertParseError) as caught:
        one(data)
    assert (caught.value.reason, caught.value.where) == (
        "<Status> '本番' is not one of 通常, 訓練, 試験",
        "/Report/Control/Status",
    )
    data = sample("54_01_01_100514_VXSE42.xml").replace("<InfoType>発表</InfoType>".encode(), b"")
    with pytest.raises(AlertParseError) as caught:
        one(data)
    assert caught.value.where == "/Report/Head/InfoType"


def test_report_in_a_foreign_namespace_is_refused() -> None:
    data = sample("54_01_01_100514_VXSE42.xml").replace(
        b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"', b'<Report xmlns="urn:example"'
    )
    with pytest.raises(AlertParseError) as caught:
        one(data)
    assert caught.value.where == "/Report" and "namespace 'urn:example'" in caught.value.reason


def test_future_warning_kinds_parse_generically() -> None:
    data = (
        sample("15_17_01_250630_VPWW55.xml")
        .replace("（Ｒ０６）（大雨）".encode(), "（Ｒ０８）（大雨）".encode())
        .replace("レベル３大雨警報".encode(), "レベル４大雨危険警報".encode())
        .replace(
            '<Warning type="気象警報・注意報（市町村等）">'.encode(),
            '<Warning type="気象警報・注意報（新しい区域）">'.encode(),
        )
    )
    alert = one(data)
    assert details(alert).control_title == "気象警報・注意報（Ｒ０８）（大雨）"
    new = area(alert, "3220100", "（新しい区域）")
    assert new.kinds[0].name == "レベル４大雨危険警報" and new.severity is Severity.WARNING


EEW = """<?xml version="1.0" encoding="UTF-8"?>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">
<Control><Title>緊急地震速報（警報）</Title><DateTime>2024-04-17T14:14:58Z</DateTime>
<Status>通常</Status><EditorialOffice>気象庁本庁</EditorialOffice>
<PublishingOffice>気象庁</PublishingOffice></Control>
<Head xmlns="http://xml.kishou.go.jp/jmaxml1/informationBasis1/">
<Title>緊急地震速報（警報）</Title><ReportDateTime>2024-04-17T23:14:58+09:00</ReportDateTime>
<TargetDateTime>2024-04-17T23:14:54+09:00</TargetDateTime><EventID>20240417231454</EventID>
<InfoType>発表</InfoType><Serial>1</Serial><InfoKind>緊急地震速報</InfoKind>
<InfoKindVersion>1.2_0</InfoKindVersion><Headline><Text>豊後水道で地震　強い揺れに警戒</Text>
<Information type="緊急地震速報（府県予報区）"><Item><Kind><Name>緊急地震速報（警報）</Name>
<Code>10</Code></Kind><Areas codeType="地震情報／府県予報区"><Area><Name>愛媛</Name>
<Code>380</Code></Area></Areas></Item></Information></Headline></Head>
<Body xmlns="http://xml.kishou.go.jp/jmaxml1/body/seismology1/"
 xmlns:jmx_eb="http://xml.kishou.go.jp/jmaxml1/elementBasis1/">
<Earthquake><OriginTime>2024-04-17T23:14:00+09:00</OriginTime>
<Hypocenter><Area><Name>豊後水道</Name><Code type="震央地名">790</Code>
<jmx_eb:Coordinate description="北緯３３．２度　東経１３２．４度　深さ　５０ｋｍ"
>+33.2+132.4-50000/</jmx_eb:Coordinate></Area></Hypocenter>
<jmx_eb:Magnitude type="Mj" description="Ｍ６．６">6.6</jmx_eb:Magnitude></Earthquake>
<Intensity><Forecast><ForecastInt><From>6-</From><To>6-</To></ForecastInt>
<Pref><Name>愛媛県</Name><Code>38</Code><Area><Name>愛媛県南予</Name><Code>582</Code>
<Category><Kind><Name>緊急地震速報（警報）</Name><Code>19</Code></Kind></Category>
<ForecastInt><From>5+</From><To>over</To></ForecastInt><Condition>既に主要動到達と推測</Condition>
</Area></Pref></Forecast></Intensity></Body></Report>
"""


def test_earthquake_early_warning_is_an_emergency() -> None:
    alert = one(EEW.encode())
    jma = details(alert)
    assert alert.severity is Severity.EMERGENCY
    assert alert.max_intensity is SeismicIntensity.SIX_LOWER  # the forecast's lower bound
    (forecast,) = jma.intensity_forecast
    assert (forecast.name, forecast.code, forecast.kind) == (
        "愛媛県南予",
        "582",
        "緊急地震速報（警報）",
    )
    assert forecast.lowest is SeismicIntensity.FIVE_UPPER
    assert forecast.highest is None and forecast.highest_over
    assert forecast.condition == "既に主要動到達と推測"
    assert jma.earthquake is not None and jma.earthquake.magnitude == 6.6
    assert alert.key == JmaKey(
        "緊急地震速報（警報）|気象庁本庁|2024-04-17T14:14:58+00:00|発表|1",
        JmaSeriesKey("緊急地震速報（警報）", "気象庁本庁", "20240417231454"),
    )
    # the cancel sample names the same series
    cancel = one("37_01_03_240613_VXSE43.xml")
    assert isinstance(cancel.key, JmaKey) and cancel.key.series == alert.key.series
