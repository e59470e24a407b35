"""The Messenger port performed against Matrix with a bot's nio client and outbox."""

from __future__ import annotations

import logging
from typing import Any

from nio import (
    AsyncClient,
    RoomGetStateEventResponse,
    RoomPutStateResponse,
    RoomRedactResponse,
    UploadResponse,
)

from bots.matrix.content import edit_content, file_content
from bots.matrix.direct import Clock, DirectRooms
from bots.matrix.outbox import Outbox
from bots.store.database import Database
from bots.store.ledger import SendLedger, derive_txn_id

log = logging.getLogger(__name__)

PINNED = "m.room.pinned_events"


class MatrixMessenger:
    def __init__(
        self,
        client: AsyncClient,
        outbox: Outbox,
        ledger: SendLedger,
        db: Database,
        bot: str,
        clock: Clock,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._ledger = ledger
        self.direct_rooms = DirectRooms(client, db, bot, clock)

    @property
    def user_id(self) -> str:
        return str(self._client.user_id)

    async def send(
        self, room_id: str, content: dict[str, Any], key: str, event_type: str = "m.room.message"
    ) -> str | None:
        return await self._outbox.send(room_id, content, key, event_type)

    async def edit(
        self, room_id: str, event_id: str, new_content: dict[str, Any], key: str
    ) -> str | None:
        return await self._outbox.send(room_id, edit_content(event_id, new_content), key)

    async def direct_room(self, user_id: str) -> str | None:
        return await self.direct_rooms.direct_room(user_id)

    async def pin(self, room_id: str, event_id: str) -> bool:
        pinned = await self._pinned(room_id)
        if pinned is None:
            return False
        if event_id in pinned:
            return True
        return await self._put_pinned(room_id, [*pinned, event_id])

    async def unpin(self, room_id: str, event_id: str) -> bool:
        pinned = await self._pinned(room_id)
        if pinned is None:
            return False
        if event_id not in pinned:
            return True
        return await self._put_pinned(room_id, [e for e in pinned if e != event_id])

    async def _pinned(self, room_id: str) -> list[str] | None:
        response = await self._client.room_get_state_event(room_id, PINNED)
        if isinstance(response, RoomGetStateEventResponse):
            pinned = response.content.get("pinned") or []
            return [e for e in pinned if isinstance(e, str)]
        if getattr(response, "status_code", "") == "M_NOT_FOUND":
            return []
        log.warning("cannot read pinned events of %s: %s", room_id, response)
        return None

    async def _put_pinned(self, room_id: str, pinned: list[str]) -> bool:
        response = await self._client.room_put_state(room_id, PINNED, {"pinned": pinned})
        if isinstance(response, RoomPutStateResponse):
            return True
        log.warning("cannot change pinned events of %s: %s", room_id, response)
        return False

    async def upload(
        self, room_id: str, data: bytes, filename: str, mimetype: str, key: str
    ) -> str | None:
        recorded = await self._ledger.get(derive_txn_id(self.user_id, key))
        if recorded is not None:  # uploaded before: send (or re-send) that message
            return await self._outbox.send(room_id, recorded.content, key)
        encrypted = room_id in self._client.encrypted_rooms or bool(
            (room := self._client.rooms.get(room_id)) and room.encrypted
        )
        response, keys = await self._client.upload(
            lambda *_: data,
            content_type=mimetype,
            filename=filename,
            encrypt=encrypted,
            filesize=len(data),
        )
        if not isinstance(response, UploadResponse):
            log.warning("upload of %s to %s failed: %s", filename, room_id, response)
            return None
        content = file_content(filename, mimetype, len(data), response.content_uri, keys)
        return await self._outbox.send(room_id, content, key)

    async def redact(self, room_id: str, event_id: str, reason: str, key: str) -> bool:
        response = await self._client.room_redact(
            room_id, event_id, reason=reason, tx_id=derive_txn_id(self.user_id, key)
        )
        if isinstance(response, RoomRedactResponse):
            return True
        log.warning("cannot redact %s in %s: %s", event_id, room_id, response)
        return False

    def members(self, room_id: str) -> list[str]:
        room = self._client.rooms.get(room_id)
        return sorted(room.users) if room is not None else []

    def is_member(self, room_id: str, user_id: str) -> bool:
        room = self._client.rooms.get(room_id)
        return room is not None and (user_id in room.users or user_id in room.invited_users)

    def member_count(self, room_id: str) -> int:
        room = self._client.rooms.get(room_id)
        return 0 if room is None else len(set(room.users) | set(room.invited_users))

    def room_name(self, room_id: str) -> str:
        room = self._client.rooms.get(room_id)
        return str(room.display_name) if room is not None else room_id

    def display_name(self, room_id: str, user_id: str) -> str:
        room = self._client.rooms.get(room_id)
        if room is None:
            return user_id
        name = room.user_name(user_id)
        return str(name) if name else user_id
