"""The application service registered with a real Synapse: outbound and inbound webhooks
in unencrypted and encrypted rooms, exactly once across an appservice restart."""

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
from appservice.signing import signed_headers, verify
from bots.app import App
from bots.config import Config, load_config
from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port
from tests.integration.harness import Staff, eventually, register_bots, unique, write_config

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


@pytest.fixture(scope="module")
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
    try:
        yield bridge
    finally:
        await bridge.stop()
        await synapse.stop()
        await runner.cleanup()


async def _alias(staff: Staff, alias: str, room: str) -> None:
    url = f"{staff.client.homeserver}/_matrix/client/v3/directory/room/{quote(alias)}"
    headers = {"Authorization": f"Bearer {staff.client.access_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.put(url, json={"room_id": room}, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def test_outbound_and_inbound_in_unencrypted_and_encrypted_rooms(
    bridge: Bridge, tmp_path: Path
) -> None:
    assert bridge.app is not None
    bot_id = bridge.app.bots["tasks"].user_id
    vuser = "@_yakuba_ticketing:localhost"
    staff = await Staff.create(bridge.synapse, unique("mado"), "pw-mado-123", tmp_path / "s")
    try:
        plain = await staff.create_room(
            invite=[bot_id, vuser], encrypted=False, power={bot_id: 100}
        )
        secret_room = await staff.create_room(invite=[bot_id], encrypted=True, power={bot_id: 100})
        await _alias(staff, "#bridged:localhost", plain)
        await _alias(staff, "#bridged-enc:localhost", secret_room)
        await staff.wait_joined(plain, bot_id)
        await staff.wait_joined(plain, vuser)  # the virtual user accepted the invitation
        await staff.wait_joined(secret_room, bot_id)

        # outbound: a message in each room reaches the internal system, signed
        await staff.send(plain, "!ticket 窓口の混雑状況")
        await staff.send(plain, "not for the ticket system")
        await staff.send(secret_room, "!ticket 暗号化ルームから")
        await eventually(
            lambda: (
                {"!ticket 窓口の混雑状況", "!ticket 暗号化ルームから"}
                <= set(bridge.receiver.bodies())
            ),
            "both messages at the internal system",
        )
        assert "not for the ticket system" not in bridge.receiver.bodies()
        rooms = {r["room_id"] for r in bridge.receiver.received}
        assert {plain, secret_room} <= rooms

        # inbound: a signed webhook appears in each room
        for hook_id, number in (("ticket", 101), ("ticket-enc", 102)):
            body = json.dumps({"number": number, "subject": "住民票の請求"}).encode()
            headers = signed_headers(HOOK_SECRET, f"msg_{number}", int(time.time()), body)
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"{bridge.as_url}/hooks/{hook_id}",
                    data=body,
                    headers={**headers, "Content-Type": "application/json"},
                ) as resp,
            ):
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["status"] in ("sent", "queued")
        await staff.wait_for(
            lambda: any(
                "受付 101: 住民票の請求" in str(getattr(e, "body", ""))
                for e in staff.events_from(vuser)
            ),
            "the hook message posted by the virtual user",
        )
        await staff.wait_for(
            lambda: any(
                "[窓口受付システム] 受付 102: 住民票の請求" in str(getattr(e, "body", ""))
                and e.decrypted
                for e in staff.events_from(bot_id)
            ),
            "the hook message posted through the bot in the encrypted room",
        )
    finally:
        await staff.close()


async def test_appservice_down_then_each_message_handled_once(
    bridge: Bridge, tmp_path: Path
) -> None:
    assert bridge.app is not None
    bot_id = bridge.app.bots["tasks"].user_id
    vuser = "@_yakuba_ticketing:localhost"
    staff = await Staff.create(bridge.synapse, unique("kado"), "pw-kado-123", tmp_path / "s")
    try:
        room = await staff.create_room(invite=[bot_id, vuser], encrypted=False)
        await staff.wait_joined(room, vuser)
        await bridge.stop()
        await staff.send(room, "!ticket while down 1")
        await staff.send(room, "!ticket while down 2")
        await asyncio.sleep(1)  # Synapse tries, fails, backs off
        await bridge.start()  # the start-up ping makes Synapse resume at once
        wanted = {"!ticket while down 1", "!ticket while down 2"}
        await eventually(lambda: wanted <= set(bridge.receiver.bodies()), "the queued messages")
        marker = "!ticket marker after restart"
        await staff.send(room, marker)
        await eventually(lambda: marker in bridge.receiver.bodies(), "the marker")
        for body in (*wanted, marker):
            assert bridge.receiver.bodies().count(body) == 1, body
    finally:
        await staff.close()
