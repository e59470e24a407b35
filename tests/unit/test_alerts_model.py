"""The ordered levels and the model's own rules (language choice, realness, JSON)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots.alerts import Alert, CapKey, MsgType, Origin, SeismicIntensity, Severity, Status
from bots.alerts.capinfo import CapDetails, CapInfo, CapSeverity, Certainty, Scope, Urgency
from bots.alerts.levels import TsunamiGrade, warning_kind_severity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5-", SeismicIntensity.FIVE_LOWER),
        ("5+", SeismicIntensity.FIVE_UPPER),
        ("6-", SeismicIntensity.SIX_LOWER),
        ("6+", SeismicIntensity.SIX_UPPER),
        ("7", SeismicIntensity.SEVEN),
        ("4 ", SeismicIntensity.FOUR),
        ("震度５弱", SeismicIntensity.FIVE_LOWER),
        ("6強", SeismicIntensity.SIX_UPPER),
        ("不明", None),
        ("over", None),
        ("", None),
    ],
)
def test_seismic_intensity_reading(text: str, expected: SeismicIntensity | None) -> None:
    assert SeismicIntensity.parse(text) is expected


def test_seismic_intensity_order_labels_and_codes() -> None:
    order = [SeismicIntensity.parse(c) for c in ("1", "4", "5-", "5+", "6-", "6+", "7")]
    assert order == sorted(order)  # type: ignore[type-var]
    assert SeismicIntensity.FIVE_UPPER > SeismicIntensity.FIVE_LOWER > SeismicIntensity.FOUR
    assert [i.label for i in order if i] == [
        "震度1", "震度4", "震度5弱", "震度5強", "震度6弱", "震度6強", "震度7",
    ]  # fmt: skip
    assert SeismicIntensity.SIX_UPPER.code == "6+"
    assert SeismicIntensity.FOUR.severity() is Severity.ADVISORY
    assert SeismicIntensity.FIVE_UPPER.severity() is Severity.WARNING
    assert SeismicIntensity.SIX_LOWER.severity() is Severity.EMERGENCY


def test_severity_scale() -> None:
    assert Severity.INFO < Severity.ADVISORY < Severity.WARNING < Severity.EMERGENCY
    assert [
        warning_kind_severity(n, "") for n in ("大雨特別警報", "暴風警報", "雷注意報", "なし")
    ] == [
        Severity.EMERGENCY,
        Severity.WARNING,
        Severity.ADVISORY,
        Severity.INFO,
    ]
    assert warning_kind_severity("警戒", "土砂災害警戒情報") is Severity.WARNING
    assert CapSeverity.EXTREME.level() is Severity.EMERGENCY
    assert CapSeverity.MODERATE.level() is CapSeverity.SEVERE.level() is Severity.WARNING
    assert CapSeverity.MINOR.level() is Severity.ADVISORY
    assert CapSeverity.UNKNOWN.level() is Severity.INFO


@pytest.mark.parametrize(
    ("kind", "grade"),
    [
        ("大津波警報", TsunamiGrade.MAJOR_WARNING),
        ("大津波警報：発表", TsunamiGrade.MAJOR_WARNING),
        ("津波警報", TsunamiGrade.WARNING),
        ("津波注意報", TsunamiGrade.ADVISORY),
        ("津波予報（若干の海面変動）", TsunamiGrade.FORECAST),
        ("津波注意報解除", TsunamiGrade.NONE),
        ("警報解除", TsunamiGrade.NONE),
        ("津波なし", TsunamiGrade.NONE),
    ],
)
def test_tsunami_grades(kind: str, grade: TsunamiGrade) -> None:
    assert TsunamiGrade.from_kind(kind) is grade


def info(language: str, event: str) -> CapInfo:
    return CapInfo(language, (), event, Urgency.UNKNOWN, CapSeverity.MINOR, Certainty.LIKELY)


def cap_alert(
    *infos: CapInfo, status: Status = Status.ACTUAL, msg: MsgType = MsgType.ALERT
) -> Alert:
    return Alert(
        origin=Origin.CAP,
        key=CapKey("s", "i"),
        sent=datetime(2026, 1, 1, tzinfo=UTC),
        status=status,
        msg_type=msg,
        severity=Severity.ADVISORY,
        title="t",
        cap=CapDetails(version="1.2", scope=Scope.PUBLIC, infos=infos),
    )


def test_language_choice_keeps_sequences_and_falls_back() -> None:
    alert = cap_alert(
        info("fr-CA", "a"), info("ja-JP", "b"), info("ja-JP", "c"), info("en-US", "d")
    )
    assert [i.event for i in alert.infos_in(["ja"])] == ["b", "c"]
    assert [i.event for i in alert.infos_in(["JA-jp"])] == ["b", "c"]
    assert [i.event for i in alert.infos_in(["de"])] == ["d"]  # en-US fallback
    only_french = cap_alert(info("fr-CA", "a"))
    assert [i.event for i in only_french.infos_in(["de"])] == ["a"]  # first language


@pytest.mark.parametrize(
    ("status", "msg", "real"),
    [
        (Status.ACTUAL, MsgType.ALERT, True),
        (Status.ACTUAL, MsgType.CANCEL, True),
        (Status.ACTUAL, MsgType.ACK, False),
        (Status.ACTUAL, MsgType.ERROR, False),
        (Status.EXERCISE, MsgType.ALERT, False),
        (Status.DRAFT, MsgType.UPDATE, False),
    ],
)
def test_only_actual_alerts_are_real(status: Status, msg: MsgType, real: bool) -> None:
    assert cap_alert(status=status, msg=msg).is_real_alert is real


def test_model_is_frozen_and_json_is_plain() -> None:
    alert = cap_alert(info("en-US", "x"))
    with pytest.raises(AttributeError):
        alert.title = "changed"  # type: ignore[misc]
    assert alert.to_json() == {
        "origin": "cap",
        "key": {"sender": "s", "identifier": "i"},
        "sent": "2026-01-01T00:00:00+00:00",
        "status": "actual",
        "msg_type": "alert",
        "severity": "advisory",
        "title": "t",
        "delayed": False,
        "cap": {
            "version": "1.2",
            "scope": "Public",
            "infos": [
                {
                    "language": "en-US",
                    "event": "x",
                    "urgency": "Unknown",
                    "severity": "Minor",
                    "certainty": "Likely",
                }
            ],
            "signed": False,
        },
        "is_real_alert": True,
    }
