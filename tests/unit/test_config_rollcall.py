"""Configuration of the safety roll call and the staffing levels (bots/config_rollcall.py
and the cross checks in bots/config.py): a good config loads, every mistake is named by
its path, and the demo city's roll call is consistent with its staff."""

from __future__ import annotations

import copy
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.config import Config, ConfigErrors, load_config, parse_config
from bots.demo.city import ensure_secret_files
from tests.unit.fakes import SERVER, bot_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
BOT = f"@alerts:{SERVER}"
OFFICE = f"#bousai:{SERVER}"
KACHO = f"@kacho:{SERVER}"
SOUMU = [f"@soumu{n}:{SERVER}" for n in range(1, 3)]
BOUSAI = [f"@bousai{n}:{SERVER}" for n in range(1, 3)]

GOOD: dict[str, Any] = {
    "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
    "bots": {"alerts": {**bot_config(BOT, "alerts"), "features": ["alerts", "rollcall"]}},
    "departments": [
        {"id": "soumu", "name": {"ja": "総務課"}, "leads": [KACHO], "staff": SOUMU},
        {"id": "bousai", "name": {"ja": "防災危機管理課"}, "staff": BOUSAI},
    ],
    "alerts": {"city_codes": ["2220500"]},
    "outbound": {
        "endpoints": [{"id": "sms", "url": "https://sms.city.example.jp/", "secret": "s"}]
    },
    "rollcall": {
        "room": OFFICE,
        "triggers": [
            {"min_intensity": "5-"},
            {"areas": ["380"], "kinds": ["大津波警報", "津波警報"]},
            {"areas": "any", "min_severity": "emergency"},
        ],
        "hold": "3m",
        "resend_every": "10m",
        "resend_times": 3,
        "escalate_after": 2,
        "gateway": "sms",
        "retention": "30d",
    },
    "staffing": {
        "levels": [
            {
                "id": "chui",
                "name": {"ja": "注意体制", "en": "Caution"},
                "report_to": {"ja": "防災危機管理課"},
                "departments": ["bousai"],
                "triggers": [{"min_intensity": "4"}],
            },
            {
                "id": "keikai",
                "name": {"ja": "警戒体制", "en": "Alert"},
                "report_to": {"ja": "本庁舎3階 災害対策室", "en": "Disaster Response Room, 3F"},
                "departments": ["bousai", "soumu"],
                "users": [KACHO],
                "triggers": [{"min_intensity": "5-"}],
            },
        ]
    },
}


def load(data: dict[str, Any], tmp_path: Path) -> Config:
    return parse_config(data, base_dir=tmp_path, env={})


def changed(**sections: Any) -> dict[str, Any]:
    """GOOD with top-level sections replaced (None: left out)."""
    data = copy.deepcopy(GOOD)
    for key, value in sections.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def rollcall(**settings: Any) -> dict[str, Any]:
    return {**copy.deepcopy(GOOD["rollcall"]), **settings}


def errors_of(data: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    with pytest.raises(ConfigErrors) as info:
        load(data, tmp_path)
    return {e.path: e.message for e in info.value.errors}


# --- a good config -----------------------------------------------------------------------


def test_a_good_config_loads(tmp_path: Path) -> None:
    config = load(GOOD, tmp_path)

    settings = config.rollcall
    assert settings.room == OFFICE
    assert settings.hold == timedelta(minutes=3)
    assert settings.resend_every == timedelta(minutes=10)
    assert (settings.resend_times, settings.escalate_after) == (3, 2)
    assert settings.gateway == "sms"
    assert settings.retention == timedelta(days=30)
    assert settings.triggers[0].areas == "city"  # the default
    assert settings.triggers[1].areas == ("380",)
    assert settings.triggers[1].kinds == ("大津波警報", "津波警報")
    assert settings.triggers[2].min_severity == "emergency"
    soumu = config.department("soumu")
    assert soumu is not None and soumu.staff == tuple(SOUMU)
    assert config.bot_for_feature("rollcall") == ("alerts", config.bot("alerts"))

    levels = config.staffing.levels
    assert [level.id for level in levels] == ["chui", "keikai"]
    assert levels[1].users == (KACHO,)
    assert levels[1].report_to.get("en") == "Disaster Response Room, 3F"
    assert levels[0].report_to.get("en") == "防災危機管理課"  # no English: Japanese
    assert config.staffing.level("警戒体制") is levels[1]
    assert config.staffing.level("caution") is levels[0]
    assert config.staffing.level("keikai") is levels[1]
    assert config.staffing.level("非常体制") is None
    assert config.staffing.rank("keikai") > config.staffing.rank("chui")


def test_the_defaults(tmp_path: Path) -> None:
    config = load(changed(rollcall={"room": OFFICE}, staffing=None, outbound=None), tmp_path)
    settings = config.rollcall
    assert settings.triggers == ()
    assert settings.drills is True
    assert settings.hold == timedelta(0)
    assert settings.resend_every == timedelta(minutes=15)
    assert (settings.resend_times, settings.escalate_after) == (3, 2)
    assert settings.gateway is None
    assert settings.retention == timedelta(days=90)
    assert config.staffing.levels == ()


def test_the_room_defaults_to_the_alert_office_room(tmp_path: Path) -> None:
    settings = rollcall()
    del settings["room"]
    config = load(changed(rollcall=settings, alerts={"office_room": OFFICE}), tmp_path)
    assert config.rollcall.room is None
    assert config.alerts.office_room == OFFICE


def test_no_roll_call_bot_needs_no_roll_call_settings(tmp_path: Path) -> None:
    bots = {"alerts": {**bot_config(BOT, "alerts")}}
    config = load(changed(bots=bots, rollcall=None, staffing=None), tmp_path)
    assert config.bot_for_feature("rollcall") is None


# --- errors named by their path ----------------------------------------------------------


def test_the_roll_call_needs_a_room(tmp_path: Path) -> None:
    settings = rollcall()
    del settings["room"]
    errors = errors_of(changed(rollcall=settings), tmp_path)
    assert "set rollcall.room" in errors["rollcall"]


def test_triggers_need_the_alerts_feature_on_the_roll_call_bot(tmp_path: Path) -> None:
    bots = {
        "alerts": bot_config(BOT, "alerts"),
        "anpi": {**bot_config(f"@anpi:{SERVER}", "rollcall")},
    }
    errors = errors_of(changed(bots=bots), tmp_path)
    assert "alerts feature" in errors["rollcall"]
    assert "'anpi'" in errors["rollcall"]


def test_without_triggers_another_bot_may_run_the_roll_call(tmp_path: Path) -> None:
    bots = {"alerts": bot_config(BOT, "alerts"), "anpi": bot_config(f"@anpi:{SERVER}", "rollcall")}
    config = load(changed(bots=bots, rollcall=rollcall(triggers=[])), tmp_path)
    assert config.bot_for_feature("rollcall") == ("anpi", config.bot("anpi"))


def test_the_gateway_must_be_an_outbound_endpoint(tmp_path: Path) -> None:
    errors = errors_of(changed(rollcall=rollcall(gateway="mail")), tmp_path)
    assert "'mail'" in errors["rollcall"]
    assert "sms" in errors["rollcall"]  # the endpoints there are


def test_a_gateway_without_any_outbound_endpoint(tmp_path: Path) -> None:
    errors = errors_of(changed(outbound=None), tmp_path)
    assert "'sms'" in errors["rollcall"]
    assert "none" in errors["rollcall"]


def test_escalation_after_more_re_sends_than_there_are(tmp_path: Path) -> None:
    errors = errors_of(changed(rollcall=rollcall(resend_times=2, escalate_after=3)), tmp_path)
    assert "escalate_after (3)" in errors["rollcall"]
    assert "resend_times (2)" in errors["rollcall"]


def test_escalation_at_the_last_re_send_is_fine(tmp_path: Path) -> None:
    config = load(changed(rollcall=rollcall(resend_times=2, escalate_after=2)), tmp_path)
    assert config.rollcall.escalate_after == 2


@pytest.mark.parametrize("every", ["30s", "0m"])
def test_re_sends_at_least_a_minute_apart(tmp_path: Path, every: str) -> None:
    errors = errors_of(changed(rollcall=rollcall(resend_every=every)), tmp_path)
    assert "at least 1 minute" in errors["rollcall.resend_every"]


def test_a_trigger_needs_a_condition(tmp_path: Path) -> None:
    triggers = [{"min_intensity": "5-"}, {"areas": "city"}]
    errors = errors_of(changed(rollcall=rollcall(triggers=triggers)), tmp_path)
    assert "min_intensity, min_severity or kinds" in errors["rollcall.triggers[1]"]


@pytest.mark.parametrize("intensity", ["5弱", "8", "5", "0"])
def test_a_bad_intensity(tmp_path: Path, intensity: str) -> None:
    triggers = [{"min_intensity": intensity}]
    errors = errors_of(changed(rollcall=rollcall(triggers=triggers)), tmp_path)
    message = errors["rollcall.triggers[0].min_intensity"]
    assert repr(intensity) in message
    assert "5-" in message and "6+" in message  # what is expected


def test_a_bad_severity_and_a_bad_area_code(tmp_path: Path) -> None:
    triggers = [{"min_severity": "severe"}, {"areas": ["熱海市"], "min_intensity": "5-"}]
    errors = errors_of(changed(rollcall=rollcall(triggers=triggers)), tmp_path)
    assert "rollcall.triggers[0].min_severity" in errors
    assert any(path.startswith("rollcall.triggers[1].areas") for path in errors)


def test_an_unknown_trigger_key(tmp_path: Path) -> None:
    triggers = [{"min_intensty": "5-"}]
    errors = errors_of(changed(rollcall=rollcall(triggers=triggers)), tmp_path)
    assert "unknown key" in errors["rollcall.triggers[0].min_intensty"]
    assert "min_intensity" in errors["rollcall.triggers[0].min_intensty"]  # what is allowed


def test_a_staffing_level_calling_an_unknown_department(tmp_path: Path) -> None:
    data = changed()
    data["staffing"]["levels"][1]["departments"] = ["bousai", "kikaku"]
    errors = errors_of(data, tmp_path)
    assert "'keikai'" in errors["staffing"]
    assert "'kikaku'" in errors["staffing"]
    assert "bousai, soumu" in errors["staffing"]


def test_duplicate_level_ids(tmp_path: Path) -> None:
    data = changed()
    data["staffing"]["levels"][1]["id"] = "chui"
    errors = errors_of(data, tmp_path)
    assert "'chui' is used more than once" in errors["staffing.levels"]


def test_a_level_that_calls_no_one(tmp_path: Path) -> None:
    data = changed()
    data["staffing"]["levels"][0]["departments"] = []
    errors = errors_of(data, tmp_path)
    assert "departments or users" in errors["staffing.levels[0]"]


def test_a_bad_level_id(tmp_path: Path) -> None:
    data = changed()
    data["staffing"]["levels"][0]["id"] = "注意体制"
    errors = errors_of(data, tmp_path)
    assert "staffing.levels[0].id" in errors


def test_staffing_levels_need_a_bot_serving_the_roll_call(tmp_path: Path) -> None:
    bots = {"alerts": bot_config(BOT, "alerts")}
    errors = errors_of(changed(bots=bots, rollcall=None), tmp_path)
    assert "rollcall feature" in errors["staffing"]


def test_a_bad_staff_user_id_is_named(tmp_path: Path) -> None:
    data = changed()
    data["departments"][0]["staff"] = [SOUMU[0], "soumu2"]
    errors = errors_of(data, tmp_path)
    assert "departments[0].staff[1]" in errors


def test_several_mistakes_are_reported_together(tmp_path: Path) -> None:
    data = changed(rollcall=rollcall(resend_every="10s", triggers=[{"min_intensity": "9"}]))
    data["staffing"]["levels"][1]["id"] = "chui"
    errors = errors_of(data, tmp_path)
    assert {
        "rollcall.resend_every",
        "rollcall.triggers[0].min_intensity",
        "staffing.levels",
    } <= set(errors)


# --- the demo city -----------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path) -> Config:
    """config/demo.yaml as `make up` loads it (secret files generated)."""
    (tmp_path / "config").mkdir()
    shutil.copy(CONFIG_DIR / "demo.yaml", tmp_path / "config" / "demo.yaml")
    ensure_secret_files(tmp_path / "config" / "demo.yaml")
    return load_config(tmp_path / "config" / "demo.yaml", env={})


def test_the_demo_roster_is_the_demo_staff(demo: Config) -> None:
    city = yaml.safe_load((CONFIG_DIR / "demo-staff.yaml").read_text("utf-8"))
    server = demo.homeserver.server_name
    expected: dict[str, list[str]] = {}
    for person in city["staff"]:
        expected.setdefault(person["department"], []).append(f"@{person['localpart']}:{server}")
    assert {d.id: list(d.staff) for d in demo.departments} == expected
    for department in demo.departments:  # every lead is on the roster too
        assert set(department.leads) <= set(department.staff)


def test_the_demo_runs_the_roll_call_on_the_alerts_bot(demo: Config) -> None:
    assert demo.bot_for_feature("rollcall") == ("alerts", demo.bot("alerts"))
    bousai = demo.department("bousai")
    assert bousai is not None and bousai.name.ja == "防災危機管理課"
    assert demo.rollcall.room in bousai.rooms
    assert demo.rollcall.room in demo.bot("alerts").rooms
    assert any(t.areas == "city" and t.min_intensity == "5-" for t in demo.rollcall.triggers), (
        demo.rollcall.triggers
    )
    assert demo.alerts.city_codes  # what "city" means
    assert timedelta(0) < demo.rollcall.hold <= timedelta(minutes=5)


def test_the_demo_staffing_levels(demo: Config) -> None:
    levels = demo.staffing.levels
    assert [level.name.ja for level in levels] == ["注意体制", "警戒体制", "非常体制"]
    for level in levels:
        assert level.report_to.ja and level.report_to.en
        assert level.name.en
        assert level.departments
    called = [set(level.departments) for level in levels]
    assert called[0] <= called[1] <= called[2]  # a higher level calls in more
    assert called[2] == {d.id for d in demo.departments}
