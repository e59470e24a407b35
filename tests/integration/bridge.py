"""A real Synapse with yakuba's appservice registered, and a stand-in internal system."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from appservice.registration import write_registration
from appservice.service import Appservice
from appservice.signing import verify
from bots.app import App
from bots.config import Config, load_config
from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port
from tests.integration.harness import Staff, register_bots, write_config

HOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4"
ENDPOINT_SECRET = "endpoint-secret-for-tests"


@dataclass
class Receiver:
    """A stand-in internal system: records the signed webhooks it receives."""

    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verify([ENDPOINT_SECRET], request.headers, body, time.time())
        self.received.append(json.loads(body))
        return web.json_response({})

    def bodies(self) -> list[str]:
        return [str((r.get("content") or {}).get("body")) for r in self.received]


@dataclass
class Bridge:
    synapse: SynapseProcess
    config: Config
    receiver: Receiver
    admin_token: str
    app: App | None = None
    service: Appservice | None = None
    task: asyncio.Task[None] | None = None
    #: the hooks' rooms, made by `owner` (#bridged unencrypted, #bridged-enc encrypted)
    owner: Staff | None = None
    plain_room: str = ""
    secret_room: str = ""

    @property
    def as_url(self) -> str:
        assert self.config.appservice is not None
        return f"http://127.0.0.1:{self.config.appservice.listen.port}"

    async def start(self) -> None:
        self.app = await App.create(self.config)
        self.service = Appservice(self.config, self.app.db, self.app.bots)
        self.task = asyncio.create_task(self.app.run([self.service]))
        async with asyncio.timeout(60):
            while any(b.sync_count == 0 for b in self.app.bots.values()):
                if self.task.done():
                    self.task.result()
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.app is not None and self.task is not None:
            self.app.stop()
            await asyncio.wait_for(self.task, 60)
        self.app = self.service = self.task = None


@pytest.fixture(scope="session")
async def bridge(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bridge]:
    tmp = tmp_path_factory.mktemp("bridge")
    receiver = Receiver()
    web_app = web.Application()
    web_app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    receiver.port = free_port()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()

    as_port, hs_port = free_port(), free_port()
    fake_hs = type("S", (), {"url": f"http://127.0.0.1:{hs_port}"})()
    fake_hs.cfg = type("C", (), {"server_name": "localhost"})()
    (tmp / "secrets").mkdir()
    (tmp / "secrets" / "hook").write_text(HOOK_SECRET)
    path = write_config(
        tmp,
        fake_hs,
        {"tasks": {"localpart": "bridgebot", "features": ["tasks"]}},
        appservice={
            "id": "yakuba-test",
            "url": f"http://127.0.0.1:{as_port}",
            "listen": {"host": "127.0.0.1", "port": as_port},
        },
        systems=[{"id": "ticketing", "display_name": "窓口受付システム"}],
        hooks=[
            {
                "id": "ticket",
                "system": "ticketing",
                "room": "#bridged:localhost",
                "secrets": [{"file": "secrets/hook"}],
                "template": {
                    "body": "受付 {{ payload.number }}: {{ payload.subject }}",
                    "html": "<b>受付 {{ payload.number }}</b>: {{ payload.subject }}",
                },
            },
            {
                "id": "ticket-enc",
                "system": "ticketing",
                "room": "#bridged-enc:localhost",
                "secrets": [{"file": "secrets/hook"}],
                "template": {"body": "受付 {{ payload.number }}: {{ payload.subject }}"},
            },
        ],
        outbound={
            "endpoints": [
                {
                    "id": "ticketing",
                    "url": f"http://127.0.0.1:{receiver.port}/hook",
                    "secret": ENDPOINT_SECRET,
                    "timeout": "5m",
                }
            ],
            "rules": [{"endpoint": "ticketing", "prefix": "!ticket"}],
        },
    )
    config = load_config(path)
    assert config.appservice is not None
    registration = write_registration(config, config.appservice, tmp / "registration.yaml")
    synapse = SynapseProcess(
        SynapseConfig(
            tmp / "synapse",
            hs_port,
            extra={"app_service_config_files": [str(registration)]},
        )
    )
    await synapse.start()
    admin = await synapse.register("admin", secrets.token_urlsafe(12), admin=True)
    await register_bots(synapse, path, admin["access_token"])
    bridge = Bridge(synapse, config, receiver, admin["access_token"])
    await bridge.start()
    await _make_rooms(bridge, tmp)
    try:
        yield bridge
    finally:
        if bridge.owner is not None:
            await bridge.owner.close()
        await bridge.stop()
        await synapse.stop()
        await runner.cleanup()


VIRTUAL_USER = "@_yakuba_ticketing:localhost"


async def _make_rooms(bridge: Bridge, tmp: Path) -> None:
    """The owner (a staff member) makes the two bridged rooms and gives them aliases."""
    assert bridge.app is not None
    bot_id = bridge.app.bots["tasks"].user_id
    owner = await Staff.create(bridge.synapse, "owner", "pw-owner-123", tmp / "owner")
    bridge.owner = owner
    bridge.plain_room = await owner.create_room(
        invite=[bot_id, VIRTUAL_USER], encrypted=False, power={bot_id: 100}
    )
    bridge.secret_room = await owner.create_room(
        invite=[bot_id], encrypted=True, power={bot_id: 100}
    )
    await _alias(owner, "#bridged:localhost", bridge.plain_room)
    await _alias(owner, "#bridged-enc:localhost", bridge.secret_room)
    await owner.wait_joined(bridge.plain_room, bot_id)
    await owner.wait_joined(bridge.plain_room, VIRTUAL_USER)  # it accepted the invitation
    await owner.wait_joined(bridge.secret_room, bot_id)


async def _alias(staff: Staff, alias: str, room: str) -> None:
    url = f"{staff.client.homeserver}/_matrix/client/v3/directory/room/{quote(alias)}"
    headers = {"Authorization": f"Bearer {staff.client.access_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.put(url, json={"room_id": room}, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()
