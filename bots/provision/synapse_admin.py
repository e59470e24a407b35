"""The Synapse calls provisioning makes, as a server admin: the admin API (room state
without being a member, accounts, deactivation) and the client-server API (creating
rooms, state, invitations, kicks).

Requests honour `M_LIMIT_EXCEEDED` and its `retry_after_ms`, within a bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bots.matrix.http import MatrixHttp, MatrixHttpError
from bots.matrix.powerlevels import creators
from bots.provision.model import Account, RoomState

log = logging.getLogger(__name__)

#: waits for the rate limiter, at most, per request
MAX_RETRIES = 5
MAX_WAIT_S = 30.0


class NotAdmin(Exception):
    """The token is not a Synapse server admin's."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(f"{user_id} is not a Synapse server admin")


def _q(value: str) -> str:
    return quote(value, safe="")


class SynapseAdmin:
    def __init__(self, http: MatrixHttp) -> None:
        self._http = http
        self.user_id = ""

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        for attempt in range(MAX_RETRIES + 1):
            try:
                return await self._http.request(method, path, body)
            except MatrixHttpError as exc:
                if exc.status != 429 or attempt == MAX_RETRIES:
                    raise
                wait = min(float(exc.body.get("retry_after_ms", 1000)) / 1000, MAX_WAIT_S)
                log.info("rate limited on %s %s: waiting %.1f s", method, path, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", path)
        except MatrixHttpError as exc:
            if exc.status == 404:
                return None
            raise

    # --- who we are ----------------------------------------------------------------------

    async def check_admin(self) -> str:
        """Our user ID; `NotAdmin` when the token is not a server admin's."""
        me = await self.request("GET", "/_matrix/client/v3/account/whoami")
        self.user_id = str(me["user_id"])
        try:
            found = await self.request("GET", f"/_synapse/admin/v1/users/{_q(self.user_id)}/admin")
        except MatrixHttpError as exc:
            if exc.status == 403:
                raise NotAdmin(self.user_id) from None
            raise
        if not found.get("admin"):
            raise NotAdmin(self.user_id)
        return self.user_id

    # --- reading -------------------------------------------------------------------------

    async def resolve(self, alias: str) -> str | None:
        found = await self.get_or_none(f"/_matrix/client/v3/directory/room/{_q(alias)}")
        return str(found["room_id"]) if found else None

    async def room_state(self, room_id: str) -> RoomState | None:
        """The room's state through the admin API (no membership needed)."""
        found = await self.get_or_none(f"/_synapse/admin/v1/rooms/{_q(room_id)}/state")
        if found is None:
            return None
        return room_state_from(room_id, found.get("state") or [])

    async def account(self, user_id: str) -> Account:
        found = await self.get_or_none(f"/_synapse/admin/v2/users/{_q(user_id)}")
        if found is None:
            return Account(exists=False)
        return Account(exists=True, deactivated=bool(found.get("deactivated")))

    async def state_event(self, room_id: str, event_type: str, key: str) -> dict[str, Any] | None:
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(key)}"
        return await self.get_or_none(path)

    # --- changing ------------------------------------------------------------------------

    async def create_room(self, body: dict[str, Any]) -> str:
        created = await self.request("POST", "/_matrix/client/v3/createRoom", body)
        return str(created["room_id"])

    async def put_state(
        self, room_id: str, event_type: str, key: str, content: Mapping[str, Any]
    ) -> None:
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(key)}"
        await self.request("PUT", path, dict(content))

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.request(
            "POST", f"/_matrix/client/v3/rooms/{_q(room_id)}/invite", {"user_id": user_id}
        )

    async def kick(self, room_id: str, user_id: str, reason: str) -> None:
        await self.request(
            "POST",
            f"/_matrix/client/v3/rooms/{_q(room_id)}/kick",
            {"user_id": user_id, "reason": reason},
        )

    async def deactivate(self, user_id: str) -> None:
        # erase: false keeps what they wrote readable (records retention)
        await self.request("POST", f"/_synapse/admin/v1/deactivate/{_q(user_id)}", {"erase": False})


def room_state_from(room_id: str, events: list[dict[str, Any]]) -> RoomState:
    """A `RoomState` from a room's current state events."""
    name: str | None = None
    encrypted = False
    members: dict[str, str] = {}
    power: dict[str, int] = {}
    users_default = 0
    children: set[str] = set()
    create_sender, create_content = "", {}
    for event in events:
        kind = event.get("type")
        content = event.get("content") or {}
        key = event.get("state_key")
        if not isinstance(content, dict) or not isinstance(key, str):
            continue
        if kind == "m.room.name":
            name = content.get("name") if isinstance(content.get("name"), str) else None
        elif kind == "m.room.encryption":
            encrypted = bool(content.get("algorithm"))
        elif kind == "m.room.member":
            members[key] = str(content.get("membership", ""))
        elif kind == "m.room.power_levels":
            users = content.get("users") or {}
            power = {str(u): _int(v) for u, v in users.items()} if isinstance(users, dict) else {}
            users_default = _int(content.get("users_default", 0))
        elif kind == "m.space.child":
            if content.get("via"):
                children.add(key)
        elif kind == "m.room.create":
            create_sender, create_content = str(event.get("sender", "")), content
    return RoomState(
        room_id=room_id,
        name=name or None,
        encrypted=encrypted,
        members=members,
        power=power,
        users_default=users_default,
        creators=creators(create_sender, create_content) if create_sender else frozenset(),
        children=frozenset(children),
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
