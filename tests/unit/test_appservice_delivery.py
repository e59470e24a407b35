"""Delivering the outbox to real HTTP servers on 127.0.0.1, on a fake clock."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import unused_port

from appservice.delivery import Deliverer, webhook_id
from appservice.outbox import OutboxEntry, OutboxStore
from appservice.signing import verify
from bots.config_bridge import Endpoint, RetryPolicy
from bots.secrets import Secret
from bots.store.database import Database

pytestmark = pytest.mark.postgresql

SECRET = "whsec_" + base64.b64encode(b"a test key for the ticketing system").decode()
T0 = 1_743_498_000.0  # 2025-04-01 09:00 UTC
POLICY = RetryPolicy(max_attempts=5, base_delay=timedelta(seconds=2))

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local server that records what it receives; `answer` decides the reply."""

    answer: Handler
    url: str = ""
    received: list[Received] = field(default_factory=list)
    got_one: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(Received(dict(request.headers), await request.read()))
        self.got_one.set()
        return await self.answer(request)


Serve = Callable[[Handler], Awaitable[Receiver]]


@pytest.fixture
async def release() -> asyncio.Event:
    """Set at teardown, so handlers that hang let their servers stop."""
    return asyncio.Event()


@pytest.fixture
async def serve(release: asyncio.Event) -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(answer: Handler) -> Receiver:
        receiver = Receiver(answer)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", receiver.handle)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        receiver.url = f"http://127.0.0.1:{port}/hook"
        return receiver

    yield start
    release.set()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def store(db: Database) -> OutboxStore:
    return OutboxStore(db)


def endpoint(name: str, receiver: Receiver, timeout: float = 5.0) -> Endpoint:
    return Endpoint(
        id=name, url=receiver.url, secret=Secret(SECRET), timeout=timedelta(seconds=timeout)
    )


async def ok(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True})


async def error(request: web.Request) -> web.StreamResponse:
    return web.Response(status=500, text="boom")


async def only(store: OutboxStore, state: str = "pending") -> OutboxEntry:
    entries = await store.list_entries(state)  # type: ignore[arg-type]
    assert len(entries) == 1, entries
    return entries[0]


async def test_delivers_signed_json(
    store: OutboxStore, serve: Serve, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    receiver = await serve(ok)
    payload = {"type": "task.created", "title": "窓口の混雑", "n": 3}
    assert await store.enqueue("ticketing", "task-1-created", payload, clock.at())
    deliverer = Deliverer(
        store, {"ticketing": endpoint("ticketing", receiver)}, POLICY, session, clock
    )
    assert deliverer.last_progress_at is None

    assert await deliverer.run_once() == 1

    (got,) = receiver.received
    assert got.body == json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(got.body) == payload
    assert got.headers["Content-Type"] == "application/json"
    entry = await only(store, "delivered")
    assert verify([SECRET], got.headers, got.body, now=clock()) == webhook_id(entry)
    assert got.headers["webhook-id"].startswith(f"yk_{entry.id}_")
    assert got.headers["webhook-timestamp"] == str(int(T0))
    assert entry.attempts == 1 and entry.delivered_at == clock.at()
    assert deliverer.last_progress_at == clock()
    assert await deliverer.run_once() == 0
    assert len(receiver.received) == 1


async def test_retries_with_backoff_until_delivered(
    store: OutboxStore, serve: Serve, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    answers = [500, 500, 200]

    async def flaky(request: web.Request) -> web.StreamResponse:
        return web.Response(status=answers.pop(0))

    receiver = await serve(flaky)
    await store.enqueue("ticketing", "k", {"a": 1}, clock.at())
    deliverer = Deliverer(
        store,
        {"ticketing": endpoint("ticketing", receiver)},
        POLICY,
        session,
        clock,
        random.Random(7),
    )
    expected = random.Random(7)

    assert await deliverer.run_once() == 1
    entry = await only(store)
    assert entry.attempts == 1 and entry.last_error == "HTTP 500"
    delay = max(1.0, expected.uniform(0, 2))  # base_delay * 2**0
    assert entry.next_attempt_at == datetime.fromtimestamp(T0 + delay, UTC)

    clock.now = entry.next_attempt_at.timestamp() - 0.5
    assert await deliverer.run_once() == 0  # not due yet

    clock.now = entry.next_attempt_at.timestamp()
    assert await deliverer.run_once() == 1
    entry = await only(store)
    assert entry.attempts == 2
    delay = max(1.0, expected.uniform(0, 4))  # base_delay * 2**1
    assert entry.next_attempt_at == datetime.fromtimestamp(clock.now + delay, UTC)

    clock.now = entry.next_attempt_at.timestamp() + 1
    assert await deliverer.run_once() == 1
    done = await only(store, "delivered")
    assert done.attempts == 3 and done.delivered_at == clock.at()
    assert answers == []
    # the same webhook-id every time, so the receiver can dedupe; each freshly dated
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert receiver.received[-1].headers["webhook-timestamp"] == str(int(clock.now))
    verify([SECRET], receiver.received[-1].headers, receiver.received[-1].body, clock.now)


async def test_backoff_is_capped_and_at_least_a_second() -> None:
    class Fixed(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b if self.high else a

        high = True

    rng = Fixed()
    policy = RetryPolicy(max_attempts=100, max_delay=timedelta(seconds=30))
    deliverer = Deliverer(None, {}, policy, None, FakeClock(), rng)  # type: ignore[arg-type]
    assert [deliverer._backoff(n) for n in range(6)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert deliverer._backoff(99) == 30.0
    rng.high = False
    assert deliverer._backoff(3) == 1.0


async def test_hanging_endpoint_does_not_delay_others(
    store: OutboxStore, serve: Serve, session: aiohttp.ClientSession, release: asyncio.Event
) -> None:
    clock = FakeClock()

    async def hang(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response()

    slow = await serve(hang)
    fast = await serve(ok)
    # the hanging endpoint's entry is the older one
    await store.enqueue("slow", "s1", {"n": 1}, clock.at())
    await store.enqueue("fast", "f1", {"n": 2}, clock.at())
    deliverer = Deliverer(
        store,
        {"slow": endpoint("slow", slow, timeout=0.2), "fast": endpoint("fast", fast)},
        POLICY,
        session,
        clock,
        random.Random(1),
    )

    assert await deliverer.run_once() == 2

    delivered = await only(store, "delivered")
    assert delivered.endpoint == "fast"
    failed = await only(store, "pending")
    assert failed.endpoint == "slow" and failed.attempts == 1
    assert failed.last_error == "timed out after 0.2 s"


async def test_run_forever_serves_endpoints_independently(
    store: OutboxStore, serve: Serve, session: aiohttp.ClientSession, release: asyncio.Event
) -> None:
    clock = FakeClock()
    slow_started = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        slow_started.set()
        await release.wait()
        return web.Response()

    slow = await serve(hang)
    fast = await serve(ok)
    deliverer = Deliverer(
        store,
        {"slow": endpoint("slow", slow, timeout=60), "fast": endpoint("fast", fast)},
        POLICY,
        session,
        clock,
    )
    wake = asyncio.Event()
    runner = asyncio.create_task(deliverer.run_forever(wake, idle_s=3600))
    try:
        await store.enqueue("slow", "s1", {}, clock.at())
        wake.set()
        await asyncio.wait_for(slow_started.wait(), 10)
        # the slow endpoint is still busy with its first entry when the next one arrives
        await store.enqueue("fast", "f1", {}, clock.at())
        wake.set()
        await asyncio.wait_for(fast.got_one.wait(), 10)
        for _ in range(100):
            if await store.list_entries("delivered"):
                break
            await asyncio.sleep(0.01)
        assert (await only(store, "delivered")).endpoint == "fast"
        assert (await only(store, "pending")).endpoint == "slow"
        assert not release.is_set()
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    # the interrupted attempt is not recorded: it will be made again
    assert (await only(store, "pending")).attempts == 0


async def test_same_endpoint_in_order_and_stops_after_a_failure(
    store: OutboxStore, serve: Serve, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()

    async def refuse_second(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return web.Response(status=503 if body["n"] == 2 else 204)

    receiver = await serve(refuse_second)
    for n in (1, 2, 3):
        await store.enqueue("ticketing", f"k{n}", {"n": n}, clock.at() + timedelta(seconds=n))
    clock.now += 10
    deliverer = Deliverer(
        store, {"ticketing": endpoint("ticketing", receiver)}, POLICY, session, clock
    )
    assert await deliverer.run_once() == 2
    assert [json.loads(r.body)["n"] for r in receiver.received] == [1, 2]
    pending = await store.list_entries("pending")
    assert [(e.payload["n"], e.attempts) for e in pending] == [(3, 0), (2, 1)]
    # the next round goes on with the entries that are due
    assert await deliverer.run_once() == 1
    assert [json.loads(r.body)["n"] for r in receiver.received] == [1, 2, 3]


async def test_dead_letter_then_retry(
    store: OutboxStore, serve: Serve, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    status = [500]

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status[0])

    receiver = await serve(answer)
    await store.enqueue("ticketing", "k", {}, clock.at())
    policy = RetryPolicy(max_attempts=2)
    deliverer = Deliverer(
        store, {"ticketing": endpoint("ticketing", receiver)}, policy, session, clock
    )
    assert await deliverer.run_once() == 1
    clock.now = (await only(store)).next_attempt_at.timestamp()
    assert await deliverer.run_once() == 1

    dead = await only(store, "dead")
    assert dead.attempts == 2 and dead.last_error == "HTTP 500" and dead.dead_at == clock.at()
    clock.now += 3600
    assert await deliverer.run_once() == 0
    assert len(receiver.received) == 2

    status[0] = 200
    assert await store.retry(dead.id, clock.at())
    assert await deliverer.run_once() == 1
    done = await only(store, "delivered")
    assert done.attempts == 1 and done.last_error == "HTTP 500"
    assert len(receiver.received) == 3


async def test_redirects_are_not_followed(
    store: OutboxStore, serve: Serve, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    elsewhere = await serve(ok)

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(elsewhere.url)

    receiver = await serve(redirect)
    await store.enqueue("ticketing", "k", {}, clock.at())
    deliverer = Deliverer(
        store, {"ticketing": endpoint("ticketing", receiver)}, POLICY, session, clock
    )
    assert await deliverer.run_once() == 1
    assert len(receiver.received) == 1
    assert elsewhere.received == []
    entry = await only(store)
    assert entry.attempts == 1 and entry.last_error == "HTTP 302 (redirects are not followed)"


async def test_connection_refused_is_a_failure(
    store: OutboxStore, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    await store.enqueue("ticketing", "k", {}, clock.at())
    nobody = Endpoint(
        id="ticketing", url=f"http://127.0.0.1:{unused_port()}/hook", secret=Secret(SECRET)
    )
    deliverer = Deliverer(store, {"ticketing": nobody}, POLICY, session, clock)
    assert await deliverer.run_once() == 1
    entry = await only(store)
    assert entry.attempts == 1
    assert entry.last_error == "request failed (ClientConnectorError: Connection refused)"


async def test_unconfigured_endpoint_is_dead_at_once(
    store: OutboxStore, serve: Serve, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    receiver = await serve(ok)
    await store.enqueue("removed", "k1", {}, clock.at())
    await store.enqueue("ticketing", "k2", {}, clock.at())
    deliverer = Deliverer(
        store, {"ticketing": endpoint("ticketing", receiver)}, POLICY, session, clock
    )
    assert await deliverer.run_once() == 2
    dead = await only(store, "dead")
    assert dead.endpoint == "removed" and dead.attempts == 1
    assert dead.last_error == "endpoint 'removed' is no longer configured"
    assert (await only(store, "delivered")).endpoint == "ticketing"
