"""Direct rooms (bots/matrix/direct.py): the m.direct and adoption rules, the store, and
the decisions of `DirectRooms` over a stand-in for the nio client (creation at most once
per person, per-person locks, readiness, reuse, replacement, adoption). The real
homeserver side is proven in tests/integration/test_direct_rooms.py."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import aiohttp
import pytest
from nio import (
    MatrixRoom,
    RoomCreateResponse,
    RoomGetStateEventError,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomLeaveResponse,
    RoomPreset,
)

from bots.matrix.direct import (
    DIRECT,
    ENCRYPTION_STATE,
    AccountData,
    DirectRooms,
    DirectRoomStore,
    direct_map,
    invited_as_direct,
    is_two_of_us,
    merge_direct,
)
from bots.matrix.http import MatrixHttpError
from bots.store.database import Database

pytestmark = pytest.mark.postgresql

SERVER = "city.example.jp"
BOT = f"@alerts:{SERVER}"
TANAKA = f"@tanaka:{SERVER}"
SUZUKI = f"@suzuki:{SERVER}"
OTHER = f"@other:{SERVER}"


# --- pure rules --------------------------------------------------------------------------


def test_merge_adds_and_keeps_every_other_entry() -> None:
    content = {OTHER: ["!a:x"], TANAKA: ["!old:x"], "junk": 3}
    merged = merge_direct(content, {TANAKA: ["!new:x"], SUZUKI: ["!s:x"]})
    assert merged == {
        OTHER: ["!a:x"],
        TANAKA: ["!old:x", "!new:x"],
        SUZUKI: ["!s:x"],
        "junk": 3,
    }
    assert content[TANAKA] == ["!old:x"]  # the input is not changed


def test_merge_of_what_is_listed_changes_nothing() -> None:
    assert merge_direct({TANAKA: ["!r:x"]}, {TANAKA: ["!r:x"]}) is None
    assert merge_direct({TANAKA: "!r:x"}, {TANAKA: ["!r:x"]}) == {TANAKA: ["!r:x"]}


def test_direct_map_ignores_malformed_entries() -> None:
    assert direct_map({TANAKA: ["!r:x", 5], SUZUKI: "!s:x"}) == {TANAKA: ["!r:x"]}


def _member(user: str, membership: str, sender: str, **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "state_key": user,
        "sender": sender,
        "content": {"membership": membership, **content},
    }


def test_invited_as_direct_only_for_the_bots_direct_invite() -> None:
    create = {"type": "m.room.create", "state_key": "", "sender": BOT, "content": {}}
    assert invited_as_direct([create, _member(TANAKA, "invite", BOT, is_direct=True)], BOT, TANAKA)
    assert not invited_as_direct([_member(TANAKA, "invite", BOT)], BOT, TANAKA)
    assert not invited_as_direct([_member(TANAKA, "invite", OTHER, is_direct=True)], BOT, TANAKA)
    assert not invited_as_direct([_member(TANAKA, "join", TANAKA)], BOT, TANAKA)
    assert not invited_as_direct([_member(SUZUKI, "invite", BOT, is_direct=True)], BOT, TANAKA)


def _room(room_id: str, *invited: str, encrypted: bool = True, joined: tuple[str, ...] = ()):
    room = MatrixRoom(room_id, BOT, encrypted)
    room.add_member(BOT, None, None)
    for user in joined:
        room.add_member(user, None, None)
    for user in invited:
        room.add_member(user, None, None, invited=True)
    return room


def test_two_of_us_is_encrypted_with_exactly_the_bot_and_the_person() -> None:
    assert is_two_of_us(_room("!a:x", TANAKA), BOT, TANAKA)
    assert is_two_of_us(_room("!a:x", joined=(TANAKA,)), BOT, TANAKA)
    assert not is_two_of_us(_room("!a:x", TANAKA, encrypted=False), BOT, TANAKA)
    assert not is_two_of_us(_room("!a:x", TANAKA, SUZUKI), BOT, TANAKA)
    assert not is_two_of_us(_room("!a:x"), BOT, TANAKA)


@pytest.mark.postgresql
async def test_store_keeps_one_room_per_bot_and_person(db: Database) -> None:
    store = DirectRoomStore(db)
    assert await store.get_direct_room("alerts", TANAKA) is None
    await store.set_direct_room("alerts", TANAKA, "!a:x", 1)
    await store.set_direct_room("tasks", TANAKA, "!t:x", 1)
    await store.set_direct_room("alerts", TANAKA, "!b:x", 2)  # replaced
    assert await store.get_direct_room("alerts", TANAKA) == "!b:x"
    assert await store.get_direct_room("tasks", TANAKA) == "!t:x"


# --- DirectRooms over a stand-in client ----------------------------------------------


class FakeClient:
    """What DirectRooms uses of nio's AsyncClient; `membership` is the bot's membership
    of each room on the homeserver and `person` the person's, `rooms` what nio has seen
    in sync."""

    user_id = BOT

    def __init__(self) -> None:
        self.rooms: dict[str, MatrixRoom] = {}
        self.next_batch = "s1"
        self.membership: dict[str, str] = {}
        self.person: dict[str, str] = {}
        self.state: dict[str, list[dict[str, Any]]] = {}
        self.created: list[str] = []
        self.left: list[str] = []
        self.hold: dict[str, asyncio.Event] = {}  # creation for these people waits
        self.offline = False

    async def room_create(self, **kwargs: Any) -> RoomCreateResponse:
        assert kwargs["is_direct"] is True
        assert kwargs["preset"] is RoomPreset.trusted_private_chat
        assert kwargs["initial_state"] == [ENCRYPTION_STATE]
        (user,) = kwargs["invite"]
        self.created.append(user)
        if user in self.hold:
            await self.hold[user].wait()
        room_id = f"!r{len(self.created)}:{SERVER}"
        self.membership[room_id] = "join"
        self.person[room_id] = "invite"
        self.state[room_id] = [_member(user, "invite", BOT, is_direct=True)]
        return RoomCreateResponse(room_id)

    def sync(self, room_id: str, user_id: str) -> None:
        """The room arrives in the bot's sync, the person invited."""
        self.rooms[room_id] = _room(room_id, user_id)

    async def room_get_state_event(
        self, room_id: str, event_type: str, state_key: str
    ) -> RoomGetStateEventResponse | RoomGetStateEventError:
        assert event_type == "m.room.member"
        await asyncio.sleep(0)
        if self.offline:
            raise aiohttp.ClientConnectionError("homeserver away")
        if room_id not in self.membership:
            return RoomGetStateEventError("not in room", "M_FORBIDDEN")
        known = self.membership if state_key == BOT else self.person
        if room_id not in known:
            return RoomGetStateEventError("no member event", "M_NOT_FOUND")
        return RoomGetStateEventResponse(
            {"membership": known[room_id]}, event_type, state_key, room_id
        )

    async def room_get_state(self, room_id: str) -> RoomGetStateResponse:
        return RoomGetStateResponse(self.state.get(room_id, []), room_id)

    async def room_leave(self, room_id: str) -> RoomLeaveResponse:
        self.left.append(room_id)
        self.membership[room_id] = "leave"
        return RoomLeaveResponse()


class FakeAccountData(AccountData):
    def __init__(self, content: dict[str, Any] | None = None) -> None:
        self.content: dict[str, Any] = content or {}
        self.writes = 0
        self.failing = False

    async def get(self, event_type: str) -> dict[str, Any]:
        assert event_type == DIRECT
        await asyncio.sleep(0)
        if self.failing:
            raise MatrixHttpError(502, {})
        return copy.deepcopy(self.content)

    async def put(self, event_type: str, content: dict[str, Any]) -> None:
        await asyncio.sleep(0.005)  # a round trip: other calls arrive meanwhile
        if self.failing:
            raise MatrixHttpError(502, {})
        self.content = copy.deepcopy(content)
        self.writes += 1


class World:
    def __init__(self, db: Database, direct: dict[str, Any] | None = None) -> None:
        self.client = FakeClient()
        self.account = FakeAccountData(direct)
        self.db = db
        self.rooms = self.fresh()

    def fresh(self) -> DirectRooms:
        """DirectRooms as after a restart: the same store, nothing in memory."""
        return DirectRooms(
            self.client,  # type: ignore[arg-type]
            self.db,
            "alerts",
            lambda: 1_700_000_000.0,
            account_data=self.account,
        )

    async def stored(self, user_id: str) -> str | None:
        return await DirectRoomStore(self.db).get_direct_room("alerts", user_id)


@pytest.fixture
def world(db: Database) -> World:
    return World(db, {OTHER: ["!someone-elses:x"]})


async def test_new_room_ready_after_it_is_seen_in_sync(world: World) -> None:
    assert await world.rooms.direct_room(TANAKA) is None  # created, not seen in sync yet
    assert world.client.created == [TANAKA]
    room_id = await world.stored(TANAKA)
    assert room_id is not None
    assert world.account.content == {OTHER: ["!someone-elses:x"], TANAKA: [room_id]}
    assert await world.rooms.direct_room(TANAKA) is None  # still not: no second room
    world.client.sync(room_id, TANAKA)
    assert await world.rooms.direct_room(TANAKA) == room_id
    assert await world.fresh().direct_room(TANAKA) == room_id  # after a restart too
    assert world.client.created == [TANAKA]
    assert world.account.writes == 1


async def test_room_seen_in_sync_before_its_invite_is_not_ready_yet(world: World) -> None:
    await world.rooms.direct_room(TANAKA)
    room_id = await world.stored(TANAKA)
    assert room_id is not None
    world.client.rooms[room_id] = _room(room_id)  # the bot's join came first
    assert await world.rooms.direct_room(TANAKA) is None
    world.client.sync(room_id, TANAKA)
    assert await world.rooms.direct_room(TANAKA) == room_id
    assert world.client.created == [TANAKA]
    assert world.client.left == []


async def test_concurrent_calls_for_one_person_create_one_room(world: World) -> None:
    world.client.hold[TANAKA] = asyncio.Event()
    calls = [asyncio.create_task(world.rooms.direct_room(TANAKA)) for _ in range(5)]
    await asyncio.sleep(0.01)
    world.client.hold[TANAKA].set()
    assert await asyncio.gather(*calls) == [None] * 5
    assert world.client.created == [TANAKA]


async def test_a_slow_creation_does_not_hold_up_other_people(world: World) -> None:
    world.client.hold[TANAKA] = asyncio.Event()
    slow = asyncio.create_task(world.rooms.direct_room(TANAKA))
    await asyncio.sleep(0.01)
    assert world.client.created == [TANAKA]  # and waiting for the homeserver
    await world.rooms.direct_room(SUZUKI)
    assert world.client.created == [TANAKA, SUZUKI]
    assert not slow.done()
    world.client.hold[TANAKA].set()
    await slow
    assert set(world.account.content) == {OTHER, TANAKA, SUZUKI}


async def test_many_people_at_once_share_few_m_direct_writes(world: World) -> None:
    people = [f"@staff{i}:{SERVER}" for i in range(20)]
    await asyncio.gather(*(world.rooms.direct_room(p) for p in people))
    assert len(world.client.created) == 20
    listed = direct_map(world.account.content)
    for person in people:
        assert listed[person] == [await world.stored(person)]
    assert listed[OTHER] == ["!someone-elses:x"]
    assert world.account.writes < 20


async def test_person_left_gets_a_new_room_and_the_bot_leaves_the_old(world: World) -> None:
    await world.rooms.direct_room(TANAKA)
    old = await world.stored(TANAKA)
    assert old is not None
    world.client.sync(old, TANAKA)
    world.client.rooms[old].remove_member(TANAKA)  # the leave arrived in sync
    world.client.person[old] = "leave"
    assert await world.rooms.direct_room(TANAKA) is None
    new = await world.stored(TANAKA)
    assert new is not None and new != old
    assert world.client.left == [old]
    assert world.account.content[TANAKA] == [old, new]
    world.client.sync(new, TANAKA)
    assert await world.rooms.direct_room(TANAKA) == new


async def test_bot_removed_from_the_room_gets_a_new_one(world: World) -> None:
    await world.rooms.direct_room(TANAKA)
    old = await world.stored(TANAKA)
    assert old is not None
    world.client.sync(old, TANAKA)
    world.client.membership[old] = "leave"  # kicked: nio never shows it
    await world.rooms.direct_room(TANAKA)
    assert world.client.created == [TANAKA, TANAKA]
    assert world.client.left == []


async def test_silent_homeserver_creates_nothing(world: World) -> None:
    await world.rooms.direct_room(TANAKA)
    await world.rooms.direct_room(SUZUKI)
    tanaka = await world.stored(TANAKA)
    assert tanaka is not None
    world.client.sync(tanaka, TANAKA)
    world.client.offline = True
    # seen in sync: the send is queued in the ledger and retried, so answer the room
    assert await world.rooms.direct_room(TANAKA) == tanaka
    assert await world.rooms.direct_room(SUZUKI) is None
    assert world.client.created == [TANAKA, SUZUKI]


async def test_nothing_is_created_before_the_first_sync(world: World) -> None:
    world.client.next_batch = ""
    assert await world.rooms.direct_room(TANAKA) is None
    assert world.client.created == []


async def test_unreadable_m_direct_creates_nothing_until_it_is_readable(world: World) -> None:
    world.account.failing = True
    assert await world.rooms.direct_room(TANAKA) is None
    assert world.client.created == []
    world.account.failing = False
    await world.rooms.direct_room(TANAKA)
    assert world.client.created == [TANAKA]


async def test_failed_m_direct_write_is_tried_again(world: World) -> None:
    await world.rooms.direct_room(SUZUKI)  # m.direct read and cached
    world.account.failing = True
    await world.rooms.direct_room(TANAKA)
    room_id = await world.stored(TANAKA)
    assert room_id is not None
    assert TANAKA not in world.account.content
    world.account.failing = False
    world.client.sync(room_id, TANAKA)
    assert await world.rooms.direct_room(TANAKA) == room_id
    assert world.account.content[TANAKA] == [room_id]


async def test_room_listed_in_m_direct_but_not_stored_is_adopted(world: World) -> None:
    world.account.content[TANAKA] = ["!crashed:x"]  # the run died before storing it
    world.client.membership["!crashed:x"] = "join"
    world.client.sync("!crashed:x", TANAKA)
    assert await world.rooms.direct_room(TANAKA) == "!crashed:x"
    assert await world.stored(TANAKA) == "!crashed:x"
    assert world.client.created == []


async def test_direct_invite_not_in_m_direct_is_adopted(world: World) -> None:
    # the run died before even listing it: the bot's is_direct invite tells
    world.client.membership["!crashed:x"] = "join"
    world.client.state["!crashed:x"] = [_member(TANAKA, "invite", BOT, is_direct=True)]
    world.client.sync("!crashed:x", TANAKA)
    # rooms that only look alike are left alone
    world.client.membership["!group:x"] = "join"
    world.client.state["!group:x"] = [_member(TANAKA, "invite", BOT, is_direct=True)]
    world.client.rooms["!group:x"] = _room("!group:x", TANAKA, SUZUKI)
    world.client.membership["!plain:x"] = "join"
    world.client.state["!plain:x"] = [_member(TANAKA, "invite", BOT)]
    world.client.sync("!plain:x", TANAKA)
    assert await world.rooms.direct_room(TANAKA) == "!crashed:x"
    assert world.client.created == []
    assert world.account.content[TANAKA] == ["!crashed:x"]


async def test_listed_room_the_bot_was_removed_from_is_not_adopted(world: World) -> None:
    world.account.content[TANAKA] = ["!kicked:x"]
    world.client.membership["!kicked:x"] = "leave"
    world.client.sync("!kicked:x", TANAKA)  # nio still shows it
    assert await world.rooms.direct_room(TANAKA) is None
    assert world.client.created == [TANAKA]
