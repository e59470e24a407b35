"""Helpers of the roll-call integration test: staff clients that accept the bot's direct
rooms, answer as Element does and read what the bot sent them; the officer's view of the
tally; the signed alert hook."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any
from urllib.parse import quote

import aiohttp
from nio import (
    DownloadResponse,
    InviteMemberEvent,
    MegolmEvent,
    MessageDirection,
    RoomEncryptedFile,
    RoomMessagesResponse,
    SyncResponse,
    UnknownEvent,
)
from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError

from appservice.signing import signed_headers
from bots.rollcall.render import POLL_START
from tests.integration.harness import Staff

POLL_RESPONSE = "org.matrix.msc3381.poll.response"
_NUMBER = re.compile(r"安否確認 No\.(\d+)")
_AGAIN = re.compile(r"再送 (\d+)回目")


def body(event: Any) -> str:
    return str((event.source.get("content") or {}).get("body", ""))


def number_of(text: str) -> int | None:
    """The roll call a message is about (安否確認 No.N)."""
    found = _NUMBER.search(text)
    return int(found.group(1)) if found else None


def question_of(event: Any) -> tuple[int, int] | None:
    """(roll call number, round) of a question event, else None."""
    if not (isinstance(event, UnknownEvent) and event.type == POLL_START):
        return None
    text = body(event)
    number = number_of(text)
    assert number is not None, text
    again = _AGAIN.search(text)
    return number, int(again.group(1)) + 1 if again else 1


class Person(Staff):
    """A staff client that joins the bot's direct-room invitations (noting how it was
    invited), backfills a room's history when its timeline was cut, and decrypts
    messages whose key arrived after them."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.bot = ""
        self.invites: dict[str, InviteMemberEvent] = {}  # room id -> my invitation
        self._seen: set[str] = set()
        self._joined: set[str] = set()

    async def sync(self, wait_ms: int = 1000) -> None:
        first = not self.client.next_batch
        response = await self.client.sync(timeout=wait_ms, full_state=first)
        assert isinstance(response, SyncResponse), response
        for room_id, invited in response.rooms.invite.items():
            for event in invited.invite_state:
                if (
                    isinstance(event, InviteMemberEvent)
                    and event.state_key == self.user_id
                    and event.membership == "invite"
                ):
                    self.invites[room_id] = event
        for room_id, info in response.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch:
                events = await self._history(room_id, info.timeline.prev_batch) + events
            for event in events:
                self._add(room_id, event)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        await self.client.send_to_device_messages()
        self._decrypt_late()
        for room_id in list(self.client.invited_rooms):
            invite = self.invites.get(room_id)
            if invite is not None and invite.sender == self.bot and room_id not in self._joined:
                self._joined.add(room_id)
                await self.client.join(room_id)

    async def _history(self, room_id: str, start: str) -> list[Any]:
        response = await self.client.room_messages(
            room_id, start, direction=MessageDirection.back, limit=100
        )
        assert isinstance(response, RoomMessagesResponse), response
        return list(reversed(response.chunk))

    def _add(self, room_id: str, event: Any) -> None:
        event_id = getattr(event, "event_id", None)
        if not event_id or event_id in self._seen:
            return
        self._seen.add(event_id)
        self.received.append(event)
        self.room_of[event_id] = room_id

    def _decrypt_late(self) -> None:
        for index, event in enumerate(self.received):
            if isinstance(event, MegolmEvent):
                event.room_id = self.room_of[event.event_id]
                try:
                    decrypted = self.client.decrypt_event(event)
                except EncryptionError:
                    continue  # the key has not come yet
                if not isinstance(decrypted, MegolmEvent) and hasattr(decrypted, "source"):
                    self.received[index] = decrypted

    # --- what the bot sent ---------------------------------------------------------------

    @property
    def dm(self) -> str:
        """The one direct room with the bot (joined)."""
        rooms = [r for r in self.invites if r in self.client.rooms]
        assert len(rooms) == 1, (self.user_id, rooms)
        return rooms[0]

    def questions(self, number: int, round_: int = 1) -> list[Any]:
        return [e for e in self.events_from(self.bot) if question_of(e) == (number, round_)]

    def from_bot(self, text: str) -> list[Any]:
        return [e for e in self.events_from(self.bot) if text in body(e)]

    async def asked(self, number: int, round_: int = 1) -> None:
        """Wait for the question of that roll call and round."""
        await self.wait_for(
            lambda: bool(self.questions(number, round_)), f"{self.user_id}'s question"
        )

    async def told(self, text: str) -> Any:
        """Wait for the one message from the bot that says this."""
        await self.wait_for(lambda: bool(self.from_bot(text)), f"{text!r} to {self.user_id}")
        (event,) = self.from_bot(text)
        return event

    async def everything_from_bot(self, room_id: str) -> list[Any]:
        """The room's whole history from the bot as the homeserver has it (not only what
        sync delivered), decrypted by this client."""
        await self.sync(wait_ms=0)
        found: list[Any] = []
        start = self.client.next_batch
        for _ in range(20):
            response = await self.client.room_messages(
                room_id, start, direction=MessageDirection.back, limit=100
            )
            assert isinstance(response, RoomMessagesResponse), response
            found.extend(e for e in response.chunk if getattr(e, "sender", "") == self.bot)
            if not response.chunk or not response.end or response.end == start:
                break
            start = response.end
        undecrypted = [e.event_id for e in found if isinstance(e, MegolmEvent)]
        assert not undecrypted, f"{self.user_id} cannot decrypt {undecrypted}"
        return list(reversed(found))

    # --- answering as Element does -------------------------------------------------------

    async def react(self, room_id: str, event_id: str, key: str, encrypted: bool = True) -> str:
        """A reaction; encrypted as Element sends it in an encrypted room (the relation
        also in the clear), or plain as nio sends it."""
        relates = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        if not encrypted:
            return await self.send_content(room_id, {"m.relates_to": relates}, "m.reaction")
        await self.sync(wait_ms=0)
        client = self.client
        assert client.olm is not None
        if not client.rooms[room_id].members_synced:
            await client.joined_members(room_id)
        if client.should_query_keys:
            await client.keys_query()
        if client.olm.should_share_group_session(room_id):
            await client.share_group_session(room_id, ignore_unverified_devices=True)
        _, content = client.encrypt(room_id, "m.reaction", {"m.relates_to": relates})
        content["m.relates_to"] = relates
        path = (
            f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.encrypted/"
            f"{secrets.token_hex(8)}"
        )
        async with (
            aiohttp.ClientSession() as http,
            http.put(
                client.homeserver + path,
                json=content,
                headers={"Authorization": f"Bearer {client.access_token}"},
            ) as resp,
        ):
            answer = await resp.json()
            assert resp.status == 200, answer
            return str(answer["event_id"])

    async def reply(self, room_id: str, event_id: str, text: str) -> str:
        return await self.send(
            room_id, text, **{"m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}
        )

    async def vote(self, room_id: str, poll_id: str, answer: str) -> str:
        return await self.send_content(
            room_id,
            {
                POLL_RESPONSE: {"answers": [answer]},
                "m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
            },
            POLL_RESPONSE,
        )

    async def receipt(self, event_id: str) -> str:
        """The bot's reply to what this person sent."""
        await self.wait_for(lambda: bool(self.replies_to(event_id, self.bot)), "the bot's reply")
        return body(self.replies_to(event_id, self.bot)[0])


# --- the officer's view ----------------------------------------------------------------


def tally(officer: Staff, bot: str, room_id: str, number: int) -> str:
    """The roll call's tally as it stands in the office room: the latest m.replace edit's
    m.new_content, or the message itself before any edit."""
    sent = [
        e
        for e in officer.events_from(bot, room_id)
        if body(e).startswith(("安否確認 No.", "【訓練】安否確認 No."))
        and number_of(body(e)) == number
        and not e.source["content"].get("m.relates_to")
    ]
    if not sent:
        return ""
    status = sent[0].event_id
    edits = [
        e
        for e in officer.events_from(bot, room_id)
        if (e.source["content"].get("m.relates_to") or {}).get("rel_type") == "m.replace"
        and e.source["content"]["m.relates_to"].get("event_id") == status
    ]
    if not edits:
        return body(sent[0])
    return str(edits[-1].source["content"]["m.new_content"]["body"])


def files(events: list[Any]) -> list[Any]:
    return [
        e
        for e in events
        if isinstance(e, RoomEncryptedFile)
        or (e.source.get("content") or {}).get("msgtype") == "m.file"
    ]


async def download(staff: Staff, event: RoomEncryptedFile) -> bytes:
    response = await staff.client.download(event.url)
    assert isinstance(response, DownloadResponse), response
    return bytes(
        decrypt_attachment(response.body, event.key["k"], event.hashes["sha256"], event.iv)
    )


# --- the alert hook --------------------------------------------------------------------


async def push_alert(as_url: str, hook: str, secret: str, xml: bytes) -> dict[str, Any]:
    """POST the XML to the appservice's alert hook, signed (Standard Webhooks)."""
    headers = signed_headers(secret, f"msg_{secrets.token_hex(6)}", int(time.time()), xml)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{as_url}/hooks/{hook}", data=xml, headers=headers) as resp,
    ):
        answer = await resp.json()
        assert resp.status == 200, answer
        return dict(answer)
