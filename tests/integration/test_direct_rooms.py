"""The alerts bot's direct rooms on a real Synapse: made as Element makes a DM (is_direct
invite, encrypted, listed in the bot's m.direct), readable by a person who accepts the
invite after the first message (nio shares the room key with invited members), reused
also across restarts, replaced after the person leaves, never doubled: not by concurrent
calls and not after a crash between creating a room and storing it."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from nio import (
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPreset,
)

from bots.bot import Bot
from bots.demo.synapse import SynapseProcess
from bots.matrix.direct import ENCRYPTION_STATE
from bots.matrix.messenger import MatrixMessenger
from tests.integration.harness import Staff, eventually, prepare, unique


def text(body: str) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, "m.mentions": {}}


async def ready_direct_room(bot: Bot, user_id: str) -> str:
    """Ask as the roll call does until the room is ready (it is after a sync or two)."""
    messenger = bot.messenger
    assert isinstance(messenger, MatrixMessenger)
    async with asyncio.timeout(60):
        while True:
            room_id = await messenger.direct_room(user_id)
            if room_id is not None:
                return room_id
            await asyncio.sleep(0.1)


async def client_get(synapse: SynapseProcess, token: str, path: str, **params: str) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            synapse.url + path, params=params, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def m_direct(synapse: SynapseProcess, bot: Bot) -> dict[str, list[str]]:
    user = quote(bot.user_id, safe="")
    path = f"/_matrix/client/v3/user/{user}/account_data/m.direct"
    return dict(await client_get(synapse, bot.client.access_token, path))


async def invite_state(synapse: SynapseProcess, staff: Staff) -> dict[str, list[dict[str, Any]]]:
    """The stripped state of each room the person is invited to, as Element gets it
    (nio keeps only part of it). Synapse caches a /sync response for a while: ask once."""
    sync_filter = json.dumps({"room": {"timeline": {"limit": 1}}})
    body = await client_get(
        synapse, staff.client.access_token, "/_matrix/client/v3/sync", filter=sync_filter
    )
    invites = body.get("rooms", {}).get("invite", {})
    return {room_id: info["invite_state"]["events"] for room_id, info in invites.items()}


async def pending_invites(staff: Staff) -> set[str]:
    """The invitations the person has not answered, as their own client has them."""
    await staff.sync(wait_ms=0)
    return set(staff.client.invited_rooms)


async def decrypted_texts(staff: Staff, room_id: str, sender: str) -> list[RoomMessageText]:
    """The room's messages from the sender, fetched with /messages and decrypted by the
    person's own client (they may be older than the sync timeline)."""
    await staff.sync(wait_ms=0)
    response = await staff.client.room_messages(
        room_id, staff.client.next_batch, direction=MessageDirection.back, limit=100
    )
    assert isinstance(response, RoomMessagesResponse), response
    return [e for e in response.chunk if isinstance(e, RoomMessageText) and e.sender == sender]


async def test_direct_room_with_a_person(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running = await prepare(
        synapse, admin_token, tmp_path, {"alerts": {"localpart": unique("alerts")}}
    )
    app = await running.start()
    tanaka = await Staff.create(synapse, unique("tanaka"), "pw-tanaka-1", tmp_path / "tanaka")
    try:
        bot = app.bots["alerts"]
        messenger = bot.messenger
        assert isinstance(messenger, MatrixMessenger)

        # concurrent calls for one person make one room
        await asyncio.gather(*(messenger.direct_room(tanaka.user_id) for _ in range(5)))
        room_id = await ready_direct_room(bot, tanaka.user_id)
        invites = await invite_state(synapse, tanaka)
        assert set(invites) == {room_id}

        # as Element makes a DM: an is_direct invite from the bot, encrypted with Megolm,
        # and listed in the bot's m.direct
        state = invites[room_id]
        (invite,) = [
            e for e in state if e["type"] == "m.room.member" and e["state_key"] == tanaka.user_id
        ]
        assert invite["sender"] == bot.user_id
        assert invite["content"]["membership"] == "invite"
        assert invite["content"]["is_direct"] is True
        (encryption,) = [e for e in state if e["type"] == "m.room.encryption"]
        assert encryption["content"] == ENCRYPTION_STATE["content"]
        assert (await m_direct(synapse, bot))[tanaka.user_id] == [room_id]

        # sent while the person is only invited: nio shares the key with invited members
        first = await messenger.send(room_id, text("安否確認: 無事ですか？"), "dm-test:1")
        assert first is not None
        await tanaka.sync()  # the room key arrives as a to-device message
        joined = await tanaka.client.join(room_id)
        assert getattr(joined, "room_id", None) == room_id, joined
        await eventually(
            lambda: (
                tanaka.user_id in bot.client.rooms[room_id].users
                and tanaka.user_id not in bot.client.rooms[room_id].invited_users
            ),
            "the bot seeing the join",
        )
        second = await messenger.send(room_id, text("二通目"), "dm-test:2")
        assert second is not None
        await tanaka.wait_for(
            lambda: any(e.event_id == second for e in tanaka.received), "the second message"
        )
        texts = {e.event_id: e for e in await decrypted_texts(tanaka, room_id, bot.user_id)}
        assert texts[first].body == "安否確認: 無事ですか？" and texts[first].decrypted
        assert texts[second].body == "二通目" and texts[second].decrypted
        assert tanaka.client.rooms[room_id].encrypted

        # the same room again, also after a restart with the same store
        assert await messenger.direct_room(tanaka.user_id) == room_id
        await running.stop()
        app = await running.start()
        bot = app.bots["alerts"]
        assert await ready_direct_room(bot, tanaka.user_id) == room_id

        # after the person leaves, a new room (and the bot leaves the old one)
        await tanaka.client.room_leave(room_id)
        await eventually(
            lambda: tanaka.user_id not in bot.client.rooms[room_id].users, "the bot seeing it"
        )
        new_room = await ready_direct_room(bot, tanaka.user_id)
        assert new_room != room_id
        assert await pending_invites(tanaka) == {new_room}
        assert (await m_direct(synapse, bot))[tanaka.user_id] == [room_id, new_room]
        members = await client_get(
            synapse, admin_token, f"/_synapse/admin/v1/rooms/{quote(room_id)}/members"
        )
        assert bot.user_id not in members["members"]

        # a crash after creating and listing the room but before storing it: adopted
        deleted = await app.db.execute(
            "DELETE FROM direct_rooms WHERE bot = ? AND user_id = ?", ("alerts", tanaka.user_id)
        )
        assert deleted == 1
        await running.stop()
        app = await running.start()
        bot = app.bots["alerts"]
        assert await ready_direct_room(bot, tanaka.user_id) == new_room
        assert await pending_invites(tanaka) == {new_room}
    finally:
        await tanaka.close()
        await running.stop()


async def test_crash_before_listing_and_many_people_at_once(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running = await prepare(
        synapse, admin_token, tmp_path, {"alerts": {"localpart": unique("alerts")}}
    )
    app = await running.start()
    suzuki = await Staff.create(synapse, unique("suzuki"), "pw-suzuki-1", tmp_path / "suzuki")
    try:
        bot = app.bots["alerts"]
        # a crash right after the homeserver created the room: neither listed in m.direct
        # nor stored, only the bot's is_direct invite tells what it was
        created = await bot.client.room_create(
            is_direct=True,
            invite=[suzuki.user_id],
            preset=RoomPreset.trusted_private_chat,
            initial_state=[ENCRYPTION_STATE],
        )
        assert isinstance(created, RoomCreateResponse), created
        crashed = created.room_id
        await running.stop()
        app = await running.start()
        bot = app.bots["alerts"]
        assert await ready_direct_room(bot, suzuki.user_id) == crashed
        assert await pending_invites(suzuki) == {crashed}
        assert (await m_direct(synapse, bot))[suzuki.user_id] == [crashed]

        # many people at once (as the roll call asks, eight at a time): one room each,
        # every one listed in m.direct beside the others
        people = [f"@{unique('staff')}:{synapse.cfg.server_name}" for _ in range(12)]
        for person in people:
            await synapse.register(person[1:].split(":")[0], secrets.token_urlsafe(12))
        limit = asyncio.Semaphore(8)

        async def reach(person: str) -> str:
            async with limit:
                return await ready_direct_room(bot, person)

        rooms = await asyncio.gather(*(reach(p) for p in people))
        assert len(set(rooms)) == len(people)
        listed = await m_direct(synapse, bot)
        assert listed[suzuki.user_id] == [crashed]
        assert {p: listed[p] for p in people} == {
            p: [r] for p, r in zip(people, rooms, strict=True)
        }
        again = await asyncio.gather(*(reach(p) for p in people))
        assert again == rooms
    finally:
        await suzuki.close()
        await running.stop()
