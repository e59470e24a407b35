"""One encrypted direct room per bot and person, made the way Element makes a DM.

The room is created with `is_direct` (the invite carries the flag), the
`trusted_private_chat` preset (invite only, history "shared", the person as powerful as
the bot: in room version 12 Synapse makes them an additional creator) and encryption from
its first event, and it is listed in the bot's `m.direct` account data, other entries
kept. It is stored per (bot, person) and reused while the bot is joined and the person
joined or invited; once the person has left (or was kicked, or banned) or the bot is no
longer in it, a new one is made and the bot leaves the old one if it still can.

Nothing is done twice. Calls for one person wait for each other (a lock per person), so
at most one room is created, while calls for different people run side by side. Before
creating, a room made by a run that died before storing it is looked for among the rooms
the bot is in (after a sync): one that `m.direct` lists for the person, or one the bot
invited the person into with `is_direct`, with exactly the two of them; it is adopted.

nio can encrypt only into a room it has seen in sync (state, members): until then the
room is not ready and `direct_room` answers None; the caller asks again after the next
sync. nio never processes the `leave` section of a sync, so it cannot tell that the bot
was removed from a room: each call asks the homeserver for the bot's membership (one
small GET), and for the person's when sync does not show them (a left person, or a room
that sync showed before its invite).

nio shares a room key with every member in `MatrixRoom.users`, and that dict holds
invited members too (`invited_users` is the subset); it queries their device keys as
well, so a person who accepts the invite later reads what was sent while they were only
invited (history visibility "shared"). The integration test proves it on Synapse.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from nio import (
    AsyncClient,
    MatrixRoom,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomLeaveResponse,
    RoomPreset,
)

from bots.matrix.http import MatrixHttp, MatrixHttpError
from bots.store.database import Database

log = logging.getLogger(__name__)

Clock = Callable[[], float]
DIRECT = "m.direct"
ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
#: what a call to the homeserver may raise instead of answering
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class Standing(enum.Enum):
    """Where a direct room stands for sending to its person."""

    READY = "ready"  # seen in sync, the bot joined, the person joined or invited
    PENDING = "pending"  # the bot and the person are in, but sync has not shown it yet
    UNKNOWN = "unknown"  # the homeserver did not answer: ask again later
    PERSON_LEFT = "person left"  # left, kicked or banned: a new room (the bot leaves)
    BOT_OUT = "bot out"  # the bot left or was removed, or the room is gone: a new room


GONE = (Standing.PERSON_LEFT, Standing.BOT_OUT)


# --- pure rules --------------------------------------------------------------------------


def direct_map(content: Mapping[str, Any]) -> dict[str, list[str]]:
    """The `m.direct` content as person -> room ids, ignoring malformed entries."""
    found: dict[str, list[str]] = {}
    for user_id, rooms in content.items():
        if isinstance(rooms, list):
            found[user_id] = [r for r in rooms if isinstance(r, str)]
    return found


def merge_direct(
    content: Mapping[str, Any], additions: Mapping[str, Iterable[str]]
) -> dict[str, Any] | None:
    """`m.direct` content with the rooms added to their people's lists, every other
    entry kept as it was; None when all of them are listed already."""
    merged = dict(content)
    changed = False
    for user_id, room_ids in additions.items():
        current = merged.get(user_id)
        rooms = list(current) if isinstance(current, list) else []
        for room_id in room_ids:
            if room_id not in rooms:
                rooms.append(room_id)
                changed = True
        merged[user_id] = rooms
    return merged if changed else None


def is_two_of_us(room: MatrixRoom, bot: str, user_id: str) -> bool:
    """An encrypted room with exactly the bot and the person (joined or invited)."""
    return bool(room.encrypted) and set(room.users) == {bot, user_id}


def invited_as_direct(state: Iterable[Mapping[str, Any]], bot: str, user_id: str) -> bool:
    """True if the person's current member event is the bot's `is_direct` invite."""
    for event in state:
        if event.get("type") == "m.room.member" and event.get("state_key") == user_id:
            content = event.get("content") or {}
            return (
                content.get("membership") == "invite"
                and content.get("is_direct") is True
                and event.get("sender") == bot
            )
    return False


# --- the store ---------------------------------------------------------------------------


class DirectRoomStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_direct_room(self, bot: str, user_id: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT room_id FROM direct_rooms WHERE bot = ? AND user_id = ?", (bot, user_id)
        )
        return str(row[0]) if row else None

    async def set_direct_room(self, bot: str, user_id: str, room_id: str, at_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO direct_rooms (bot, user_id, room_id, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (bot, user_id) DO UPDATE SET"
            " room_id = excluded.room_id, created_at = excluded.created_at",
            (bot, user_id, room_id, at_ms),
        )


# --- account data ------------------------------------------------------------------------


class AccountData:
    """The account's global account data (nio reads none of it for us)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def _api(self) -> MatrixHttp:
        session = self._client.client_session
        if session is None:
            raise MatrixHttpError(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "not logged in"})
        return MatrixHttp(self._client.homeserver, self._client.access_token, session)

    def _path(self, event_type: str) -> str:
        user = quote(str(self._client.user_id), safe="")
        return f"/_matrix/client/v3/user/{user}/account_data/{quote(event_type, safe='')}"

    async def get(self, event_type: str) -> dict[str, Any]:
        """The content; {} if never set. Raises MatrixHttpError or a transport error."""
        try:
            return await self._api().request("GET", self._path(event_type))
        except MatrixHttpError as exc:
            if exc.errcode == "M_NOT_FOUND":
                return {}
            raise

    async def put(self, event_type: str, content: dict[str, Any]) -> None:
        await self._api().request("PUT", self._path(event_type), content)


# --- the rooms ---------------------------------------------------------------------------


class DirectRooms:
    def __init__(
        self,
        client: AsyncClient,
        db: Database,
        bot: str,
        clock: Clock,
        account_data: AccountData | None = None,
    ) -> None:
        self._client = client
        self._account_data = AccountData(client) if account_data is None else account_data
        self._store = DirectRoomStore(db)
        self._bot = bot
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        #: the bot's m.direct as last read or written (None: not read yet)
        self._direct: dict[str, list[str]] | None = None
        #: rooms to add to m.direct at the next write (one write serves many callers)
        self._unlisted: dict[str, list[str]] = {}
        self._direct_lock = asyncio.Lock()

    @property
    def _me(self) -> str:
        return str(self._client.user_id)

    async def direct_room(self, user_id: str) -> str | None:
        """The encrypted direct room with this person, created if missing; None while a
        new room is not ready to send in yet (ask again after the next sync)."""
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            stored = await self._store.get_direct_room(self._bot, user_id)
            if stored is not None:
                standing = await self._standing(stored, user_id)
                if standing is Standing.READY:
                    await self._list_in_direct(user_id, stored)
                    return stored
                if standing not in GONE:
                    return None
                log.info("bot %s: %s with %s: %s", self._bot, stored, user_id, standing.value)
                if standing is Standing.PERSON_LEFT:
                    await self._leave(stored)  # so that dead rooms do not pile up
            if not self._client.next_batch:
                return None  # the bot's rooms are known only after its first sync
            direct = await self._direct_map()
            if direct is None:
                return None  # cannot look for a room made before: do not risk a second
            room_id = await self._adoptable(user_id, direct, exclude=stored)
            if room_id is not None:
                log.info(
                    "bot %s: adopted %s as the direct room with %s", self._bot, room_id, user_id
                )
            else:
                room_id = await self._create(user_id)
                if room_id is None:
                    return None
            # m.direct first: it finds the room again if the process dies right here
            await self._list_in_direct(user_id, room_id)
            await self._store.set_direct_room(
                self._bot, user_id, room_id, int(self._clock() * 1000)
            )
            return room_id if self._seen(room_id, user_id) else None

    # --- standing ----------------------------------------------------------------------

    def _seen(self, room_id: str, user_id: str) -> bool:
        room = self._client.rooms.get(room_id)
        return room is not None and user_id in room.users

    async def _standing(self, room_id: str, user_id: str) -> Standing:
        room = self._client.rooms.get(room_id)
        seen = room is not None and user_id in room.users
        # nio never learns that the bot itself left or was removed: ask the homeserver
        own = await self._membership(room_id, self._me)
        if own is None:  # no answer: a send would wait in the ledger and be retried
            return Standing.READY if seen else Standing.UNKNOWN
        if own != "join":
            return Standing.BOT_OUT
        if seen:
            return Standing.READY
        if room is not None:
            # nio drops people who leave, but a new room also shows up in sync before
            # the invite does: the homeserver tells which
            theirs = await self._membership(room_id, user_id)
            if theirs is None:
                return Standing.UNKNOWN
            if theirs not in ("invite", "join"):
                return Standing.PERSON_LEFT
        return Standing.PENDING

    async def _membership(self, room_id: str, user_id: str) -> str | None:
        """A membership as the homeserver has it now ("leave" if the bot may not see it);
        None if it did not say."""
        try:
            response = await self._client.room_get_state_event(room_id, "m.room.member", user_id)
        except TRANSPORT_ERRORS as exc:
            log.warning(
                "bot %s: cannot read %s's membership of %s: %r", self._bot, user_id, room_id, exc
            )
            return None
        if isinstance(response, RoomGetStateEventResponse):
            return str(response.content.get("membership", ""))
        if response.status_code in ("M_FORBIDDEN", "M_NOT_FOUND"):
            return "leave"  # not a member (any more), or the room is gone
        log.warning(
            "bot %s: cannot read %s's membership of %s: %s", self._bot, user_id, room_id, response
        )
        return None

    async def _leave(self, room_id: str) -> None:
        try:
            response = await self._client.room_leave(room_id)
        except TRANSPORT_ERRORS as exc:
            log.warning("bot %s: cannot leave %s: %r", self._bot, room_id, exc)
            return
        if not isinstance(response, RoomLeaveResponse):
            log.warning("bot %s: cannot leave %s: %s", self._bot, room_id, response)

    # --- finding and creating ----------------------------------------------------------

    async def _adoptable(
        self, user_id: str, direct: Mapping[str, list[str]], exclude: str | None
    ) -> str | None:
        """A direct room with the person made before but not stored (a crash)."""
        rooms: dict[str, MatrixRoom] = self._client.rooms
        listed = [r for r in direct.get(user_id, []) if r != exclude and r in rooms]
        others = [str(r) for r in rooms if r != exclude and r not in listed]
        for room_id in listed:
            if is_two_of_us(rooms[room_id], self._me, user_id) and (
                await self._standing(room_id, user_id) is Standing.READY
            ):
                return room_id
        for room_id in others:
            if (
                is_two_of_us(rooms[room_id], self._me, user_id)
                and await self._invited_as_direct(room_id, user_id)
                and await self._standing(room_id, user_id) is Standing.READY
            ):
                return room_id
        return None

    async def _invited_as_direct(self, room_id: str, user_id: str) -> bool:
        try:
            response = await self._client.room_get_state(room_id)
        except TRANSPORT_ERRORS as exc:
            log.warning("bot %s: cannot read the state of %s: %r", self._bot, room_id, exc)
            return False
        if not isinstance(response, RoomGetStateResponse):
            log.warning("bot %s: cannot read the state of %s: %s", self._bot, room_id, response)
            return False
        return invited_as_direct(response.events, self._me, user_id)

    async def _create(self, user_id: str) -> str | None:
        try:
            response = await self._client.room_create(
                is_direct=True,
                invite=[user_id],
                preset=RoomPreset.trusted_private_chat,
                initial_state=[ENCRYPTION_STATE],
            )
        except TRANSPORT_ERRORS as exc:
            log.warning("bot %s: cannot create a direct room with %s: %r", self._bot, user_id, exc)
            return None
        if not isinstance(response, RoomCreateResponse):
            log.warning(
                "bot %s: cannot create a direct room with %s: %s", self._bot, user_id, response
            )
            return None
        log.info("bot %s: created %s, direct room with %s", self._bot, response.room_id, user_id)
        return str(response.room_id)

    # --- m.direct ----------------------------------------------------------------------

    async def _direct_map(self) -> dict[str, list[str]] | None:
        """The bot's m.direct (read once, then kept current by its own writes)."""
        if self._direct is None:
            async with self._direct_lock:
                if self._direct is None:
                    content = await self._read_direct()
                    if content is not None:
                        self._direct = direct_map(content)
        return self._direct

    async def _read_direct(self) -> dict[str, Any] | None:
        try:
            return await self._account_data.get(DIRECT)
        except (MatrixHttpError, *TRANSPORT_ERRORS) as exc:
            log.warning("bot %s: cannot read m.direct: %r", self._bot, exc)
            return None

    async def _list_in_direct(self, user_id: str, room_id: str) -> None:
        """Add the room to the bot's m.direct (read, merge, write: others' entries kept).

        Writes are one at a time, and one write takes every room waiting, so many new
        rooms at once cost few writes; a failed write is tried again by the next call."""
        if self._direct is not None and room_id in self._direct.get(user_id, []):
            return
        waiting = self._unlisted.setdefault(user_id, [])
        if room_id not in waiting:
            waiting.append(room_id)
        async with self._direct_lock:
            if room_id not in self._unlisted.get(user_id, []):
                return  # written meanwhile by another call
            additions, self._unlisted = self._unlisted, {}
            if not await self._write_direct(additions):
                for user, rooms in additions.items():
                    again = self._unlisted.setdefault(user, [])
                    again.extend(r for r in rooms if r not in again)

    async def _write_direct(self, additions: Mapping[str, list[str]]) -> bool:
        content = await self._read_direct()
        if content is None:
            return False
        merged = merge_direct(content, additions)
        if merged is not None:
            try:
                await self._account_data.put(DIRECT, merged)
            except (MatrixHttpError, *TRANSPORT_ERRORS) as exc:
                log.warning("bot %s: cannot write m.direct: %r", self._bot, exc)
                return False
            content = merged
        self._direct = direct_map(content)
        return True
