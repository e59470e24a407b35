"""Two homeservers federating over TLS on loopback — a city (where yakuba runs) and its
prefecture — and yakuba in the loop.

The prefecture's alert system posts a JMA 気象警報 in the prefecture's shared disaster
room as the event form the city's config names (`jp.yakuba.alert`, the XML under `xml`);
it reaches the city's members through federation, and yakuba routes it by the city's own
`alerts.routes`. The same document from a prefecture user the config does not list is
ignored and logged. A prefecture user cannot run the city's `!警報` unless the config
grants it (`security.trusted_users` and the disaster officer role).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from nio import UnknownEvent

from bots.demo.synapse import SynapseProcess
from tests.integration.bridge import _alias
from tests.integration.federation import TestCA, federating_config
from tests.integration.harness import RunningApp, Staff, audited, eventually, prepare
from tests.samples import SAMPLES

# 徳島県気象警報・注意報 (通常, 発表): a 高潮警報 (warning) for 藍住町 (3640300)
WARNING_XML = (SAMPLES / "jma" / "15_15_01_220314_VPWW54.xml").read_text(encoding="utf-8")
TITLE = "徳島県気象警報・注意報"
CITY_CODE = "3640300"  # 藍住町: the city of this test
ALERT_EVENT = "jp.yakuba.alert"
FEATURE_LOG = "bots.alerts.feature"


@dataclass
class World:
    city: SynapseProcess
    pref: SynapseProcess
    app: RunningApp
    bot: str
    resident: Staff  # city staff: in the city's alert rooms and the shared room
    system: Staff  # the prefecture's alert system: listed in alerts.matrix_sources
    officer: Staff  # a prefecture officer: trusted_users + disaster_officer
    clerk: Staff  # a prefecture user the city's config does not mention
    shared: str  # the prefecture's shared disaster room
    saigai: str  # the city's alert room: warnings and above in the city
    honbu: str  # the city's 災害対策本部 room: emergencies only


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("federation")
    ca = TestCA.create(tmp / "ca")
    city = SynapseProcess(federating_config(tmp / "city", ca))
    pref = SynapseProcess(federating_config(tmp / "pref", ca))
    started: list[SynapseProcess] = []
    clients: list[Staff] = []
    app: RunningApp | None = None

    async def start(server: SynapseProcess) -> None:
        await server.start()
        started.append(server)

    try:
        await asyncio.gather(start(city), start(pref))
        city_name, pref_name = city.cfg.server_name, pref.cfg.server_name
        system_id = f"@bousai-system:{pref_name}"
        officer_id = f"@kikikanri:{pref_name}"
        admin = await city.register("admin", secrets.token_urlsafe(12), admin=True)
        app = await prepare(
            city,
            admin["access_token"],
            tmp / "yakuba",
            {"alerts": {"localpart": "alertbot", "features": ["alerts"]}},
            security={"allowed_homeservers": [pref_name], "trusted_users": [officer_id]},
            roles={"disaster_officer": {"users": [officer_id]}},
            alerts={
                "city_codes": [CITY_CODE],
                "routes": [
                    {"room": f"#saigai:{city_name}", "areas": "city", "min_severity": "warning"},
                    {"room": f"#honbu:{city_name}", "areas": "city", "min_severity": "emergency"},
                ],
                "matrix_sources": [
                    {"room": f"#kyoyu-bousai:{pref_name}", "senders": [system_id]},
                ],
            },
        )
        await app.start()
        bot = app.config.bot("alerts").user_id

        async def staff(server: SynapseProcess, localpart: str) -> Staff:
            member = await Staff.create(
                server, localpart, secrets.token_urlsafe(12), tmp / "staff" / localpart
            )
            clients.append(member)
            return member

        resident, system, officer, clerk = await asyncio.gather(
            staff(city, "saigai-tantou"),
            staff(pref, "bousai-system"),
            staff(pref, "kikikanri"),
            staff(pref, "kenmin-ka"),
        )
        assert (system.user_id, officer.user_id) == (system_id, officer_id)

        # the city's own rooms: the alert room is encrypted (Element's default)
        saigai = await resident.create_room(invite=[bot], encrypted=True, power={bot: 100})
        honbu = await resident.create_room(invite=[bot], encrypted=False, power={bot: 100})
        await _alias(resident, f"#saigai:{city_name}", saigai)
        await _alias(resident, f"#honbu:{city_name}", honbu)

        # the prefecture's shared disaster room (federated, unencrypted), named by its alias
        shared = await system.create_room(
            invite=[bot, resident.user_id, officer.user_id, clerk.user_id], encrypted=False
        )
        await _alias(system, f"#kyoyu-bousai:{pref_name}", shared)
        for member in (officer, clerk, resident):  # the city's resident joins over federation
            await _join(member, shared)
        for room in (saigai, honbu):
            await resident.wait_joined(room, bot)
        for member_id in (bot, resident.user_id, officer.user_id, clerk.user_id):
            await system.wait_joined(shared, member_id)
        yield World(city, pref, app, bot, resident, system, officer, clerk, shared, saigai, honbu)
    finally:
        for client in clients:
            await client.close()
        if app is not None:
            await app.stop()
        for server in started:
            await server.stop()


async def _join(member: Staff, room_id: str) -> None:
    async with asyncio.timeout(60):
        while True:
            response = await member.client.join(room_id)
            if getattr(response, "room_id", None) == room_id:
                return
            await asyncio.sleep(0.2)  # the invitation has not arrived over federation yet


def _bodies(member: Staff, sender: str, room: str) -> list[str]:
    return [str(getattr(e, "body", "")) for e in member.events_from(sender, room)]


def _alerts_in(member: Staff, world: World, room: str) -> list[str]:
    return [b for b in _bodies(member, world.bot, room) if TITLE in b and not b.startswith("* ")]


def _warnings(caplog: pytest.LogCaptureFixture, event_id: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == FEATURE_LOG and r.levelno == logging.WARNING and event_id in r.getMessage()
    ]


async def test_federated_alert_from_a_trusted_sender_is_routed_by_the_citys_rules(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.alerts")
    content = {"xml": WARNING_XML}

    # first from a prefecture user whom the city's config does not list: ignored, logged
    ignored = await world.clerk.send_content(world.shared, content, ALERT_EVENT)
    await eventually(lambda: bool(_warnings(caplog, ignored)), "the untrusted alert logged")
    (record,) = _warnings(caplog, ignored)
    text = record.getMessage()
    assert world.clerk.user_id in text and world.shared in text
    assert "not listed" in text and "<" not in text and "高潮" not in text  # never the XML

    # then the same document from the prefecture's alert system, which the config lists
    taken = await world.system.send_content(world.shared, content, ALERT_EVENT)
    resident = world.resident
    await resident.wait_for(
        lambda: bool(_alerts_in(resident, world, world.saigai)), "the alert in the city's room"
    )
    # the city's members got the prefecture's event itself through federation
    await resident.wait_for(
        lambda: any(
            isinstance(e, UnknownEvent) and e.type == ALERT_EVENT and e.event_id == taken
            for e in resident.events_from(world.system.user_id, world.shared)
        ),
        "the prefecture's event on the city's server",
    )
    (posted,) = _alerts_in(resident, world, world.saigai)  # once: the untrusted one did nothing
    assert "藍住町" in posted and "警報" in posted
    message = next(
        e
        for e in resident.events_from(world.bot, world.saigai)
        if TITLE in str(getattr(e, "body", ""))
    )
    assert message.decrypted  # the bot encrypted it for the city's encrypted room
    # by the city's rules: a 警報 does not reach the emergencies-only room
    await resident.send(world.honbu, "確認用")  # anything the bot sent before is synced now
    await resident.wait_for(
        lambda: any("確認用" in b for b in _bodies(resident, resident.user_id, world.honbu)),
        "the marker",
    )
    assert _alerts_in(resident, world, world.honbu) == []
    assert not [
        r
        for r in caplog.records
        if r.name == FEATURE_LOG and taken in r.getMessage() and r.levelno >= logging.WARNING
    ]


async def test_a_prefecture_user_cannot_run_the_citys_alert_command_unless_granted(
    world: World,
) -> None:
    resident = world.resident

    # a user of the other homeserver with no grant: refused, nothing is raised
    refused = await world.clerk.send(world.shared, "!警報 警報 県からの無断発表")
    await world.clerk.wait_for(
        lambda: bool(world.clerk.replies_to(refused, world.bot)), "the refusal"
    )
    (reply,) = world.clerk.replies_to(refused, world.bot)
    assert "権限が必要です" in reply.body
    assert world.app.app is not None
    db = world.app.app.db
    (denied,) = await audited(db, world.clerk.user_id, "alert")
    assert (denied.room_id, denied.result) == (world.shared, "denied")

    # a prefecture officer whom the config trusts and names a disaster officer: it works,
    # and the alert follows the city's routes (a 警報 in the city: the alert room only)
    granted = await world.officer.send(world.shared, "!警報 警報 県危機管理課より高潮警戒")
    await world.officer.wait_for(
        lambda: bool(world.officer.replies_to(granted, world.bot)), "the answer"
    )
    (answer,) = world.officer.replies_to(granted, world.bot)
    assert "1 ルームに発表しました" in answer.body
    (raised,) = await audited(db, world.officer.user_id, "alert")
    assert (raised.room_id, raised.result) == (world.shared, "ok")
    await resident.wait_for(
        lambda: any(
            "県危機管理課より高潮警戒" in b for b in _bodies(resident, world.bot, world.saigai)
        ),
        "the officer's alert in the city's room",
    )
    everywhere = [
        b
        for room in (world.saigai, world.honbu, world.shared)
        for b in _bodies(resident, world.bot, room)
    ]
    assert not any("無断発表" in b for b in everywhere)
