"""Backup while yakuba runs, wipe its data folder, restore, and the bots come back as
themselves on a real Synapse: the same devices and cross-signing keys, trusted by the
staff's client and answering in an encrypted room, with every task, announcement and its
acknowledgement, alert and roll-call answer that was there at the backup; a command sent
after the backup is taken again after the restore, and answered once."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import aiohttp

from bots.backup import ArchiveKey, create_backup, restore_backup
from bots.demo.synapse import SynapseProcess
from bots.matrix.signatures import only_key, verify_json
from tests.integration.harness import RunningApp, Staff, prepare, unique
from tests.integration.rollcall_world import Person

KEY = ArchiveKey(b"the key IT keeps in the safe", "the test key")
BOTS = ("tasks", "news", "alerts")


def _text(event: Any) -> str:
    return str(getattr(event, "body", ""))


async def _identity(synapse: SynapseProcess, token: str, user_id: str) -> dict[str, str]:
    """The account's published keys as any client fetches them, with the signature chain
    device ← self-signing key ← master key checked. {device id, master, self_signing}."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            synapse.url + "/_matrix/client/v3/keys/query",
            json={"device_keys": {user_id: []}},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        assert resp.status == 200
        keys = await resp.json()
    master, ssk = keys["master_keys"][user_id], keys["self_signing_keys"][user_id]
    (device_id, device), *others = keys["device_keys"][user_id].items()
    assert not others, "the bot keeps one device"
    master_id, master_pub = only_key(master)
    ssk_id, ssk_pub = only_key(ssk)
    assert verify_json(ssk, user_id, master_id, master_pub), "SSK not signed by the master key"
    assert verify_json(device, user_id, ssk_id, ssk_pub), "device not signed by the SSK"
    return {"device": device_id, "master": master_pub, "self_signing": ssk_pub}


async def _world(
    synapse: SynapseProcess, admin_token: str, tmp: Path
) -> tuple[RunningApp, Staff, Person, str, dict[str, str]]:
    lead = await Staff.create(synapse, unique("kacho"), "pw-lead-1234", tmp / "lead")
    clerk = await Person.create(synapse, unique("shokuin"), "pw-clerk-123", tmp / "clerk")
    assert isinstance(clerk, Person)
    locals_ = {name: unique(name) for name in BOTS}
    ids = {name: f"@{local}:{synapse.cfg.server_name}" for name, local in locals_.items()}
    clerk.bot = ids["alerts"]
    room = await lead.create_room(
        invite=[*ids.values(), clerk.user_id],
        encrypted=True,
        power={bot_id: 100 for bot_id in ids.values()},
    )
    await clerk.client.join(room)
    running = await prepare(
        synapse,
        admin_token,
        tmp,
        {
            "tasks": {"localpart": locals_["tasks"], "features": ["tasks"]},
            "news": {"localpart": locals_["news"], "features": ["announcements"]},
            "alerts": {"localpart": locals_["alerts"], "features": ["alerts", "rollcall"]},
        },
        roles={
            "lead": {"power_level": 50},
            "announcer": {"users": [lead.user_id]},
            "disaster_officer": {"users": [lead.user_id]},
        },
        tasks={"digest": "off"},
        announcements={
            "groups": [
                {"id": "all", "name": {"ja": "全庁"}, "rooms": [room], "announcers": [lead.user_id]}
            ]
        },
        departments=[
            {
                "id": "soumu",
                "name": {"ja": "総務課"},
                "leads": [lead.user_id],
                "staff": [clerk.user_id],
            }
        ],
        alerts={"city_codes": ["2221200"], "routes": [{"room": room}], "office_room": room},
        rollcall={"room": room},
    )
    await running.start()
    for bot_id in ids.values():
        await lead.wait_joined(room, bot_id)
    await clerk.sync()
    return running, lead, clerk, room, ids


async def _command(staff: Staff, room: str, text: str, bot_id: str, **extra: Any) -> str:
    """Send a command and wait for the bot's reply; its text."""
    sent = await staff.send(room, text, **extra)
    await staff.wait_for(lambda: bool(staff.replies_to(sent, bot_id)), f"the reply to {text!r}")
    return _text(staff.replies_to(sent, bot_id)[0])


async def test_backup_while_running_then_restore_keeps_identities_and_work(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running, lead, clerk, room, ids = await _world(synapse, admin_token, tmp_path)
    config = running.config
    try:
        # --- work accepted before the backup: a task, an announcement and its
        # acknowledgement, an alert, a roll-call answer
        assert "[1]" in await _command(
            lead, room, f"!task add Budget papers {clerk.user_id} due: in 3 days", ids["tasks"]
        )
        assert "1 ルームに投稿しました" in await _command(
            lead,
            room,
            "!お知らせ 宛先:全庁 要確認 窓口の変更\n来週から窓口は9時に開きます。",
            ids["news"],
        )
        assert running.app is not None
        copy = await running.app.db.fetchone(
            "SELECT event_id FROM announcement_copies WHERE announcement_id = 1"
        )
        assert copy is not None
        await _command(
            clerk,
            room,
            "!了解",
            ids["news"],
            **{"m.relates_to": {"m.in_reply_to": {"event_id": copy[0]}}},
        )
        assert "1 ルームに発表しました" in await _command(
            lead, room, "!警報 注意報 大雨に注意してください", ids["alerts"]
        )
        assert "安否確認 No.1 を開始しました" in await _command(
            lead, room, "!安否 開始 地震発生", ids["alerts"]
        )
        await clerk.asked(1)
        answer = await clerk.send(clerk.dm, "無事です。出勤できます")
        assert "回答を受け付けました" in await clerk.receipt(answer)

        # the identities as Synapse publishes them, and as the lead's client knows them:
        # the lead verifies each bot's device, as staff do in Element
        await lead.sync()
        before: dict[str, dict[str, str]] = {}
        seen: dict[str, str] = {}
        for name in BOTS:
            bot_id = ids[name]
            before[name] = await _identity(synapse, admin_token, bot_id)
            assert before[name]["device"] == running.app.bots[name].client.device_id
            device = lead.client.device_store[bot_id][before[name]["device"]]
            lead.client.verify_device(device)
            seen[name] = device.curve25519

        # --- the backup, while yakuba runs and answers
        archive = tmp_path / "nightly.tar.gz.enc"
        ping = await lead.send(room, "!ping")
        result, _ = await asyncio.gather(
            create_backup(config, archive, KEY),
            lead.wait_for(lambda: len(lead.replies_to(ping)) == 3, "pings during the backup"),
        )
        assert result.manifest.store == "sqlite"
        assert {n: b.device_id for n, b in result.manifest.bots.items()} == {
            n: before[n]["device"] for n in BOTS
        }
        # a command after the backup: the restored bot has not handled it yet
        late = await lead.send(room, "!task add Sent after the backup")
        await lead.wait_for(lambda: bool(lead.replies_to(late, ids["tasks"])), "late task")

        # --- disaster: yakuba stops and its data folder (with the store) is gone
        await running.stop()
        shutil.rmtree(config.data_dir)
        assert not config.store.path.exists()

        restored = await restore_backup(config, archive, KEY)
        assert restored.aside == () and restored.warnings == ()

        app = await running.start()
        for name in BOTS:
            assert app.bots[name].client.device_id == before[name]["device"]
            assert await _identity(synapse, admin_token, ids[name]) == before[name]

        # the bots answer in the encrypted room, from the devices the lead trusts
        ping = await lead.send(room, "!ping")
        await lead.wait_for(lambda: len(lead.replies_to(ping)) == 3, "pings after the restore")
        for reply in lead.replies_to(ping):
            name = next(n for n in BOTS if ids[n] == reply.sender)
            assert reply.decrypted and reply.verified, (name, reply)
            assert reply.sender_key == seen[name]
            assert list(lead.client.device_store[ids[name]].keys()) == [before[name]["device"]]

        # the work from before the backup is there, and the late command was taken again
        listing = await _command(lead, room, "!task list", ids["tasks"])
        assert "Budget papers" in listing and "Sent after the backup" in listing
        assert len(lead.replies_to(late, ids["tasks"])) == 1  # answered once, not twice
        acks = await app.db.fetchall(
            "SELECT user_id FROM announcement_acks WHERE announcement_id = 1"
        )
        assert acks == [(clerk.user_id,)]
        alerts = await app.db.fetchall("SELECT title, state FROM manual_alerts")
        assert alerts == [("大雨に注意してください", "sent")]
        answers = await app.db.fetchall(
            "SELECT safety, attendance FROM rollcall_targets WHERE rollcall_id = 1 AND user_id = ?",
            (clerk.user_id,),
        )
        assert answers == [("safe", "yes")]
        # and the clerk is asked nothing again: the answer is known
        status = await _command(lead, room, "!安否 状況 1", ids["alerts"])
        assert clerk.user_id.split(":")[0][1:] not in status
    finally:
        await lead.close()
        await clerk.close()
        await running.stop()
