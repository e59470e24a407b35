"""Manual alerts (bots/alerts/manual.py, bots/alerts/officers.py): levels, the CAP they are
written as, and the second-officer confirmation, through the real AlertService."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.alerts.commands import alert_commands
from bots.alerts.levels import Severity
from bots.alerts.manual import manual_cap, parse_level
from bots.alerts.model import CapKey, MsgType, Status
from bots.alerts.officers import ManualAlerts
from bots.alerts.parse import parse_alert_document
from bots.alerts.service import AlertService
from bots.alerts.store import AlertStore
from bots.audit import AuditLog
from bots.commands.dispatcher import Dispatcher, IncomingMessage
from bots.commands.errors import CommandError
from bots.commands.router import Role
from bots.config import parse_config
from bots.i18n import Catalog
from bots.store.database import Database
from bots.store.events import EventStore
from tests.unit.fakes import KACHO, SERVER, SUZUKI, TANAKA, FakeMessenger, bot_config

pytestmark = pytest.mark.postgresql

BOT = f"@alerts:{SERVER}"
ALL = f"!bousai:{SERVER}"  # 防災: every alert
CITY = f"!soumu:{SERVER}"  # 総務: the city's areas, warnings and above
OFFICE = f"!bousaika:{SERVER}"  # where officers type !alert
ROOMS = {f"#bousai:{SERVER}": ALL, f"#soumu:{SERVER}": CITY}
CATALOG = Catalog.load()
NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@dataclass
class World:
    manual: ManualAlerts
    service: AlertService
    messenger: FakeMessenger
    db: Database


def make_world(db: Database, tmp_path: Path, **alerts: Any) -> World:
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "bots": {"alerts": bot_config(BOT, "alerts")},
        "alerts": {
            "city_codes": ["4620100"],
            "routes": [
                {"room": f"#bousai:{SERVER}", "areas": "any"},
                {"room": f"#soumu:{SERVER}", "areas": "city", "min_severity": "warning"},
            ],
            "confirm_level": "emergency",
            "pin_level": "emergency",
            **alerts,
        },
    }
    config = parse_config(data, base_dir=tmp_path, env={})

    async def resolve(ref: str) -> str | None:
        return ref if ref.startswith("!") else ROOMS.get(ref)

    messenger = FakeMessenger(BOT)
    service = AlertService(AlertStore(db), messenger, CATALOG, config, resolve)
    return World(ManualAlerts(db, service, config), service, messenger, db)


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    return make_world(db, tmp_path)


async def state_of(w: World, number: int) -> str:
    row = await w.db.fetchone("SELECT state FROM manual_alerts WHERE id = ?", (number,))
    assert row is not None
    return str(row[0])


# --- raising, confirming, cancelling ---------------------------------------------------------


async def test_a_warning_is_sent_at_once_as_a_cap_alert(world: World) -> None:
    number, rooms = await world.manual.raise_alert(
        TANAKA, OFFICE, "warning", "河川の増水", "○○川が氾濫危険水位に達しました。", NOW
    )
    assert rooms == 2
    assert await state_of(world, number) == "sent"
    assert sorted(s.room_id for s in world.messenger.sent) == sorted([ALL, CITY])
    for sent in world.messenger.sent:
        assert "河川の増水" in sent.content["body"]
        assert "○○川が氾濫危険水位に達しました。" in sent.content["body"]
        assert "room" not in sent.content["m.mentions"]  # below the pin level
    assert world.messenger.pins == []
    row = await world.db.fetchone("SELECT msg_type, status, severity FROM alerts")
    assert row is not None and tuple(row) == ("alert", "actual", int(Severity.WARNING))


async def test_an_advisory_reaches_only_the_rooms_whose_floor_it_meets(world: World) -> None:
    _, rooms = await world.manual.raise_alert(TANAKA, OFFICE, "advisory", "注意", "", NOW)
    assert rooms == 1
    (sent,) = world.messenger.sent
    assert sent.room_id == ALL


async def test_an_emergency_waits_for_a_second_officer(world: World) -> None:
    number, rooms = await world.manual.raise_alert(
        TANAKA, OFFICE, "emergency", "避難指示", "全域に避難指示", NOW
    )
    assert rooms is None
    assert await state_of(world, number) == "pending"
    assert world.messenger.sent == []
    assert await world.service.store.pending_deliveries() == []


async def test_the_author_cannot_confirm_their_own_alert(world: World) -> None:
    number, _ = await world.manual.raise_alert(TANAKA, OFFICE, "emergency", "避難指示", "", NOW)
    with pytest.raises(CommandError) as caught:
        await world.manual.confirm(TANAKA, number, NOW)
    assert caught.value.key == "alert.error.self_confirm"
    assert await state_of(world, number) == "pending"
    assert world.messenger.sent == []


async def test_another_officer_confirms_and_it_is_sent_once(world: World) -> None:
    number, _ = await world.manual.raise_alert(TANAKA, OFFICE, "emergency", "避難指示", "", NOW)
    rooms = await world.manual.confirm(KACHO, number, NOW + timedelta(minutes=2))
    assert rooms == 2
    assert await state_of(world, number) == "sent"
    assert sorted(s.room_id for s in world.messenger.sent) == sorted([ALL, CITY])
    for sent in world.messenger.sent:
        assert "避難指示" in sent.content["body"]
        assert sent.content["m.mentions"] == {"room": True}  # at the pin level
    assert sorted(world.messenger.pinned) == sorted([ALL, CITY])
    with pytest.raises(CommandError) as caught:
        await world.manual.confirm(KACHO, number, NOW + timedelta(minutes=3))
    assert caught.value.key == "alert.error.not_pending"
    assert caught.value.params == {"number": number}
    assert len(world.messenger.sent) == 2


async def test_raising_and_confirming_by_command_are_in_the_audit_log(world: World) -> None:
    # the commands through the dispatcher, as the bot runs them; officers: TANAKA, KACHO
    log = AuditLog(world.db, NOW.timestamp)

    async def role_check(user: str, room: str, role: Role) -> bool:
        return user in (TANAKA, KACHO)

    async def send(room_id: str, content: dict[str, Any], key: str) -> str | None:
        return "$reply"

    commands = alert_commands(world.manual, world.service, lambda: NOW).commands
    events = EventStore(world.db)
    dispatcher = Dispatcher(
        "alerts",
        BOT,
        commands,
        CATALOG,
        lambda _: "ja",
        events,
        send,
        role_check,
        NOW.timestamp,
        log,
    )
    at = int(NOW.timestamp() * 1000)
    typed = [
        (TANAKA, "!警報 緊急 避難指示"),
        (SUZUKI, "!警報 確認 1"),  # no officer
        (TANAKA, "!警報 確認 1"),  # the author
        (KACHO, "!警報 確認 1"),  # the second officer
    ]
    for n, (sender, text) in enumerate(typed):
        await dispatcher.handle(IncomingMessage(OFFICE, f"$c{n}", sender, text, (), at), [])
    assert await state_of(world, 1) == "sent"
    assert [(e.actor, e.action, e.room_id, e.result) for e in await log.entries()] == [
        (TANAKA, "alert", OFFICE, "ok"),
        (SUZUKI, "alert confirm", OFFICE, "denied"),
        (TANAKA, "alert confirm", OFFICE, "error:alert.error.self_confirm"),
        (KACHO, "alert confirm", OFFICE, "ok"),
    ]
    assert await log.verify() is None


async def test_confirming_an_alert_that_does_not_exist(world: World) -> None:
    with pytest.raises(CommandError) as caught:
        await world.manual.confirm(KACHO, 99, NOW)
    assert caught.value.key == "alert.error.not_found"


async def test_a_sent_warning_needs_no_confirmation(world: World) -> None:
    number, _ = await world.manual.raise_alert(TANAKA, OFFICE, "warning", "河川の増水", "", NOW)
    with pytest.raises(CommandError) as caught:
        await world.manual.confirm(KACHO, number, NOW)
    assert caught.value.key == "alert.error.not_pending"


async def test_cancelling_a_sent_alert_withdraws_it(world: World) -> None:
    number, _ = await world.manual.raise_alert(TANAKA, OFFICE, "warning", "河川の増水", "", NOW)
    originals = {s.room_id: s.event_id for s in world.messenger.sent}
    await world.manual.cancel(KACHO, number, NOW + timedelta(minutes=10))
    assert await state_of(world, number) == "cancelled"
    assert len(world.messenger.sent) == 2
    assert sorted((e.room_id, e.target) for e in world.messenger.edits) == sorted(originals.items())
    for edit in world.messenger.edits:
        assert "【取消】" in edit.content["body"]
        assert "河川の増水" in edit.content["body"]
    threads = await world.db.fetchall("SELECT state FROM alert_threads")
    assert [tuple(t) for t in threads] == [("withdrawn",)]


async def test_cancelling_a_confirmed_emergency_unpins_it(world: World) -> None:
    number, _ = await world.manual.raise_alert(TANAKA, OFFICE, "emergency", "避難指示", "", NOW)
    await world.manual.confirm(KACHO, number, NOW + timedelta(minutes=1))
    await world.manual.cancel(KACHO, number, NOW + timedelta(minutes=10))
    assert world.messenger.pinned == {ALL: [], CITY: []}
    assert all("【取消】" in e.content["body"] for e in world.messenger.edits)
    assert len(world.messenger.edits) == 2


async def test_cancelling_a_pending_alert_sends_nothing_and_it_cannot_be_confirmed(
    world: World,
) -> None:
    number, _ = await world.manual.raise_alert(TANAKA, OFFICE, "emergency", "避難指示", "", NOW)
    await world.manual.cancel(TANAKA, number, NOW + timedelta(minutes=1))
    assert await state_of(world, number) == "cancelled"
    with pytest.raises(CommandError) as caught:
        await world.manual.confirm(KACHO, number, NOW + timedelta(minutes=2))
    assert caught.value.key == "alert.error.not_pending"
    assert world.messenger.sent == [] and world.messenger.edits == []


async def test_a_lower_confirm_level_holds_warnings_too(db: Database, tmp_path: Path) -> None:
    w = make_world(db, tmp_path, confirm_level="warning")
    _, rooms = await w.manual.raise_alert(TANAKA, OFFICE, "warning", "河川の増水", "", NOW)
    assert rooms is None
    _, rooms = await w.manual.raise_alert(TANAKA, OFFICE, "advisory", "注意", "", NOW)
    assert rooms == 1


# --- levels --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("情報", "info"),
        ("注意報", "advisory"),
        ("警報", "warning"),
        ("緊急", "emergency"),
        ("特別警報", "emergency"),
        ("info", "info"),
        ("advisory", "advisory"),
        ("Warning", "warning"),
        ("EMERGENCY", "emergency"),
        ("ＷＡＲＮＩＮＧ", "warning"),  # full-width, as a Japanese IME types it
        (" 警報 ", "warning"),
    ],
)
def test_parse_level_accepts_japanese_and_english(word: str, level: str) -> None:
    assert parse_level(word) == level


@pytest.mark.parametrize("word", ["", "警戒", "severe", "extreme", "警報!", "danger"])
def test_parse_level_rejects_other_words(word: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_level(word)
    assert caught.value.key == "alert.error.level"
    assert caught.value.params == {"value": word}


# --- the CAP document -----------------------------------------------------------------------


def test_manual_cap_parses_as_a_real_cap_alert() -> None:
    document = manual_cap(7, TANAKA, "warning", "河川の増水", "本文", NOW, ["46201"])
    (alert,) = parse_alert_document(document)
    assert alert.key == CapKey(TANAKA, "yakuba-manual-7")
    assert (alert.status, alert.msg_type) == (Status.ACTUAL, MsgType.ALERT)
    assert alert.severity is Severity.WARNING
    assert alert.sent == NOW
    assert alert.cap is not None
    (info,) = alert.cap.infos
    assert (info.event, info.headline, info.description) == ("河川の増水", "河川の増水", "本文")
    (area,) = info.areas
    assert [g.value for g in area.geocodes] == ["46201"]


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("info", Severity.INFO),
        ("advisory", Severity.ADVISORY),
        ("warning", Severity.WARNING),
        ("emergency", Severity.EMERGENCY),
    ],
)
def test_manual_cap_levels_map_to_severities(level: str, severity: Severity) -> None:
    (alert,) = parse_alert_document(manual_cap(1, TANAKA, level, "t", "b", NOW, ["46201"]))
    assert alert.severity is severity


def test_manual_cap_keeps_xml_special_characters_as_text() -> None:
    title = "<script>&amp; \"x\" 'y' </alert>"
    body = "a < b && c > d <![CDATA[x]]> <!-- no -->"
    (alert,) = parse_alert_document(manual_cap(2, TANAKA, "warning", title, body, NOW, ["46201"]))
    assert alert.cap is not None
    (info,) = alert.cap.infos
    assert info.event == title.strip()
    assert info.description == body


def test_manual_cap_cancel_references_the_original() -> None:
    later = NOW + timedelta(minutes=5)
    document = manual_cap(3, TANAKA, "info", "", "", later, ["46201"], cancel_of=NOW)
    (alert,) = parse_alert_document(document)
    assert alert.msg_type is MsgType.CANCEL
    assert alert.key == CapKey(TANAKA, "yakuba-manual-3-cancel")
    (reference,) = alert.references
    assert reference.key == CapKey(TANAKA, "yakuba-manual-3")
    assert reference.sent == NOW


async def test_a_title_with_markup_reaches_the_room_as_text(world: World) -> None:
    await world.manual.raise_alert(TANAKA, OFFICE, "warning", "<script>&", "本文 <b>", NOW)
    for sent in world.messenger.sent:
        assert "<script>&" in sent.content["body"]
        assert "<script>" not in sent.content["formatted_body"]
        assert "&lt;script&gt;&amp;" in sent.content["formatted_body"]


# --- text an officer may paste ----------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(title=TEXT.filter(lambda s: any(c.isalnum() for c in s)), body=TEXT)
def test_manual_cap_parses_whatever_text_the_officer_typed(title: str, body: str) -> None:
    # Matrix message text may hold any character but a lone surrogate, control characters
    # included (a form feed pasted from a PDF); the CAP document must still parse.
    (alert,) = parse_alert_document(manual_cap(4, TANAKA, "warning", title, body, NOW, ["46201"]))
    assert alert.cap is not None
    assert alert.cap.infos[0].event


async def test_a_pasted_control_character_is_not_a_silently_lost_alert(world: World) -> None:
    body = "○○川が氾濫危険水位に達しました。\x0c（以下、資料）"  # a form feed from a PDF
    try:
        _, rooms = await world.manual.raise_alert(
            TANAKA, OFFICE, "warning", "河川の増水", body, NOW
        )
    except CommandError:
        # refused with a clear error: then nothing is recorded as sent either
        row = await world.db.fetchone("SELECT COUNT(*) FROM manual_alerts")
        assert row is not None and row[0] == 0
        return
    assert rooms == 2
    assert len(world.messenger.sent) == 2


async def test_a_confirmed_alert_interrupted_before_sending_is_sent_by_the_next_run(
    db: Database, tmp_path: Path
) -> None:
    world = make_world(db, tmp_path)
    number, rooms = await world.manual.raise_alert(TANAKA, OFFICE, "emergency", "避難指示", "", NOW)
    assert rooms is None
    # the process stopped after the confirmation was stored, before the alert was recorded
    await db.execute(
        "UPDATE manual_alerts SET state = 'confirmed', confirmed_by = ? WHERE id = ?",
        (KACHO, number),
    )
    assert await world.manual.resume(NOW) == 1
    assert [s for s in world.messenger.sent if "避難指示" in s.content["body"]]
    assert await world.manual.resume(NOW) == 0
