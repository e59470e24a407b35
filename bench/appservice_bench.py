"""Benchmark: the appservice's transaction throughput and ack latency.

Sends the same 100-event transactions, one after another, to yakuba's appservice
(durable dedupe: the events are in SQLite before the 200) and, in the same run, to
mautrix-python's appservice server (in-memory transaction dedupe, no durability), each
on loopback with nothing else running. mautrix is only for this comparison:

    .venv/bin/pip install mautrix
    .venv/bin/python -m bench.appservice_bench [--transactions 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from appservice.service import Appservice
from bots.config import parse_config
from bots.demo.synapse import free_port
from bots.store.database import Database

HS_TOKEN = "bench-hs-token"
AS_TOKEN = "bench-as-token"


def transactions(count: int, size: int = 100) -> list[tuple[str, bytes]]:
    out = []
    for t in range(count):
        events = [
            {
                "event_id": f"$bench-{t}-{i}",
                "room_id": "!bench:localhost",
                "type": "m.room.message",
                "sender": "@someone:localhost",
                "origin_server_ts": 1_700_000_000_000 + i,
                "content": {"msgtype": "m.text", "body": f"message {t}/{i} 住民票の請求"},
                "unsigned": {"age": 1},
            }
            for i in range(size)
        ]
        out.append((f"txn{t}", json.dumps({"events": events}).encode()))
    return out


async def drive(url: str, txns: list[tuple[str, bytes]]) -> tuple[float, list[float]]:
    latencies = []
    headers = {"Authorization": f"Bearer {HS_TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        # warm-up (not measured)
        async with http.put(
            f"{url}/_matrix/app/v1/transactions/warm", data=txns[0][1], headers=headers
        ) as r:
            assert r.status == 200, await r.text()
        start = time.perf_counter()
        for txn_id, body in txns:
            t0 = time.perf_counter()
            async with http.put(
                f"{url}/_matrix/app/v1/transactions/{txn_id}", data=body, headers=headers
            ) as r:
                assert r.status == 200, await r.text()
                await r.read()
            latencies.append(time.perf_counter() - t0)
        total = time.perf_counter() - start
    return total, latencies


async def yakuba_run(txns: list[tuple[str, bytes]], tmp: Path) -> tuple[float, list[float]]:
    port = free_port()
    config = parse_config(
        {
            "homeserver": {"url": f"http://127.0.0.1:{free_port()}", "server_name": "localhost"},
            "data_dir": str(tmp / "data"),
            "bots": {
                "b": {"user_id": "@b:localhost", "password": "x", "pickle_key": "0123456789abcdef"}
            },
            "appservice": {
                "url": f"http://127.0.0.1:{port}",
                "listen": {"host": "127.0.0.1", "port": port},
                "as_token": AS_TOKEN,
                "hs_token": HS_TOKEN,
            },
        },
        base_dir=tmp,
        env={},
    )
    db = await Database.open(config.store.path)
    service = Appservice(config, db, {})
    await service.start()  # its ping to the (absent) homeserver fails: fine here
    try:
        return await drive(f"http://127.0.0.1:{port}", txns)
    finally:
        await service.stop()
        await db.close()


async def mautrix_run(txns: list[tuple[str, bytes]]) -> tuple[float, list[float]]:
    from mautrix.appservice import AppService

    port = free_port()
    handled = 0

    async def count(event: object) -> None:
        nonlocal handled
        handled += 1

    service = AppService(
        server=f"http://127.0.0.1:{free_port()}",
        domain="localhost",
        as_token=AS_TOKEN,
        hs_token=HS_TOKEN,
        bot_localpart="bench",
        id="bench",
    )
    service.matrix_event_handler(count)
    await service.start("127.0.0.1", port)
    try:
        return await drive(f"http://127.0.0.1:{port}", txns)
    finally:
        await service.stop()


def report(label: str, total: float, latencies: list[float], events: int) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000
    print(f"{label:<44}{events / total:>12,.0f}{p50:>10.2f}{p99:>10.2f}")


async def main(count: int) -> None:
    txns = transactions(count)
    events = count * 100
    tmp = Path(tempfile.mkdtemp(prefix="yakuba-asbench-"))
    ours = await yakuba_run(txns, tmp)
    try:
        theirs: tuple[float, list[float]] | None = await mautrix_run(txns)
    except ImportError:
        theirs = None
    print(f"\nappservice transactions: {count} x 100 events, sequential, loopback")
    print(f"{'server':<44}{'events/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    report("yakuba (durable queue + dedupe in SQLite)", *ours, events)
    if theirs is not None:
        report("baseline: mautrix-python (in-memory)", *theirs, events)
    else:
        print("baseline: mautrix-python not installed (pip install mautrix)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=200)
    asyncio.run(main(parser.parse_args().transactions))
