"""Commands are handled exactly once: those sent while the bot was down after it starts,
none twice after a restart, none from before the bot joined."""

from __future__ import annotations

import secrets
from pathlib import Path

import aiohttp

from bots.demo.synapse import SynapseProcess
from tests.integration.harness import Staff, prepare, unique


async def test_commands_sent_while_down_are_answered_once(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running = await prepare(
        synapse, admin_token, tmp_path, {"tasks": {"localpart": unique("tasks")}}
    )
    config = running.config
    bot_id = config.bots["tasks"].user_id
    await running.start()
    staff = await Staff.create(synapse, unique("sato"), "pw-sato-12", tmp_path / "staff")
    try:
        room = await staff.create_room(invite=[bot_id], encrypted=True)
        await staff.wait_joined(room, bot_id)
        before = await staff.send(room, "!ping")
        await staff.wait_for(lambda: bool(staff.replies_to(before, bot_id)), "first ping")
        await running.stop()

        # the bot is down: two commands wait for it
        first = await staff.send(room, "!ping")
        second = await staff.send(room, "!ピング")
        await running.start()
        await staff.wait_for(
            lambda: (
                bool(staff.replies_to(first, bot_id)) and bool(staff.replies_to(second, bot_id))
            ),
            "replies to the commands sent while the bot was down",
        )
        # a marker command: once it is answered, anything earlier would have been too
        marker = await staff.send(room, "!ping")
        await staff.wait_for(lambda: bool(staff.replies_to(marker, bot_id)), "marker reply")

        # restart again: nothing is answered a second time
        await running.stop()
        await running.start()
        marker2 = await staff.send(room, "!ping")
        await staff.wait_for(lambda: bool(staff.replies_to(marker2, bot_id)), "second marker")
        for command in (before, first, second, marker, marker2):
            assert len(staff.replies_to(command, bot_id)) == 1, command
    finally:
        await staff.close()
        await running.stop()


async def test_commands_from_before_the_bot_joined_are_ignored(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running = await prepare(
        synapse, admin_token, tmp_path, {"alerts": {"localpart": unique("alerts")}}
    )
    config = running.config
    bot_id = config.bots["alerts"].user_id
    staff = await Staff.create(synapse, unique("kato"), "pw-kato-123", tmp_path / "staff")
    try:
        # history visible to new members: the bot will see these commands on joining
        room = await staff.create_room(invite=[], encrypted=False)
        old = await staff.send(room, "!ping")
        await staff.client.room_invite(room, bot_id)
        await running.start()
        await staff.wait_joined(room, bot_id)
        new = await staff.send(room, "!ping")
        await staff.wait_for(lambda: bool(staff.replies_to(new, bot_id)), "reply to new command")
        assert staff.replies_to(old, bot_id) == []
    finally:
        await staff.close()
        await running.stop()


async def test_undecryptable_message_gets_a_polite_answer(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running = await prepare(
        synapse, admin_token, tmp_path, {"tasks": {"localpart": unique("tasks")}}
    )
    config = running.config
    bot_id = config.bots["tasks"].user_id
    app = await running.start()
    for bot in app.bots.values():
        bot.undecryptable_grace_s = 0.0  # no need to wait for a room key that will never come
        bot.undecryptable_min_syncs = 0
    staff = await Staff.create(synapse, unique("ito"), "pw-ito-1234", tmp_path / "staff")
    try:
        room = await staff.create_room(invite=[bot_id], encrypted=True)
        await staff.wait_joined(room, bot_id)
        # an encrypted event whose megolm session the bot never received
        url = (
            f"{synapse.url}/_matrix/client/v3/rooms/{room}/send/m.room.encrypted/"
            f"{secrets.token_hex(8)}"
        )
        headers = {"Authorization": f"Bearer {staff.client.access_token}"}
        body = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": "x" * 43,
            "ciphertext": "AwgAEnA" + "A" * 100,
            "session_id": "s" * 43,
            "device_id": staff.client.device_id,
        }
        async with aiohttp.ClientSession() as http, http.put(url, json=body, headers=headers) as r:
            assert r.status == 200
            broken = (await r.json())["event_id"]
        await staff.wait_for(lambda: bool(staff.replies_to(broken, bot_id)), "apology")
        (reply,) = staff.replies_to(broken, bot_id)
        assert "復号できませんでした" in reply.body
    finally:
        await staff.close()
        await running.stop()
