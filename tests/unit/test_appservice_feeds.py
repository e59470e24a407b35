"""Polling JMA-style Atom feeds served on 127.0.0.1, on a fake clock.

The feeds are built like JMA's (feed/entry with id, title, updated, author, a link to
the XML document and a text content); the linked documents are real JMA samples."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from xml.sax.saxutils import escape, quoteattr

import aiohttp
import pytest
from aiohttp import web

from appservice.feeds import FeedPoller, FeedState
from bots.alerts.model import DocumentFormat
from bots.alerts.parse import parse_document
from bots.config_alerts import Feed
from tests.samples import SAMPLES

T0 = 1_718_240_400.0  # 2024-06-13 01:00 UTC
LAST_MODIFIED = "Thu, 13 Jun 2024 01:00:00 GMT"

WARNING = "15_12_01_161130_VPWW53.xml"  # 気象警報・注意報
LANDSLIDE = "17_01_01_190529_VXWW50.xml"  # 土砂災害警戒情報
QUAKE = "32-35_01_03_240613_VXSE53.xml"  # 震源・震度に関する情報 (訓練)
TSUNAMI = "32-39_11_02_250206_VTSE41.xml"  # 津波警報


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Entry:
    """One entry of a JMA feed: ``name`` is a sample file, served under /data/."""

    name: str
    updated: str  # as JMA writes it: UTC with Z
    title: str = "気象警報・注意報"
    href: str | None = None  # default: the server's /data/NAME


def jma_atom(base: str, path: str, entries: list[Entry]) -> bytes:
    """A feed shaped like https://www.data.jma.go.jp/developer/xml/feed/regular.xml."""
    items = []
    for entry in entries:
        href = entry.href or f"{base}/data/{entry.name}"
        items.append(
            "<entry>"
            f"<title>{escape(entry.title)}</title>"
            f"<id>{escape(href)}</id>"
            f"<updated>{entry.updated}</updated>"
            "<author><name>気象庁</name></author>"
            f'<link type="application/xml" href={quoteattr(href)}/>'
            f'<content type="text/plain">【{escape(entry.title)}】</content>'
            "</entry>"
        )
    updated = entries[0].updated if entries else "2024-06-13T00:00:00Z"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" lang="ja">'
        "<title>高頻度（定時）</title>"
        "<subtitle>JMAXML publishing feed</subtitle>"
        f"<updated>{updated}</updated>"
        f"<id>{base}{path}</id>"
        '<link href="https://www.jma.go.jp/" rel="related"/>'
        f'<link href="{base}{path}" rel="self"/>'
        '<rights type="html">Published by Japan Meteorological Agency</rights>'
        + "".join(items)
        + "</feed>"
    ).encode()


@dataclass
class JmaServer:
    """A feed (/feed.xml), a long feed (/long.xml), the documents (/data/NAME) and a
    feed that never answers (/hang); every request is recorded."""

    release: asyncio.Event
    base: str = ""
    entries: list[Entry] = field(default_factory=list)  # newest first, as JMA lists them
    long_entries: list[Entry] = field(default_factory=list)
    feed_status: int = 200
    failing: set[str] = field(default_factory=set)  # documents answered with a 500
    bodies: dict[str, bytes] = field(default_factory=dict)  # documents served instead
    chunked: bool = False  # feeds sent without Content-Length
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    hanging: asyncio.Event = field(default_factory=asyncio.Event)

    def paths(self, prefix: str = "") -> list[str]:
        return [path for path, _ in self.requests if path.startswith(prefix)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.headers)))
        if request.path == "/hang":
            self.hanging.set()
            await self.release.wait()
            return web.Response(status=500)
        if request.path == "/redirect":
            raise web.HTTPFound(f"{self.base}/feed.xml")
        if request.path.startswith("/data/"):
            name = request.path.removeprefix("/data/")
            if name in self.failing:
                return web.Response(status=500, text="temporarily unavailable")
            if name in self.bodies:
                return web.Response(body=self.bodies[name])
            return web.Response(
                body=(SAMPLES / "jma" / name).read_bytes(), content_type="application/xml"
            )
        if self.feed_status != 200:
            return web.Response(status=self.feed_status, text="internal error")
        entries = self.long_entries if request.path == "/long.xml" else self.entries
        body = jma_atom(self.base, request.path, entries)
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if not self.chunked:
            return web.Response(body=body, content_type="application/atom+xml", headers=headers)
        response = web.StreamResponse(headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 512):
            await response.write(body[start : start + 512])
        await response.write_eof()
        return response


@pytest.fixture
async def release() -> asyncio.Event:
    """Set at teardown, so that hanging handlers let their server stop."""
    return asyncio.Event()


@pytest.fixture
async def serve(release: asyncio.Event) -> AsyncIterator[Callable[[], Awaitable[JmaServer]]]:
    runners: list[web.AppRunner] = []

    async def start() -> JmaServer:
        server = JmaServer(release)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", server.handle)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        server.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return server

    yield start
    release.set()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def jma(serve: Callable[[], Awaitable[JmaServer]]) -> JmaServer:
    return await serve()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@dataclass
class Recorder:
    documents: list[tuple[str, bytes]] = field(default_factory=list)
    alarms: list[tuple[str, bool, str | None]] = field(default_factory=list)
    delivered: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_document(self, body: bytes, source: str) -> None:
        self.documents.append((source, body))
        self.delivered.set()

    async def on_alarm(self, feed_id: str, alarm: bool, error: str | None) -> None:
        self.alarms.append((feed_id, alarm, error))

    @property
    def sources(self) -> list[str]:
        return [source for source, _ in self.documents]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def feed_of(server: JmaServer, path: str = "/feed.xml", **options: object) -> Feed:
    values: dict[str, object] = {"id": "jma", "url": server.base + path}
    values.update(options)
    return Feed.model_validate(values)


def poller_for(
    feeds: list[Feed],
    session: aiohttp.ClientSession,
    recorder: Recorder,
    clock: FakeClock,
    **options: object,
) -> FeedPoller:
    return FeedPoller(
        feeds,
        session,
        recorder.on_document,
        recorder.on_alarm,
        clock=clock,
        started_at=T0,
        **options,  # type: ignore[arg-type]
    )


def source(server: JmaServer, name: str, feed_id: str = "jma") -> str:
    return f"feed:{feed_id}:{server.base}/data/{name}"


def sample(name: str) -> bytes:
    return (SAMPLES / "jma" / name).read_bytes()


async def test_new_documents_are_fetched_once_and_oldest_first(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [
        Entry(LANDSLIDE, "2024-06-13T00:10:00Z", "土砂災害警戒情報"),
        Entry(QUAKE, "2024-06-13T00:05:00Z", "震源・震度に関する情報"),
        Entry(WARNING, "2024-06-13T00:05:00Z"),  # same time: listed after, so older
    ]
    feed = feed_of(jma)
    poller = poller_for([feed], session, recorder, clock)

    assert await poller.poll_once(feed) == 3
    assert recorder.sources == [source(jma, n) for n in (WARNING, QUAKE, LANDSLIDE)]
    assert [body for _, body in recorder.documents] == [
        sample(n) for n in (WARNING, QUAKE, LANDSLIDE)
    ]
    assert parse_document(recorder.documents[0][1]).format is DocumentFormat.JMA

    jma.entries.insert(0, Entry(TSUNAMI, "2024-06-13T00:20:00Z", "津波警報・注意報・予報"))
    assert await poller.poll_once(feed) == 1
    assert await poller.poll_once(feed) == 0  # 304
    assert recorder.sources[3:] == [source(jma, TSUNAMI)]
    assert sorted(jma.paths("/data/")) == sorted(
        f"/data/{n}" for n in (WARNING, QUAKE, LANDSLIDE, TSUNAMI)
    )
    [status] = poller.status()
    assert (status.last_success, status.failures, status.alarm) == (T0, 0, False)


async def test_conditional_request_and_304(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [Entry(WARNING, "2024-06-13T00:05:00Z")]
    feed = feed_of(jma)
    poller = poller_for([feed], session, recorder, clock)
    assert await poller.poll_once(feed) == 1
    first_headers = jma.requests[0][1]
    assert "If-None-Match" not in first_headers

    clock.now = T0 + 60
    assert await poller.poll_once(feed) == 0
    path, headers = jma.requests[-1]
    assert path == "/feed.xml"
    assert headers["If-None-Match"].startswith('"')
    assert headers["If-Modified-Since"] == LAST_MODIFIED
    assert jma.paths("/data/") == [f"/data/{WARNING}"]  # nothing fetched again
    [status] = poller.status()
    assert status.last_success == T0 + 60  # a 304 is a success
    assert status.failures == 0
    [state] = poller.state()
    assert state.fetched == [f"{jma.base}/data/{WARNING}"]
    assert state.last_modified == {feed.url: LAST_MODIFIED}
    assert state.etags[feed.url] == headers["If-None-Match"]


async def test_state_restored_into_a_new_poller(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [Entry(WARNING, "2024-06-13T00:05:00Z")]
    feed = feed_of(jma)
    first = poller_for([feed], session, recorder, clock)
    await first.poll_once(feed)
    saved = first.state()

    later = Recorder()
    second = poller_for([feed], session, later, clock)
    second.restore([*saved, FeedState("gone", etags={"http://x/": '"1"'})])
    assert await second.poll_once(feed) == 0
    assert "If-None-Match" in jma.requests[-1][1]

    jma.entries.insert(0, Entry(QUAKE, "2024-06-13T00:06:00Z"))
    assert await second.poll_once(feed) == 1
    assert later.sources == [source(jma, QUAKE)]


async def test_a_500_on_the_feed_is_a_failure(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [Entry(WARNING, "2024-06-13T00:05:00Z")]
    jma.feed_status = 500
    feed = feed_of(jma)
    poller = poller_for([feed], session, recorder, clock)
    assert await poller.poll_once(feed) == 0
    assert await poller.poll_once(feed) == 0
    [status] = poller.status()
    assert status.last_success is None
    assert status.last_attempt == T0
    assert status.failures == 2
    assert status.last_error == "HTTP 500"
    assert recorder.documents == []
    assert recorder.alarms == []  # not yet alarm_after

    jma.feed_status = 200
    assert await poller.poll_once(feed) == 1
    [status] = poller.status()
    assert (status.failures, status.last_success) == (0, T0)


async def test_redirects_are_not_followed(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [Entry(WARNING, "2024-06-13T00:05:00Z")]
    feed = feed_of(jma, "/redirect")
    poller = poller_for([feed], session, recorder, clock)
    assert await poller.poll_once(feed) == 0
    assert jma.paths() == ["/redirect"]
    [status] = poller.status()
    assert status.failures == 1
    assert status.last_error is not None and "302" in status.last_error


async def test_invalid_feed_is_a_failure(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.bodies["feed.html"] = b"<html><body>maintenance</body></html>"
    feed = feed_of(jma, "/data/feed.html")
    poller = poller_for([feed], session, recorder, clock)
    assert await poller.poll_once(feed) == 0
    [status] = poller.status()
    assert status.failures == 1
    assert status.last_error is not None and "not valid" in status.last_error


async def test_alarm_is_raised_once_and_recovery_reported_once(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [Entry(WARNING, "2024-06-13T00:05:00Z")]
    jma.feed_status = 503
    feed = feed_of(jma, alarm_after=timedelta(minutes=10))
    poller = poller_for([feed], session, recorder, clock)

    clock.now = T0 + 600  # not *longer* than alarm_after yet
    await poller.poll_once(feed)
    await poller.check_alarms()
    assert recorder.alarms == []

    clock.now = T0 + 601
    await poller.poll_once(feed)
    assert recorder.alarms == [("jma", True, "HTTP 503")]
    clock.now = T0 + 700
    await poller.poll_once(feed)
    await poller.check_alarms()
    await poller.check_alarms(T0 + 900)
    assert recorder.alarms == [("jma", True, "HTTP 503")]
    assert poller.status()[0].alarm

    jma.feed_status = 200
    clock.now = T0 + 760
    await poller.poll_once(feed)
    await poller.poll_once(feed)
    await poller.check_alarms()
    assert recorder.alarms == [("jma", True, "HTTP 503"), ("jma", False, None)]
    [status] = poller.status()
    assert (status.alarm, status.last_success) == (False, T0 + 760)

    # measured from the last success from now on
    await poller.check_alarms(T0 + 760 + 600)
    assert len(recorder.alarms) == 2
    await poller.check_alarms(T0 + 760 + 601)
    assert recorder.alarms[2:] == [("jma", True, "HTTP 503")]  # the last error seen


async def test_check_alarms_reports_a_feed_never_answered(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    hanging = feed_of(jma, "/hang", alarm_after=timedelta(minutes=5))
    poller = poller_for([hanging], session, recorder, clock)
    await poller.check_alarms(T0 + 300)
    assert recorder.alarms == []
    await poller.check_alarms(T0 + 301)
    await poller.check_alarms(T0 + 302)
    assert recorder.alarms == [("jma", True, None)]


async def test_a_hanging_request_times_out_after_every(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    hanging = feed_of(jma, "/hang", every=timedelta(milliseconds=50))
    poller = poller_for([hanging], session, recorder, clock)
    assert await poller.poll_once(hanging) == 0
    assert jma.hanging.is_set()
    [status] = poller.status()
    assert status.failures == 1
    assert status.last_error is not None and "no answer" in status.last_error


async def test_a_hanging_feed_does_not_delay_another(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [Entry(QUAKE, "2024-06-13T00:05:00Z")]
    jma.long_entries = [Entry(WARNING, "2024-06-12T23:00:00Z")]
    hanging = feed_of(jma, "/hang", id="stuck", every=timedelta(seconds=2))
    healthy = feed_of(jma, id="jma", long_url=jma.base + "/long.xml")
    poller = poller_for([hanging, healthy], session, recorder, clock)
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    try:
        while len(recorder.documents) < 2:
            recorder.delivered.clear()
            await asyncio.wait_for(recorder.delivered.wait(), timeout=10)
        # the healthy feed caught up and polled while the hanging request is pending
        assert recorder.sources == [source(jma, WARNING), source(jma, QUAKE)]
        assert jma.paths("/long.xml") and jma.paths("/feed.xml")
        assert jma.hanging.is_set()
        stuck, ok = poller.status()
        assert (stuck.feed_id, stuck.failures, stuck.last_success) == ("stuck", 0, None)
        assert ok.last_success == T0
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert running.result() is None


async def test_links_to_another_host_are_skipped(
    jma: JmaServer,
    session: aiohttp.ClientSession,
    recorder: Recorder,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = jma.base.rsplit(":", 1)[1]
    jma.entries = [
        Entry(QUAKE, "2024-06-13T00:07:00Z", href=f"http://localhost:{port}/data/{QUAKE}"),
        Entry(TSUNAMI, "2024-06-13T00:06:00Z", href=f"http://127.0.0.1:9/data/{TSUNAMI}"),
        Entry(WARNING, "2024-06-13T00:05:00Z"),
    ]
    feed = feed_of(jma)
    poller = poller_for([feed], session, recorder, clock)
    with caplog.at_level(logging.WARNING, logger="appservice.feeds"):
        assert await poller.poll_once(feed) == 1
    assert recorder.sources == [source(jma, WARNING)]
    assert jma.paths("/data/") == [f"/data/{WARNING}"]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 2
    assert poller.status()[0].failures == 0


async def test_relative_links_resolve_against_the_feed(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [Entry(WARNING, "2024-06-13T00:05:00Z", href=f"data/{WARNING}")]
    feed = feed_of(jma)
    poller = poller_for([feed], session, recorder, clock)
    assert await poller.poll_once(feed) == 1
    assert recorder.sources == [f"feed:jma:data/{WARNING}"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_oversized_feed_is_refused(
    chunked: bool,
    jma: JmaServer,
    session: aiohttp.ClientSession,
    recorder: Recorder,
    clock: FakeClock,
) -> None:
    jma.chunked = chunked
    jma.entries = [Entry(WARNING, f"2024-06-13T00:{m:02}:00Z") for m in range(40)]
    feed = feed_of(jma)
    poller = poller_for([feed], session, recorder, clock, max_bytes=4096)
    assert await poller.poll_once(feed) == 0
    [status] = poller.status()
    assert status.failures == 1
    assert status.last_error == "the body is larger than the limit of 4096 bytes"
    assert jma.paths("/data/") == []


async def test_a_failed_document_is_retried_on_the_next_poll(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.entries = [
        Entry(QUAKE, "2024-06-13T00:06:00Z"),
        Entry(WARNING, "2024-06-13T00:05:00Z"),
    ]
    jma.failing.add(WARNING)
    jma.bodies[QUAKE] = b"x" * 300_001  # over the cap: not handed over either
    feed = feed_of(jma)
    poller = poller_for([feed], session, recorder, clock, max_bytes=300_000)
    assert await poller.poll_once(feed) == 0
    assert poller.status()[0].failures == 0  # the feed itself answered

    jma.failing.clear()
    jma.bodies[QUAKE] = b"not XML at all"  # handed over: the ingestion reports it
    assert await poller.poll_once(feed) == 2
    assert "If-None-Match" not in jma.requests[-3][1]  # not a 304: the feed was re-read
    assert recorder.documents == [
        (source(jma, WARNING), sample(WARNING)),
        (source(jma, QUAKE), b"not XML at all"),
    ]
    assert await poller.poll_once(feed) == 0
    assert "If-None-Match" in jma.requests[-1][1]


async def test_a_failing_document_handler_is_a_failure_and_retried(
    jma: JmaServer, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    jma.entries = [Entry(WARNING, "2024-06-13T00:05:00Z")]
    handed: list[str] = []

    async def on_document(body: bytes, source: str) -> None:
        handed.append(source)
        if len(handed) == 1:
            raise RuntimeError("database is locked")

    async def on_alarm(feed_id: str, alarm: bool, error: str | None) -> None:
        pass

    feed = feed_of(jma)
    poller = FeedPoller([feed], session, on_document, on_alarm, clock=clock)
    assert await poller.poll_once(feed) == 0
    assert poller.status()[0].last_error == "internal error (RuntimeError)"
    assert await poller.poll_once(feed) == 1
    assert handed == [source(jma, WARNING)] * 2


async def test_catch_up_uses_the_long_feed(
    jma: JmaServer, session: aiohttp.ClientSession, recorder: Recorder, clock: FakeClock
) -> None:
    jma.long_entries = [
        Entry(QUAKE, "2024-06-13T00:06:00Z"),
        Entry(WARNING, "2024-06-12T22:00:00Z"),
    ]
    jma.entries = [Entry(LANDSLIDE, "2024-06-13T00:07:00Z"), Entry(QUAKE, "2024-06-13T00:06:00Z")]
    feed = feed_of(jma, long_url=jma.base + "/long.xml")
    poller = poller_for([feed], session, recorder, clock)

    assert await poller.catch_up(feed) == 2
    assert jma.paths() == ["/long.xml", f"/data/{WARNING}", f"/data/{QUAKE}"]
    assert await poller.poll_once(feed) == 1
    assert recorder.sources == [source(jma, n) for n in (WARNING, QUAKE, LANDSLIDE)]

    no_long = feed_of(jma, id="short")
    other = poller_for([no_long], session, Recorder(), clock)
    requests = len(jma.requests)
    assert await other.catch_up(no_long) == 0
    assert len(jma.requests) == requests
