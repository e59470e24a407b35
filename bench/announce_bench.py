"""Benchmark: one announcement published to 200 rooms, time until the last copy is in
Synapse, next to a raw client sending the same 200 messages on the same Synapse.

Unencrypted rooms (200 encrypted rooms would measure megolm session sharing, not the
workflow); the bot is exempt from rate limits as provisioning makes it; the raw client is
an HTTP client that PUTs the 200 messages one after another, as fast as it can.

    .venv/bin/python -m bench.announce_bench [--rooms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bots.announcements.feature import AnnouncementFeature
from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port
from tests.integration.harness import Staff, prepare


async def main(count: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="yakuba-annbench-"))
    synapse = SynapseProcess(SynapseConfig(tmp / "synapse", free_port()))
    await synapse.start()
    try:
        admin = await synapse.register("admin", secrets.token_urlsafe(12), admin=True)
        lead = await Staff.create(synapse, "kacho", "pw-bench-123", tmp / "lead")
        await synapse.exempt_from_ratelimit(admin["access_token"], lead.user_id)
        bot_id = "@news:localhost"
        rooms = []
        for _ in range(count):
            rooms.append(
                await lead.create_room(invite=[bot_id], encrypted=False, power={bot_id: 100})
            )
        running = await prepare(
            synapse,
            admin["access_token"],
            tmp / "yakuba",
            {"news": {"localpart": "news", "features": ["announcements"]}},
            roles={"announcer": {"users": [lead.user_id]}},
            announcements={
                "groups": [
                    {
                        "id": "all",
                        "name": {"ja": "全庁"},
                        "rooms": rooms,
                        "announcers": [lead.user_id],
                    }
                ]
            },
        )
        await running.start()
        assert running.app is not None
        bot = running.app.bots["news"]
        async with asyncio.timeout(900):  # the bot accepts 200 invitations first
            while not all(r in bot.client.rooms for r in rooms):
                await bot.wait_synced()
        feature = bot.features[0]
        assert isinstance(feature, AnnouncementFeature)

        # baseline: a raw HTTP client sends the same 200 messages
        body = {"msgtype": "m.text", "body": "📢 お知らせ: 窓口時間の変更\n本文", "m.mentions": {}}
        headers = {"Authorization": f"Bearer {lead.client.access_token}"}
        start = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            for i, room in enumerate(rooms):
                url = f"{synapse.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/bench{i}"
                async with http.put(url, json=body, headers=headers) as resp:
                    assert resp.status == 200, await resp.text()
        raw = time.perf_counter() - start

        # yakuba: the workflow publishes to the group (store, ledger, send, then pin per room)
        db = running.app.db
        start = time.perf_counter()
        publish = asyncio.create_task(
            feature.service.create(
                lead.user_id,
                rooms[0],
                "全庁",
                "窓口時間の変更",
                "本文",
                False,
                False,
                None,
                None,
                datetime.now(UTC),
            )
        )
        last_copy = 0.0
        while True:
            row = await db.fetchone(
                "SELECT COUNT(*) FROM announcement_copies WHERE event_id IS NOT NULL"
            )
            if row is not None and row[0] == count:
                last_copy = time.perf_counter() - start
                break
            await asyncio.sleep(0.01)
        result = await publish
        ours = time.perf_counter() - start
        copies = await feature.service.store.copies(result.announcement.id)
        assert all(c.event_id and c.pinned for c in copies) and len(copies) == count

        print(f"\nannouncement to {count} rooms (loopback Synapse, unencrypted rooms)")
        print(f"{'measure':<58}{'seconds':>10}{'msgs/s':>10}")
        label = f"baseline: raw client sends the {count} messages"
        print(f"{label:<58}{raw:>10.2f}{count / raw:>10.1f}")
        for label, seconds in (
            ("yakuba: publish, until the last copy is in Synapse", last_copy),
            ("yakuba: ... and every copy pinned", ours),
        ):
            print(f"{label:<58}{seconds:>10.2f}{count / seconds:>10.1f}")
        await lead.close()
        await running.stop()
    finally:
        await synapse.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    asyncio.run(main(parser.parse_args().rooms))
