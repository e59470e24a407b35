"""Benchmark: `!task add` → reply round trip and `!task list` over 10,000 stored tasks.

Runs a real Synapse on loopback, yakuba's tasks bot, and a staff client in an encrypted
room. Every figure is printed next to a baseline measured in the same run:

- add: the staff client's own message send → seen in its /sync (what Synapse and
  encryption cost without yakuba), against `!task add` → the bot's reply seen in /sync;
- list: `!ping` → reply (the bot's path without store work), against `!task list` →
  reply with 10,000 tasks in the store (200 in this room, the rest in other rooms).

    .venv/bin/python -m bench.tasks_bench [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port
from bots.tasks.feature import TaskFeature
from bots.tasks.model import Priority
from tests.integration.harness import Staff, prepare


def _pcts(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return p50 * 1000, p95 * 1000


async def _timed(rounds: int, one: Callable[[int], Awaitable[None]]) -> list[float]:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        await one(i)
        samples.append(time.perf_counter() - start)
    return samples


async def main(rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="yakuba-bench-"))
    synapse = SynapseProcess(SynapseConfig(tmp / "synapse", free_port()))
    await synapse.start()
    try:
        admin = await synapse.register("admin", secrets.token_urlsafe(12), admin=True)
        running = await prepare(
            synapse,
            admin["access_token"],
            tmp / "yakuba",
            {"tasks": {"localpart": "tasks", "features": ["tasks"]}},
            tasks={"digest": "off"},
        )
        await running.start()
        assert running.app is not None
        bot = running.app.bots["tasks"]
        feature = bot.features[0]
        assert isinstance(feature, TaskFeature)
        staff = await Staff.create(synapse, "tanaka", "pw-bench-123", tmp / "staff")
        room = await staff.create_room(invite=[bot.user_id], encrypted=True)
        await staff.wait_joined(room, bot.user_id)
        await staff.send(room, "warm-up")
        await _round_trip(staff, room, "!ping", bot.user_id)

        async def baseline_send(i: int) -> None:
            event_id = await staff.send(room, f"baseline {i}")
            await staff.wait_for(
                lambda: any(getattr(e, "event_id", None) == event_id for e in staff.received),
                "own message",
            )

        async def task_add(i: int) -> None:
            await _round_trip(staff, room, f"!task add 書類 {i} 期限:明日17時", bot.user_id)

        base = await _timed(rounds, baseline_send)
        add = await _timed(rounds, task_add)

        # 10,000 tasks: 200 in this room, the rest spread over 49 other rooms
        store = feature.service.store
        now = datetime.now(UTC)
        for i in range(10_000):
            target = room if i < 200 else f"!other{i % 49}:localhost"
            await store.create_task(
                target,
                f"task {i}",
                staff.user_id,
                [staff.user_id],
                now + timedelta(days=1 + i % 30),
                Priority.NORMAL,
                ["bench"],
                now,
            )

        async def ping(i: int) -> None:
            await _round_trip(staff, room, "!ping", bot.user_id)

        async def task_list(i: int) -> None:
            await _round_trip(staff, room, "!task list", bot.user_id)

        pings = await _timed(rounds, ping)
        lists = await _timed(rounds, task_list)

        print(f"\nyakuba task benchmarks ({rounds} rounds each, encrypted room, loopback Synapse)")
        print(f"{'measure':<48}{'p50 ms':>10}{'p95 ms':>10}")
        for label, samples in (
            ("baseline: client send -> own event in /sync", base),
            ("!task add -> bot reply in /sync", add),
            ("baseline: !ping -> reply", pings),
            ("!task list (10,000 tasks in store) -> reply", lists),
        ):
            p50, p95 = _pcts(samples)
            print(f"{label:<48}{p50:>10.1f}{p95:>10.1f}")
        await staff.close()
        await running.stop()
    finally:
        await synapse.stop()


async def _round_trip(staff: Staff, room: str, body: str, bot_id: str) -> None:
    event_id = await staff.send(room, body)
    await staff.wait_for(lambda: bool(staff.replies_to(event_id, bot_id)), f"reply to {body}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(main(parser.parse_args().rounds))
