"""Helpers for integration tests: yakuba configs for the test Synapse, staff clients."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinedMembersResponse,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    SyncResponse,
)

from bots.app import App
from bots.audit import AuditLog, Entry
from bots.config import Config, load_config
from bots.demo.synapse import SynapseProcess
from bots.store.database import Database


def write_config(
    tmp: Path, synapse: SynapseProcess, bots: dict[str, dict[str, Any]], **extra: Any
) -> Path:
    """A yakuba config for the test homeserver; bot passwords and pickle keys in files."""
    (tmp / "secrets").mkdir(parents=True, exist_ok=True)
    bots_cfg: dict[str, Any] = {}
    for name, spec in bots.items():
        for kind in ("password", "pickle"):
            path = tmp / "secrets" / f"{name}.{kind}"
            if not path.exists():
                value = spec.get(kind) or secrets.token_urlsafe(24)
                path.write_text(value)
        bots_cfg[name] = {
            "user_id": f"@{spec['localpart']}:{synapse.cfg.server_name}",
            "password": {"file": f"secrets/{name}.password"},
            "pickle_key": {"file": f"secrets/{name}.pickle"},
            "features": spec.get("features", []),
            **({"display_name": spec["display_name"]} if "display_name" in spec else {}),
        }
    data = {
        "homeserver": {"url": synapse.url, "server_name": synapse.cfg.server_name},
        "data_dir": "data",
        "bots": bots_cfg,
        **extra,
    }
    path = tmp / "yakuba.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


async def register_bots(synapse: SynapseProcess, config_path: Path, admin_token: str) -> Config:
    config = load_config(config_path)
    for bot in config.bots.values():
        localpart = bot.user_id[1:].split(":", 1)[0]
        await synapse.register(localpart, bot.password.get())
        await synapse.exempt_from_ratelimit(admin_token, bot.user_id)
    return config


async def eventually(predicate: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Poll until `predicate()` holds (for effects outside Matrix, e.g. a webhook)."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def audited(
    db: Database,
    actor: str,
    action: str,
    count: int = 1,
    detail: str | None = None,
    timeout_s: float = 10,
) -> list[Entry]:
    """The audit log's entries of `actor` doing exactly `action` (with this `detail`, the
    command's text, if given), once there are `count` of them (the dispatcher writes one
    just after its reply); the log's chain checked intact."""
    log = AuditLog(db, time.time)
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                entries = await log.entries(actor=actor, action=action)
                found = [
                    e  # exactly: entries(action="anpi") also gives "anpi start"…
                    for e in entries
                    if e.action == action and detail in (None, e.detail)
                ]
                if len(found) >= count:
                    break
                await asyncio.sleep(0.05)
    except TimeoutError:
        everything = [(e.actor, e.action, e.result) for e in await log.entries()]
        raise AssertionError(
            f"not {count} × {actor} {action!r} {detail or ''} in the audit log: {everything}"
        ) from None
    assert await log.verify() is None
    return found


def unique(prefix: str) -> str:
    """A fresh localpart: the tests share one homeserver."""
    return f"{prefix}{secrets.token_hex(3)}"


async def prepare(
    synapse: SynapseProcess,
    admin_token: str,
    tmp: Path,
    bots: dict[str, dict[str, Any]],
    **extra: Any,
) -> RunningApp:
    """Config file, bot accounts and a (not yet started) yakuba for these bots."""
    path = write_config(tmp, synapse, bots, **extra)
    return RunningApp(await register_bots(synapse, path, admin_token))


class RunningApp:
    """yakuba's App in a background task, restartable like a process."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app: App | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> App:
        self.app = await App.create(self.config)
        self._task = asyncio.create_task(self.app.run())
        for bot in self.app.bots.values():
            await _first_sync(bot, self._task)
        return self.app

    async def stop(self) -> None:
        if self.app is not None and self._task is not None:
            self.app.stop()
            await asyncio.wait_for(self._task, 60)
        self.app, self._task = None, None


async def _first_sync(bot: Any, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(120):
        while bot.sync_count == 0:
            if task.done():
                task.result()  # raises the start-up error
            await asyncio.sleep(0.05)


class Staff:
    """A staff member's client: a real nio client with its own E2EE store."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.received: list[Any] = []
        self.room_of: dict[str, str] = {}  # event id -> room id

    @classmethod
    async def create(
        cls, synapse: SynapseProcess, localpart: str, password: str, store: Path
    ) -> Staff:
        await synapse.register(localpart, password)
        store.mkdir(parents=True, exist_ok=True)
        client = AsyncClient(
            synapse.url,
            f"@{localpart}:{synapse.cfg.server_name}",
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        response = await client.login(password, device_name="test staff")
        assert isinstance(response, LoginResponse), response
        staff = cls(client)
        await staff.sync()
        return staff

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def sync(self, wait_ms: int = 1000) -> None:
        first = not self.client.next_batch
        response = await self.client.sync(timeout=wait_ms, full_state=first)
        assert isinstance(response, SyncResponse), response
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                self.received.append(event)
                if getattr(event, "event_id", None):
                    self.room_of[event.event_id] = room_id
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        await self.client.send_to_device_messages()

    async def create_room(
        self, invite: list[str], encrypted: bool = True, power: dict[str, int] | None = None
    ) -> str:
        initial_state = (
            [
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            ]
            if encrypted
            else []
        )
        response = await self.client.room_create(
            invite=invite,
            initial_state=initial_state,
            power_level_override={"users": power} if power else None,
        )
        assert isinstance(response, RoomCreateResponse), response
        return str(response.room_id)

    async def wait_joined(self, room_id: str, user_id: str) -> None:
        async with asyncio.timeout(60):
            while True:
                members = await self.client.joined_members(room_id)
                if isinstance(members, JoinedMembersResponse) and any(
                    m.user_id == user_id for m in members.members
                ):
                    await self.sync()
                    return
                await asyncio.sleep(0.1)

    async def send(self, room_id: str, body: str, **extra: Any) -> str:
        return await self.send_content(
            room_id, {"msgtype": "m.text", "body": body, "m.mentions": {}, **extra}
        )

    async def send_content(
        self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message"
    ) -> str:
        await self.sync(wait_ms=0)  # current members and keys, without waiting
        response = await self.client.room_send(
            room_id, event_type, content, ignore_unverified_devices=True
        )
        assert hasattr(response, "event_id"), response
        return str(response.event_id)

    def events_from(self, sender: str, room_id: str | None = None) -> list[Any]:
        return [
            e
            for e in self.received
            if getattr(e, "sender", None) == sender
            and (room_id is None or self.room_of.get(getattr(e, "event_id", "")) == room_id)
        ]

    def replies_to(self, event_id: str, sender: str | None = None) -> list[Any]:
        found = []
        for event in self.received:
            if not isinstance(event, (RoomMessageNotice, RoomMessageText, MegolmEvent)):
                continue
            relates = (event.source.get("content") or {}).get("m.relates_to") or {}
            if isinstance(event, MegolmEvent):
                continue
            if (relates.get("m.in_reply_to") or {}).get("event_id") == event_id and (
                sender is None or event.sender == sender
            ):
                found.append(event)
        return found

    async def wait_for(
        self, predicate: Callable[[], bool], what: str, timeout_s: float = 60
    ) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while not predicate():
                    await self.sync()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def close(self) -> None:
        await self.client.close()
