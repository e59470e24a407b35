"""Alerts posted as Matrix events (bots/alerts/matrixsource.py, the alerts feature, and
`alerts.matrix_sources` in bots/config_alerts.py): listed senders' alerts are routed by
the city's own routes; the same from anyone else is ignored and logged, never quoted."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bots.alerts.feature import AlertFeature
from bots.alerts.matrixsource import Verdict, decide, looks_like_xml
from bots.alerts.officers import ManualAlerts
from bots.alerts.service import AlertService
from bots.alerts.store import AlertStore
from bots.config import Config, ConfigErrors, parse_config
from bots.config_alerts import MatrixSource
from bots.features import RelatedMessage, RoomEvent
from bots.i18n import Catalog
from bots.store.database import Database
from tests.samples import SAMPLES
from tests.unit.fakes import SERVER, FakeMessenger, bot_config

assert SAMPLES.is_dir(), f"samples not found at {SAMPLES}"

PREF = "pref.example.jp"
SYSTEM = f"@bousai-system:{PREF}"  # the prefecture's alert system: trusted for alerts
OFFICER = f"@kikikanri:{PREF}"  # a prefecture officer: not listed
SHARED = "!kyoyu-bousai"  # the prefecture's shared disaster room (v12: no server name)
SHARED_ALIAS = f"#bousai-kyoyu:{PREF}"
OTHER = f"!soumu:{SERVER}"
CITY_ROOM = f"!saigai:{SERVER}"  # the city's alert room: warnings here
TOP_ROOM = f"!honbu:{SERVER}"  # the city's 災害対策本部: emergencies only
ROOMS = {SHARED_ALIAS: SHARED, f"#saigai:{SERVER}": CITY_ROOM, f"#honbu:{SERVER}": TOP_ROOM}
BOT = f"@alerts:{SERVER}"
# 徳島県気象警報・注意報: 高潮警報 (a warning) for 藍住町 (3640300), nothing for 徳島市
WARNING = (SAMPLES / "jma" / "15_15_01_220314_VPWW54.xml").read_bytes()
NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def source(**values: Any) -> MatrixSource:
    return MatrixSource.model_validate({"room": SHARED_ALIAS, "senders": [SYSTEM], **values})


def config_with(tmp_path: Path, **alerts: Any) -> Config:
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
        "bots": {"alerts": bot_config(BOT, "alerts")},
        "alerts": alerts,
    }
    return parse_config(data, base_dir=tmp_path, env={})


def errors(tmp_path: Path, *sources: Any) -> dict[str, str]:
    with pytest.raises(ConfigErrors) as info:
        config_with(tmp_path, matrix_sources=list(sources))
    return {e.path: e.message for e in info.value.errors}


# --------------------------------------------------------------------------- config


def test_defaults_name_a_custom_event_type_with_the_xml_under_xml(tmp_path: Path) -> None:
    config = config_with(tmp_path, matrix_sources=[{"room": SHARED_ALIAS, "senders": [SYSTEM]}])
    (found,) = config.alerts.matrix_sources
    assert (found.room, found.senders) == (SHARED_ALIAS, (SYSTEM,))
    assert (found.event_type, found.key, found.is_message) == ("jp.yakuba.alert", "xml", False)
    assert config_with(tmp_path).alerts.matrix_sources == ()


def test_the_event_form_is_named_by_config() -> None:
    custom = source(event_type="jp.lg.pref.tokushima.alert", content_key="cap_xml")
    assert (custom.event_type, custom.key) == ("jp.lg.pref.tokushima.alert", "cap_xml")
    message = source(event_type="m.room.message")
    assert (message.key, message.is_message) == ("body", True)
    assert source(event_type="m.room.message", content_key="body").key == "body"


def test_senders_must_be_full_user_ids(tmp_path: Path) -> None:
    found = errors(tmp_path, {"room": SHARED_ALIAS, "senders": [SYSTEM, "bousai-system"]})
    assert list(found) == ["alerts.matrix_sources[0].senders[1]"]
    assert "full user ID" in found["alerts.matrix_sources[0].senders[1]"]
    found = errors(tmp_path, {"room": SHARED_ALIAS, "senders": ["@Bousai:pref.example.jp"]})
    assert "lowercase" in found["alerts.matrix_sources[0].senders[0]"]


def test_a_source_needs_a_room_and_senders(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        {"room": SHARED_ALIAS, "senders": [SYSTEM]},
        {"room": "kyoyu", "senders": []},
        {"event_type": "jp.yakuba.alert"},
    )
    assert found == {
        "alerts.matrix_sources[1].room": "expected a room ID (!…) or alias (#…:server),"
        " got 'kyoyu'",
        "alerts.matrix_sources[1].senders": "list at least one sender (full user IDs like"
        " @bousai:pref.example.jp)",
        "alerts.matrix_sources[2].room": "required key is missing",
        "alerts.matrix_sources[2].senders": "required key is missing",
    }


@pytest.mark.parametrize(
    "event_type", ["m.room.encrypted", "m.reaction", "alert", "jp yakuba.alert", "jp..alert"]
)
def test_event_type_must_be_namespaced_custom_or_a_message(tmp_path: Path, event_type: str) -> None:
    found = errors(tmp_path, {"room": SHARED_ALIAS, "senders": [SYSTEM], "event_type": event_type})
    message = found["alerts.matrix_sources[0].event_type"]
    assert "namespaced custom event type like 'jp.yakuba.alert'" in message
    assert repr(event_type) in message


def test_a_text_message_carries_the_xml_in_its_body(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        {
            "room": SHARED_ALIAS,
            "senders": [SYSTEM],
            "event_type": "m.room.message",
            "content_key": "xml",
        },
    )
    assert "the XML is the message body" in found["alerts.matrix_sources[0]"]


def test_unknown_key_is_named(tmp_path: Path) -> None:
    found = errors(tmp_path, {"room": SHARED_ALIAS, "senders": [SYSTEM], "sender": SYSTEM})
    assert found["alerts.matrix_sources[0].sender"].startswith("unknown key 'sender'")


# --------------------------------------------------------------------------- the decision


def test_a_listed_sender_is_taken_with_the_xml_as_utf8() -> None:
    text = WARNING.decode()
    decision = decide([source()], SYSTEM, "jp.yakuba.alert", {"xml": text})
    assert decision.verdict is Verdict.TAKE
    assert decision.document == WARNING


def test_anyone_else_is_untrusted_whatever_the_content() -> None:
    for content in ({"xml": WARNING.decode()}, {}, {"xml": 5}):
        decision = decide([source()], OFFICER, "jp.yakuba.alert", content)
        assert decision.verdict is Verdict.UNTRUSTED
        assert decision.document == b""
        assert "not listed" in decision.reason


def test_other_event_types_and_other_rooms_are_none_of_its_business() -> None:
    content = {"xml": WARNING.decode()}
    assert decide([source()], SYSTEM, "org.example.other", content).verdict is Verdict.NONE
    assert decide([source()], SYSTEM, "m.room.message", content).verdict is Verdict.NONE
    assert decide([], SYSTEM, "jp.yakuba.alert", content).verdict is Verdict.NONE


@pytest.mark.parametrize("content", [{}, {"xml": 42}, {"xml": ["<a/>"]}, {"xml": "  "}])
def test_a_listed_sender_without_an_xml_string_is_unreadable(content: dict[str, Any]) -> None:
    decision = decide([source()], SYSTEM, "jp.yakuba.alert", content)
    assert decision.verdict is Verdict.UNREADABLE
    assert decision.reason == "no XML string under the content key 'xml'"


def test_the_configured_content_key_is_read() -> None:
    named = source(content_key="cap")
    assert decide([named], SYSTEM, "jp.yakuba.alert", {"cap": "<a/>"}).document == b"<a/>"
    assert decide([named], SYSTEM, "jp.yakuba.alert", {"xml": "<a/>"}).verdict is (
        Verdict.UNREADABLE
    )


def test_any_source_of_the_room_may_list_the_sender() -> None:
    sources = [source(), source(senders=[OFFICER], content_key="cap")]
    decision = decide(sources, OFFICER, "jp.yakuba.alert", {"cap": "<alert/>"})
    assert (decision.verdict, decision.document) == (Verdict.TAKE, b"<alert/>")


def test_text_messages_count_only_when_they_are_xml() -> None:
    sources = [source(event_type="m.room.message")]
    xml = {"msgtype": "m.text", "body": "\n  " + WARNING.decode()}
    assert decide(sources, SYSTEM, "m.room.message", xml).verdict is Verdict.TAKE
    chat = {"msgtype": "m.text", "body": "了解しました"}
    assert decide(sources, SYSTEM, "m.room.message", chat).verdict is Verdict.NONE
    assert decide(sources, OFFICER, "m.room.message", chat).verdict is Verdict.NONE
    assert decide(sources, OFFICER, "m.room.message", xml).verdict is Verdict.UNTRUSTED
    notice = {**xml, "msgtype": "m.notice"}
    assert decide(sources, SYSTEM, "m.room.message", notice).verdict is Verdict.NONE


def test_looks_like_xml() -> None:
    assert looks_like_xml('\ufeff<?xml version="1.0"?><a/>')
    assert looks_like_xml("\r\n <Report/>")
    assert not looks_like_xml("!alert warning <b>")
    assert not looks_like_xml("")


# --------------------------------------------------------------------------- the feature


@dataclass
class World:
    feature: AlertFeature
    messenger: FakeMessenger

    def rooms(self) -> list[str]:
        return [s.room_id for s in self.messenger.sent]


def make_world(db: Database, tmp_path: Path, **values: Any) -> World:
    config = config_with(
        tmp_path,
        city_codes=["3640300"],  # 藍住町
        routes=[
            {"room": f"#saigai:{SERVER}", "areas": "city", "min_severity": "warning"},
            {"room": f"#honbu:{SERVER}", "areas": "city", "min_severity": "emergency"},
        ],
        matrix_sources=[{"room": SHARED_ALIAS, "senders": [SYSTEM], **values}],
    )

    async def resolve(ref: str) -> str | None:
        return ref if ref.startswith("!") else ROOMS.get(ref)

    messenger = FakeMessenger(BOT)
    service = AlertService(AlertStore(db), messenger, Catalog.load(), config, resolve)
    feature = AlertFeature(
        service,
        ManualAlerts(db, service, config),
        NOW.timestamp,
        matrix_sources=config.alerts.matrix_sources,
        resolve_room=resolve,
    )
    return World(feature, messenger)


def event(
    sender: str, content: dict[str, Any], room: str = SHARED, event_id: str = "$e1"
) -> RoomEvent:
    return RoomEvent(room, event_id, sender, "jp.yakuba.alert", content, 0)


async def test_a_trusted_alert_is_routed_by_the_citys_rules(db: Database, tmp_path: Path) -> None:
    world = make_world(db, tmp_path)
    await world.feature.on_event(event(SYSTEM, {"xml": WARNING.decode()}))
    # a 警報 for 藍住町: the warning room, not the emergencies-only room
    assert world.rooms() == [CITY_ROOM]
    body = world.messenger.sent[0].content["body"]
    assert "徳島県気象警報・注意報" in body and "藍住町" in body
    # posted again (or relayed by a second sender): deduplicated by the message id
    await world.feature.on_event(event(SYSTEM, {"xml": WARNING.decode()}, event_id="$e2"))
    assert world.rooms() == [CITY_ROOM]


async def test_an_untrusted_alert_is_ignored_and_logged_without_its_content(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(db, tmp_path)
    with caplog.at_level(logging.INFO, logger="bots.alerts"):
        await world.feature.on_event(event(OFFICER, {"xml": WARNING.decode()}, event_id="$bad"))
    assert world.messenger.sent == []
    (record,) = [r for r in caplog.records if r.name == "bots.alerts.feature"]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert all(part in text for part in ("$bad", SHARED, OFFICER, "not listed"))
    assert "高潮" not in text and "<" not in text


async def test_the_same_event_type_in_another_room_is_not_an_alert(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(db, tmp_path)
    with caplog.at_level(logging.INFO, logger="bots.alerts"):
        await world.feature.on_event(event(SYSTEM, {"xml": WARNING.decode()}, room=OTHER))
    assert world.messenger.sent == []
    assert not caplog.records


async def test_unsafe_or_invalid_xml_from_a_trusted_sender_is_refused_and_logged(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(db, tmp_path)
    xee = (SAMPLES / "cap" / "xee.cap").read_text()
    with caplog.at_level(logging.WARNING, logger="bots.alerts"):
        await world.feature.on_event(event(SYSTEM, {"xml": xee}, event_id="$xee"))
        await world.feature.on_event(event(SYSTEM, {"xml": "<html/>"}, event_id="$html"))
        await world.feature.on_event(event(SYSTEM, {}, event_id="$empty"))
    assert world.messenger.sent == []
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 3
    assert "$xee" in messages[0] and "refused" in messages[0]
    assert "$html" in messages[1] and "not an alert document" in messages[1]
    assert "$empty" in messages[2] and "content key 'xml'" in messages[2]


async def test_a_text_message_source_takes_xml_bodies(db: Database, tmp_path: Path) -> None:
    world = make_world(db, tmp_path, event_type="m.room.message")
    chat = RelatedMessage(SHARED, "$chat", SYSTEM, "こちら県危機管理課です", None, None)
    await world.feature.on_related_message(chat)
    await world.feature.on_event(event(SYSTEM, {"xml": WARNING.decode()}))  # not this form
    assert world.rooms() == []
    xml = RelatedMessage(SHARED, "$xml", SYSTEM, WARNING.decode(), None, None)
    await world.feature.on_related_message(xml)
    assert world.rooms() == [CITY_ROOM]
