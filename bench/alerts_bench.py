"""Benchmark: one alert fanned out to 200 rooms, from the signed webhook to the last copy in
Synapse, next to a raw client sending the same 200 messages on the same Synapse; and parse
time and peak memory for the largest sample, next to parsing the same bytes with the
standard library's (unsafe for outside input) ElementTree as a floor.

    .venv/bin/python -m bench.alerts_bench [--rooms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
import tracemalloc
import xml.etree.ElementTree as StdET
from pathlib import Path

import aiohttp

from appservice.registration import write_registration
from appservice.signing import signed_headers
from bots.alerts.parse import parse_alert_document
from bots.config import load_config
from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port
from tests.integration.bridge import Bridge, Receiver, _alias
from tests.integration.harness import Staff, register_bots, write_config
from tests.samples import SAMPLES

SECRET = "whsec_YWxlcnQtYmVuY2gtc2VjcmV0"


def parse_figures() -> None:
    files = sorted(
        (
            p
            for p in SAMPLES.rglob("*")
            if p.is_file() and p.suffix in (".xml", ".cap", ".edxlde", ".atom")
        ),
        key=lambda p: p.stat().st_size,
    )
    largest = next(p for p in reversed(files) if "invalid" not in p.name and "xee" not in p.name)
    data = largest.read_bytes()
    rows = []
    for label, parse in (
        ("baseline: xml.etree parse only (no checks)", lambda: StdET.fromstring(data)),
        ("yakuba: safe parse + alert model", lambda: parse_alert_document(data)),
    ):
        times = []
        for _ in range(20):
            start = time.perf_counter()
            parse()
            times.append(time.perf_counter() - start)
        tracemalloc.start()
        parse()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append((label, statistics.median(times) * 1000, peak / 1024 / 1024))
    print(f"\nparsing the largest sample: {largest.name} ({len(data) / 1024:.0f} KiB)")
    print(f"{'parser':<48}{'median ms':>10}{'peak MiB':>10}")
    for label, ms, mib in rows:
        print(f"{label:<48}{ms:>10.1f}{mib:>10.1f}")


async def fan_out(count: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="yakuba-alertbench-"))
    as_port, hs_port = free_port(), free_port()
    fake_hs = type("S", (), {"url": f"http://127.0.0.1:{hs_port}"})()
    fake_hs.cfg = type("C", (), {"server_name": "localhost"})()
    routes = [{"room": f"#r{i}:localhost"} for i in range(count)]
    path = write_config(
        tmp,
        fake_hs,
        {"alerts": {"localpart": "alertbot", "features": ["alerts"]}},
        appservice={
            "url": f"http://127.0.0.1:{as_port}",
            "listen": {"host": "127.0.0.1", "port": as_port},
        },
        systems=[{"id": "bousai", "display_name": "防災"}],
        hooks=[
            {
                "id": "alerts",
                "system": "bousai",
                "room": "#r0:localhost",
                "secrets": [SECRET],
                "action": "alert",
            }
        ],
        alerts={"routes": routes, "pin_level": "emergency"},
    )
    config = load_config(path)
    assert config.appservice is not None
    registration = write_registration(config, config.appservice, tmp / "registration.yaml")
    synapse = SynapseProcess(
        SynapseConfig(
            tmp / "synapse", hs_port, extra={"app_service_config_files": [str(registration)]}
        )
    )
    await synapse.start()
    try:
        admin = await synapse.register("admin", secrets.token_urlsafe(12), admin=True)
        await register_bots(synapse, path, admin["access_token"])
        owner = await Staff.create(synapse, "owner", "pw-owner-123", tmp / "owner")
        await synapse.exempt_from_ratelimit(admin["access_token"], owner.user_id)
        bot_id = "@alertbot:localhost"
        rooms = []
        for i in range(count):
            room = await owner.create_room(invite=[bot_id], encrypted=False, power={bot_id: 100})
            await _alias(owner, f"#r{i}:localhost", room)
            rooms.append(room)
        bridge = Bridge(synapse, config, Receiver(), admin["access_token"])
        await bridge.start()
        assert bridge.app is not None
        bot = bridge.app.bots["alerts"]
        async with asyncio.timeout(900):
            while not all(r in bot.client.rooms for r in rooms):
                await bot.wait_synced()

        body = {"msgtype": "m.text", "body": "⚠️ 大雨警報", "m.mentions": {}}
        headers = {"Authorization": f"Bearer {owner.client.access_token}"}
        start = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            for i, room in enumerate(rooms):
                url = f"{synapse.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/b{i}"
                async with http.put(url, json=body, headers=headers) as resp:
                    assert resp.status == 200
        raw = time.perf_counter() - start

        cap = (
            (SAMPLES / "cap/thunderstorm.cap")
            .read_bytes()
            .replace(
                b"<expires>2003-06-17T16:00:00-07:00</expires>",
                b"<expires>2099-06-17T16:00:00-07:00</expires>",
            )
        )
        hook_headers = signed_headers(SECRET, "msg_bench", int(time.time()), cap)
        start = time.perf_counter()
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{bridge.as_url}/hooks/alerts", data=cap, headers=hook_headers) as resp,
        ):
            answer = await resp.json()
        ours = time.perf_counter() - start
        assert answer["alerts"][0]["rooms"] == count, answer
        print(f"\none alert to {count} rooms (loopback Synapse, unencrypted rooms)")
        print(f"{'measure':<58}{'seconds':>10}{'msgs/s':>10}")
        label = f"baseline: raw client sends the {count} messages"
        print(f"{label:<58}{raw:>10.2f}{count / raw:>10.1f}")
        label = "yakuba: signed webhook -> every room has the alert"
        print(f"{label:<58}{ours:>10.2f}{count / ours:>10.1f}")
        await owner.close()
        await bridge.stop()
    finally:
        await synapse.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    args = parser.parse_args()
    parse_figures()
    asyncio.run(fan_out(args.rooms))
