"""The client-server API as the application service uses it: its as_token, acting as any
user of its namespace through `user_id=` (masquerading)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from bots.matrix.http import MatrixHttp, MatrixHttpError

log = logging.getLogger(__name__)


class AppserviceApi:
    def __init__(self, homeserver: str, as_token: str, session: aiohttp.ClientSession) -> None:
        self._http = MatrixHttp(homeserver, as_token, session)

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """A client-server call with the as_token, as `user_id` when given."""
        params = {"user_id": user_id} if user_id else None
        return await self._http.request(method, path, body, params)

    async def register(self, localpart: str) -> None:
        """Register a namespace user; an existing one is fine."""
        try:
            await self.request(
                "POST",
                "/_matrix/client/v3/register",
                {
                    "type": "m.login.application_service",
                    "username": localpart,
                    "inhibit_login": True,
                },
            )
        except MatrixHttpError as exc:
            if exc.errcode != "M_USER_IN_USE":
                raise

    async def set_profile(
        self, user_id: str, display_name: str | None, avatar_url: str | None
    ) -> None:
        base = f"/_matrix/client/v3/profile/{quote(user_id)}"
        if display_name is not None:
            await self.request(
                "PUT", f"{base}/displayname", {"displayname": display_name}, user_id=user_id
            )
        if avatar_url is not None:
            await self.request(
                "PUT", f"{base}/avatar_url", {"avatar_url": avatar_url}, user_id=user_id
            )

    async def join(self, room: str, user_id: str) -> str:
        data = await self.request(
            "POST", f"/_matrix/client/v3/join/{quote(room)}", {}, user_id=user_id
        )
        return str(data["room_id"])

    async def resolve_alias(self, alias: str) -> str | None:
        try:
            data = await self.request("GET", f"/_matrix/client/v3/directory/room/{quote(alias)}")
        except MatrixHttpError as exc:
            if exc.status == 404:
                return None
            raise
        return str(data["room_id"])

    async def is_encrypted(self, room_id: str, user_id: str) -> bool:
        try:
            await self.request(
                "GET",
                f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.encryption/",
                user_id=user_id,
            )
        except MatrixHttpError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def send(
        self, room_id: str, event_type: str, txn_id: str, content: dict[str, Any], user_id: str
    ) -> str:
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/{quote(event_type)}/{quote(txn_id)}"
        data = await self.request("PUT", path, content, user_id=user_id)
        return str(data["event_id"])

    async def ping(self, appservice_id: str) -> None:
        """Ask the homeserver to ping us: Synapse then resumes sending transactions at once."""
        await self.request("POST", f"/_matrix/client/v1/appservice/{quote(appservice_id)}/ping", {})
