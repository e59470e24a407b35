"""A small JSON client for the client-server API calls matrix-nio does not make for us."""

from __future__ import annotations

from typing import Any

import aiohttp


class MatrixHttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.errcode = str(body.get("errcode", ""))
        super().__init__(f"HTTP {status} {self.errcode}: {body.get('error', '')}")


class MatrixHttp:
    def __init__(self, homeserver: str, access_token: str, session: aiohttp.ClientSession) -> None:
        self._base = homeserver.rstrip("/")
        self._token = access_token
        self._session = session

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._session.request(
            method, self._base + path, json=body, params=params, headers=headers
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {}
            if not isinstance(data, dict):
                data = {}
            if resp.status != 200:
                raise MatrixHttpError(resp.status, data)
            return data
