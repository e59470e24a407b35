"""Polling the alert feeds: JMA's Atom feeds (or an internal mirror on a closed network).

:class:`FeedPoller` fetches each configured feed every ``feed.every`` with conditional
requests, parses it safely (:func:`bots.alerts.parse.parse_document`), fetches each
linked document it has not fetched before (oldest entry first) and hands the bytes to
``on_document``; it never parses the linked documents itself (the ingestion does, and
reports what it refuses). Only the origin of the feed URL is contacted for its links,
redirects are never followed, and every body is read under a size cap.

A feed with no successful poll for longer than ``feed.alarm_after`` is in alarm:
``on_alarm(feed_id, True, last_error)`` is awaited once when it enters the alarm and
``on_alarm(feed_id, False, None)`` once when it recovers.

The poller's memory (validators per feed URL, entry ids already fetched) is in
:class:`FeedState`, which :meth:`FeedPoller.state` exports and
:meth:`FeedPoller.restore` takes back, so that it can be persisted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from bots.alerts.model import FeedLink
from bots.alerts.parse import parse_document
from bots.alerts.xmlsafe import AlertParseError
from bots.config_alerts import Feed

log = logging.getLogger(__name__)

#: no request waits longer than this, whatever the feed's interval
MAX_REQUEST_SECONDS = 30.0
#: entry ids remembered per feed (those seen again are kept; the oldest unseen go first)
MAX_REMEMBERED = 50_000

DocumentHandler = Callable[[bytes, str], Awaitable[None]]
AlarmHandler = Callable[[str, bool, str | None], Awaitable[None]]


@dataclass
class FeedStatus:
    feed_id: str
    last_success: float | None = None
    last_attempt: float | None = None  # when the latest attempt started
    failures: int = 0  # consecutive failed attempts since the last success
    alarm: bool = False
    last_error: str | None = None  # of the latest failed attempt; kept after recovery


@dataclass
class FeedState:
    """What a poller remembers about one feed, to persist and :meth:`FeedPoller.restore`.

    Persist it as a whole: validators without the entry ids would let a 304 hide
    entries that were never fetched."""

    feed_id: str
    #: ETag of the last complete 200 response, by feed URL (``url`` and ``long_url``)
    etags: dict[str, str] = field(default_factory=dict)
    #: Last-Modified of the last complete 200 response, by feed URL
    last_modified: dict[str, str] = field(default_factory=dict)
    #: entry ids whose documents were fetched and handed over, oldest first
    fetched: list[str] = field(default_factory=list)


class FetchError(Exception):
    """A request that did not yield a body: the text is safe to log and to show."""


@dataclass
class _Feed:
    feed: Feed
    status: FeedStatus
    etags: dict[str, str] = field(default_factory=dict)
    last_modified: dict[str, str] = field(default_factory=dict)
    fetched: OrderedDict[str, None] = field(default_factory=OrderedDict)
    #: entries whose documents are on another host (in memory only: to log them once)
    skipped: OrderedDict[str, None] = field(default_factory=OrderedDict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _remember(entries: OrderedDict[str, None], entry_id: str) -> None:
    entries[entry_id] = None
    entries.move_to_end(entry_id)
    while len(entries) > MAX_REMEMBERED:
        entries.popitem(last=False)


class FeedPoller:
    def __init__(
        self,
        feeds: Sequence[Feed],
        session: aiohttp.ClientSession,
        on_document: DocumentHandler,
        on_alarm: AlarmHandler,
        clock: Callable[[], float] = time.time,
        max_bytes: int = 5 * 1024 * 1024,
        started_at: float | None = None,
    ) -> None:
        self._session = session
        self._on_document = on_document
        self._on_alarm = on_alarm
        self._clock = clock
        self._max_bytes = max_bytes
        self._started_at = clock() if started_at is None else started_at
        self._feeds: dict[str, _Feed] = {}
        for feed in feeds:
            if feed.id in self._feeds:
                raise ValueError(f"feed id {feed.id!r} is configured twice")
            self._feeds[feed.id] = _Feed(feed, FeedStatus(feed.id))

    # -- polling --------------------------------------------------------------------

    async def poll_once(self, feed: Feed) -> int:
        """Poll ``feed.url`` once; the number of new documents handed to ``on_document``.

        Never raises (but for cancellation): failures are counted in :meth:`status`,
        logged, and checked against the alarm."""
        return await self._poll(feed, feed.url)

    async def catch_up(self, feed: Feed) -> int:
        """Poll the feed's long feed once (e.g. at start, after downtime); 0 without one."""
        if feed.long_url is None:
            return 0
        return await self._poll(feed, feed.long_url)

    async def run(self, stop: asyncio.Event) -> None:
        """One task per feed (catch up, then poll every ``feed.every``) until ``stop``;
        requests still pending then are cancelled."""
        tasks = [
            asyncio.create_task(self._run_feed(state.feed), name=f"feed:{feed_id}")
            for feed_id, state in self._feeds.items()
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_feed(self, feed: Feed) -> None:
        loop = asyncio.get_running_loop()
        if feed.long_url is not None:
            await self.catch_up(feed)
        while True:
            began = loop.time()
            await self.poll_once(feed)
            await asyncio.sleep(max(0.0, feed.every.total_seconds() - (loop.time() - began)))

    async def _poll(self, feed: Feed, url: str) -> int:
        state = self._state(feed)
        async with state.lock:
            state.status.last_attempt = self._clock()
            try:
                new, complete = await self._fetch_feed(state, url)
            except FetchError as exc:
                self._failed(state, url, str(exc))
                new = 0
            except Exception as exc:  # a bug, or on_document failed: keep polling
                log.exception("feed %s: polling %s failed", feed.id, _shown(url))
                self._failed(state, url, f"internal error ({type(exc).__name__})")
                new = 0
            else:
                state.status.last_success = self._clock()
                state.status.failures = 0
                if not complete:
                    # a document failed: forget the validators so that the next poll
                    # gets the whole feed (not a 304) and retries it
                    state.etags.pop(url, None)
                    state.last_modified.pop(url, None)
        await self._check_alarm(state, self._clock())
        return new

    async def _fetch_feed(self, state: _Feed, url: str) -> tuple[int, bool]:
        """(new documents, whether every wanted document was handed over)."""
        feed = state.feed
        headers: dict[str, str] = {}
        if url in state.etags:
            headers["If-None-Match"] = state.etags[url]
        if url in state.last_modified:
            headers["If-Modified-Since"] = state.last_modified[url]
        fetched = await self._get(feed, url, headers, conditional=bool(headers))
        if fetched is None:
            log.debug("feed %s: %s not modified", feed.id, _shown(url))
            return 0, True
        body, etag, last_modified = fetched
        try:
            document = parse_document(body, max_bytes=self._max_bytes)
        except AlertParseError as exc:
            raise FetchError(f"the feed is not valid: {exc}") from None
        new, complete = 0, True
        for link in _oldest_first(document.links):
            entry_id = link.entry_id or link.href
            if entry_id in state.fetched:
                state.fetched.move_to_end(entry_id)
                continue
            target = _same_origin(url, link.href)
            if target is None:
                if entry_id not in state.skipped:  # logged once, not on every poll
                    log.warning(
                        "feed %s: skipped entry %r: its document is not on the feed's host %s",
                        feed.id,
                        entry_id,
                        URL(url).host,
                    )
                _remember(state.skipped, entry_id)
                continue
            try:
                doc = await self._get(feed, str(target), {}, conditional=False)
            except FetchError as exc:
                log.warning(
                    "feed %s: entry %r: fetching %s failed (retried on the next poll): %s",
                    feed.id,
                    entry_id,
                    _shown(str(target)),
                    exc,
                )
                complete = False
                continue
            assert doc is not None
            await self._on_document(doc[0], f"feed:{feed.id}:{entry_id}")
            _remember(state.fetched, entry_id)
            new += 1
        if complete:
            _store(state.etags, url, etag)
            _store(state.last_modified, url, last_modified)
        if new:
            log.info("feed %s: %d new document(s) from %s", feed.id, new, _shown(url))
        return new, complete

    async def _get(
        self, feed: Feed, url: str, headers: dict[str, str], *, conditional: bool
    ) -> tuple[bytes, str | None, str | None] | None:
        """(body, ETag, Last-Modified) of a 200, or None for a 304 to a conditional
        request; anything else raises :class:`FetchError`."""
        seconds = min(MAX_REQUEST_SECONDS, feed.every.total_seconds())
        try:
            async with (
                asyncio.timeout(seconds),
                self._session.get(
                    url,
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=seconds),
                ) as response,
            ):
                if response.status == 304 and conditional:
                    return None
                if 300 <= response.status < 400:
                    raise FetchError(f"HTTP {response.status} (redirects are not followed)")
                if response.status != 200:
                    raise FetchError(f"HTTP {response.status}")
                body = await _read_capped(response, self._max_bytes)
                return (
                    body,
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )
        except TimeoutError:
            raise FetchError(f"no answer within {seconds:g} s") from None
        except aiohttp.ClientConnectionError as exc:
            raise FetchError(f"connection failed ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"request failed ({type(exc).__name__})") from None

    def _failed(self, state: _Feed, url: str, error: str) -> None:
        state.status.failures += 1
        state.status.last_error = error
        log.warning(
            "feed %s: polling %s failed (%d in a row): %s",
            state.feed.id,
            _shown(url),
            state.status.failures,
            error,
        )

    # -- alarms ---------------------------------------------------------------------

    async def check_alarms(self, now: float | None = None) -> None:
        """Check every feed against its ``alarm_after`` (also for feeds whose requests
        hang); call it periodically."""
        at = self._clock() if now is None else now
        for state in self._feeds.values():
            await self._check_alarm(state, at)

    async def _check_alarm(self, state: _Feed, now: float) -> None:
        status = state.status
        since = status.last_success if status.last_success is not None else self._started_at
        stalled = now - since > state.feed.alarm_after.total_seconds()
        if stalled == status.alarm:
            return
        status.alarm = stalled  # before awaiting: a concurrent check sees it and stays quiet
        try:
            if stalled:
                log.warning(
                    "feed %s: no successful poll for more than %s: alarm",
                    status.feed_id,
                    state.feed.alarm_after,
                )
                await self._on_alarm(status.feed_id, True, status.last_error)
            else:
                log.info("feed %s: recovered", status.feed_id)
                await self._on_alarm(status.feed_id, False, None)
        except Exception:
            status.alarm = not stalled  # not told: tell on the next check
            log.exception("feed %s: reporting the alarm failed", status.feed_id)

    # -- status and state -----------------------------------------------------------

    def status(self) -> list[FeedStatus]:
        return [dataclasses.replace(state.status) for state in self._feeds.values()]

    def state(self) -> list[FeedState]:
        return [
            FeedState(
                feed_id,
                etags=dict(state.etags),
                last_modified=dict(state.last_modified),
                fetched=list(state.fetched),
            )
            for feed_id, state in self._feeds.items()
        ]

    def restore(self, states: Iterable[FeedState]) -> None:
        """Take back what :meth:`state` exported (states of unknown feeds are ignored,
        as are validators of URLs no longer configured)."""
        for saved in states:
            state = self._feeds.get(saved.feed_id)
            if state is None:
                continue
            urls = {state.feed.url, state.feed.long_url}
            state.etags = {u: v for u, v in saved.etags.items() if u in urls}
            state.last_modified = {u: v for u, v in saved.last_modified.items() if u in urls}
            state.fetched = OrderedDict()
            for entry_id in saved.fetched:
                _remember(state.fetched, entry_id)

    def _state(self, feed: Feed) -> _Feed:
        state = self._feeds.get(feed.id)
        if state is None:
            raise KeyError(f"feed {feed.id!r} is not one of this poller's feeds")
        return state


def _oldest_first(links: Sequence[FeedLink]) -> list[FeedLink]:
    """By ``updated``, then feed order reversed (feeds list the newest first);
    undated entries count as the oldest."""
    count = len(links)

    def key(index: int) -> tuple[float, int]:
        updated = links[index].updated
        return (updated.timestamp() if updated is not None else -math.inf, count - index)

    return [links[i] for i in sorted(range(count), key=key)]


def _same_origin(feed_url: str, href: str) -> URL | None:
    """The link resolved against the feed's URL, if it has the feed's scheme, host and
    port; else None."""
    base = URL(feed_url)
    try:
        target = base.join(URL(href))
    except ValueError:
        return None
    if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
        return None
    return target.with_fragment(None)


def _shown(url: str) -> str:
    """A URL fit for logs: no user info, no query (either may carry a token)."""
    try:
        parsed = URL(url)
    except ValueError:
        return "<invalid URL>"
    return str(parsed.with_user(None).with_query(None).with_fragment(None))


def _store(values: dict[str, str], url: str, value: str | None) -> None:
    if value:
        values[url] = value
    else:
        values.pop(url, None)


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, reading at most ``max_bytes + 1`` bytes; larger bodies are refused."""
    if response.content_length is not None and response.content_length > max_bytes:
        raise FetchError(f"the body is larger than the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await response.content.read(min(64 * 1024, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"the body is larger than the limit of {max_bytes} bytes")
