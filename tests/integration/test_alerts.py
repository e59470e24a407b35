"""Disaster alerts on a real Synapse: CAP and JMA XML pushed to the appservice's signed
webhook reach the rooms their areas map to; updates edit, cancels withdraw and unpin,
drills are marked, duplicates are delivered once, and a fan-out interrupted by a restart
ends with each room having the alert exactly once."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from nio import RoomGetStateEventResponse

from appservice.registration import write_registration
from appservice.signing import signed_headers
from bots.alerts.feature import AlertFeature
from bots.alerts.parse import parse_alert_document
from bots.config import load_config
from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port
from tests.integration.bridge import Bridge, Receiver, _alias
from tests.integration.harness import Staff, register_bots, write_config
from tests.samples import SAMPLES

SECRET = "whsec_" + "YWxlcnQtaG9vay1zZWNyZXQtMTIz"
FAN = 8  # rooms of the interrupted fan-out


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("alerts")
    as_port, hs_port = free_port(), free_port()
    fake_hs = type("S", (), {"url": f"http://127.0.0.1:{hs_port}"})()
    fake_hs.cfg = type("C", (), {"server_name": "localhost"})()
    routes = [
        {"room": "#office:localhost", "min_severity": "info"},  # the disaster office: all
        {"room": "#all:localhost", "min_severity": "warning", "min_intensity": "5-"},
        {"room": "#ward:localhost", "areas": ["006109", "22"], "min_severity": "info"},
        *({"room": f"#fan{i}:localhost", "areas": ["fan"]} for i in range(FAN)),
    ]
    path = write_config(
        tmp,
        fake_hs,
        {"alerts": {"localpart": "alertbot", "features": ["alerts"]}},
        appservice={
            "url": f"http://127.0.0.1:{as_port}",
            "listen": {"host": "127.0.0.1", "port": as_port},
        },
        systems=[{"id": "bousai", "display_name": "防災情報システム"}],
        hooks=[
            {
                "id": "alerts",
                "system": "bousai",
                "room": "#office:localhost",
                "secrets": [SECRET],
                "action": "alert",
            }
        ],
        alerts={
            "city_codes": ["2220500"],
            "routes": routes,
            "pin_level": "warning",
            "drills": {"mode": "room", "room": "#drill:localhost"},
        },
    )
    config = load_config(path)
    assert config.appservice is not None
    registration = write_registration(config, config.appservice, tmp / "registration.yaml")
    synapse = SynapseProcess(
        SynapseConfig(
            tmp / "synapse", hs_port, extra={"app_service_config_files": [str(registration)]}
        )
    )
    await synapse.start()
    admin = await synapse.register("admin", secrets.token_urlsafe(12), admin=True)
    await register_bots(synapse, path, admin["access_token"])
    bridge = Bridge(synapse, config, Receiver(), admin["access_token"])
    await bridge.start()
    assert bridge.app is not None
    bot_id = bridge.app.bots["alerts"].user_id
    owner = await Staff.create(synapse, "bousai", "pw-bousai-123", tmp / "owner")
    rooms: dict[str, str] = {}
    for name, encrypted in [
        ("office", True),
        ("all", False),
        ("ward", False),
        ("drill", False),
        *((f"fan{i}", False) for i in range(FAN)),
    ]:
        rooms[name] = await owner.create_room(
            invite=[bot_id], encrypted=encrypted, power={bot_id: 100}
        )
        await _alias(owner, f"#{name}:localhost", rooms[name])
    for room in rooms.values():
        await owner.wait_joined(room, bot_id)
    try:
        yield {"bridge": bridge, "owner": owner, "rooms": rooms, "bot": bot_id}
    finally:
        await owner.close()
        await bridge.stop()
        await synapse.stop()


async def _push(bridge: Bridge, body: bytes) -> dict[str, Any]:
    headers = signed_headers(SECRET, f"msg_{secrets.token_hex(6)}", int(time.time()), body)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{bridge.as_url}/hooks/alerts", data=body, headers=headers) as resp,
    ):
        answer = await resp.json()
        assert resp.status == 200, answer
        return dict(answer)


def _bodies(owner: Staff, bot: str, room: str) -> list[str]:
    return [str(getattr(e, "body", "")) for e in owner.events_from(bot, room)]


async def _pins(owner: Staff, room: str) -> list[str]:
    response = await owner.client.room_get_state_event(room, "m.room.pinned_events")
    return (
        list(response.content.get("pinned", []))
        if isinstance(response, RoomGetStateEventResponse)
        else []
    )


def _variant(
    source: bytes, *, identifier: str, msg_type: str, headline: str, references: str = ""
) -> bytes:
    """A derived CAP message (the samples stay as they are)."""
    text = source.decode()
    text = text.replace(
        "<identifier>KSTO1055887203</identifier>", f"<identifier>{identifier}</identifier>"
    )
    text = text.replace(
        "<msgType>Alert</msgType>",
        f"<msgType>{msg_type}</msgType>"
        + (f"<references>{references}</references>" if references else ""),
    )
    text = text.replace(
        "<sent>2003-06-17T14:57:00-07:00</sent>", "<sent>2003-06-17T15:20:00-07:00</sent>"
    )
    return text.replace("SEVERE THUNDERSTORM WARNING", headline).encode()


def _current(cap: bytes) -> bytes:
    """The OASIS sample expired in 2003: the same alert, still valid."""
    return cap.replace(
        b"<expires>2003-06-17T16:00:00-07:00</expires>",
        b"<expires>2099-06-17T16:00:00-07:00</expires>",
    )


async def test_an_alert_that_expired_before_it_arrived_is_not_posted(
    world: dict[str, Any],
) -> None:
    expired = (
        (SAMPLES / "cap/thunderstorm.cap").read_bytes().replace(b"KSTO1055887203", b"KSTO-OLD-1")
    )
    answer = await _push(world["bridge"], expired)
    assert answer["alerts"][0] == {
        "result": "ignored",
        "rooms": 0,
        "reason": "it had expired before it arrived",
    }


async def test_cap_alert_update_and_cancel(world: dict[str, Any]) -> None:
    bridge, owner, rooms, bot = world["bridge"], world["owner"], world["rooms"], world["bot"]
    cap = _current((SAMPLES / "cap/thunderstorm.cap").read_bytes())
    answer = await _push(bridge, cap)
    assert answer["alerts"][0]["result"] == "routed"
    # Severe -> WARNING: the office (everything), the all-staff room (warning and above)
    # and the ward (its SAME geocode 006109) get it; a fan room does not
    await owner.wait_for(
        lambda: all(
            any("SEVERE THUNDERSTORM" in b for b in _bodies(owner, bot, rooms[r]))
            for r in ("office", "all", "ward")
        ),
        "the alert in three rooms",
    )
    assert not any("THUNDERSTORM" in b for b in _bodies(owner, bot, rooms["fan0"]))
    office_msg = next(
        e
        for e in owner.events_from(bot, rooms["office"])
        if "SEVERE THUNDERSTORM" in str(getattr(e, "body", ""))
    )
    assert office_msg.decrypted  # the encrypted room got it through the alerts bot
    assert office_msg.source["content"]["m.mentions"] == {"room": True}
    for r in ("office", "all", "ward"):  # WARNING reaches pin_level: pinned
        pins = await _pins(owner, rooms[r])
        assert any(e.event_id in pins for e in owner.events_from(bot, rooms[r]))

    # the same message again (push + poll): delivered once
    assert (await _push(bridge, cap))["alerts"][0]["result"] == "duplicate"

    # an Update edits the messages already sent
    reference = "KSTO@NWS.NOAA.GOV,KSTO1055887203,2003-06-17T14:57:00-07:00"
    update = _variant(
        cap,
        identifier="KSTO-UPDATE-1",
        msg_type="Update",
        headline="THUNDERSTORM WARNING EXTENDED",
        references=reference,
    )
    assert (await _push(bridge, update))["alerts"][0]["result"] == "routed"

    def edited(text: str, room: str) -> bool:
        return any(
            (e.source["content"].get("m.relates_to") or {}).get("rel_type") == "m.replace"
            and text in str(getattr(e, "body", ""))
            for e in owner.events_from(bot, rooms[room])
        )

    await owner.wait_for(
        lambda: all(edited("EXTENDED", r) for r in ("office", "all", "ward")), "the update as edits"
    )
    # and a Cancel of the update withdraws them and unpins
    cancel = _variant(
        cap,
        identifier="KSTO-CANCEL-1",
        msg_type="Cancel",
        headline="x",
        references="KSTO@NWS.NOAA.GOV,KSTO-UPDATE-1,2003-06-17T15:20:00-07:00",
    )
    assert (await _push(bridge, cancel))["alerts"][0]["result"] == "routed"
    await owner.wait_for(
        lambda: all(edited("【取消】", r) for r in ("office", "all", "ward")),
        "withdrawn in every room",
    )
    for r in ("office", "all", "ward"):
        originals = [e.event_id for e in owner.events_from(bot, rooms[r])]
        assert not set(originals) & set(await _pins(owner, rooms[r]))
    posted = [
        b for b in _bodies(owner, bot, rooms["all"]) if "THUNDER" in b and not b.startswith("* ")
    ]
    assert len(posted) == 1, "one message per room, edited in place"


async def test_jma_quake_cancel_and_drill(world: dict[str, Any]) -> None:
    bridge, owner, rooms, bot = world["bridge"], world["owner"], world["rooms"], world["bot"]
    quake = (SAMPLES / "jma/32-35_04_04_240613_VXSE53.xml").read_bytes()
    alert = parse_alert_document(quake)[0]
    answer = await _push(bridge, quake)
    assert answer["alerts"][0]["result"] == "routed"
    title = alert.title
    await owner.wait_for(
        lambda: any(title in b for b in _bodies(owner, bot, rooms["office"])), "the quake report"
    )
    # its 取消 (derived: same series, InfoType 取消) withdraws it
    cancel = quake.decode().replace("<InfoType>発表</InfoType>", "<InfoType>取消</InfoType>")
    assert (await _push(bridge, cancel.encode()))["alerts"][0]["result"] == "routed"
    await owner.wait_for(
        lambda: any("【取消】" in b and title in b for b in _bodies(owner, bot, rooms["office"])),
        "the quake report withdrawn",
    )

    # a 訓練 message is marked and goes to the drill room only
    drill = (SAMPLES / "jma/32-35_01_03_240613_VXSE53.xml").read_bytes()
    assert (await _push(bridge, drill))["alerts"][0]["result"] == "routed"
    await owner.wait_for(
        lambda: any(
            b.lstrip("🚨⚠️ℹ ").startswith("【訓練】") for b in _bodies(owner, bot, rooms["drill"])
        ),
        "the drill in the drill room",
    )
    assert not any("【訓練】" in b for b in _bodies(owner, bot, rooms["office"]))


async def test_fan_out_interrupted_by_a_restart_is_completed_once(
    world: dict[str, Any],
) -> None:
    bridge, owner, rooms, bot = world["bridge"], world["owner"], world["rooms"], world["bot"]
    cap = _current((SAMPLES / "cap/thunderstorm.cap").read_bytes())
    fan = (
        cap.decode()
        .replace("<value>006109</value>", "<value>fan</value>")
        .replace("KSTO1055887203", "KSTO-FAN-1")
        .encode()
    )
    assert bridge.app is not None
    feature = bridge.app.bots["alerts"].features[0]
    assert isinstance(feature, AlertFeature)
    service = feature.service
    now = datetime.now(UTC)
    alert = parse_alert_document(fan)[0]
    # record the alert and its fan-out, deliver three rooms, send a fourth but "crash"
    # before marking it: what a process killed mid-fan-out leaves behind
    outcome = await service._record(alert, fan, 0, now)
    assert outcome.result == "routed" and outcome.rooms >= FAN
    pending = await service.store.pending_deliveries()
    for alert_id, room in pending[:3]:
        await service._deliver(alert_id, room)
        await service.store.mark_delivered(alert_id, room, now)
    await service._deliver(*pending[3])
    await bridge.stop()
    await bridge.start()
    assert bridge.app is not None
    feature = bridge.app.bots["alerts"].features[0]
    assert isinstance(feature, AlertFeature)
    # the restarted app's first wake may have finished the fan-out already; either way,
    # nothing is left to deliver, and below each room has the alert exactly once
    await feature.service.run_due(datetime.now(UTC))
    assert await feature.service.store.pending_deliveries() == []
    fan_rooms = [rooms[f"fan{i}"] for i in range(FAN)]
    await owner.wait_for(
        lambda: all(
            any("KSTO" in b or "THUNDER" in b for b in _bodies(owner, bot, r)) for r in fan_rooms
        ),
        "the alert in every fan room",
    )
    await owner.send(fan_rooms[0], "marker")  # anything sent before it is synced by now
    await owner.sync()
    for room in fan_rooms:
        posted = [e for e in owner.events_from(bot, room) if "THUNDERSTORM" in _body(e)]
        assert len(posted) == 1, (room, [_body(e)[:40] for e in posted])


def _body(event: Any) -> str:
    return str(getattr(event, "body", ""))
