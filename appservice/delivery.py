"""Delivering the outbox: signed POSTs, retried with backoff, dead letters at the end.

Each endpoint is worked on by at most one coroutine at a time, in order of creation, so a
slow or hanging endpoint holds up only its own entries. After a failure the rest of that
endpoint's due entries wait for the next round (the endpoint is probably down; each entry
then backs off on its own), which also keeps a run bounded by one timeout per endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import aiohttp

from appservice.outbox import OutboxEntry, OutboxStore
from appservice.signing import signed_headers
from bots.config_bridge import Endpoint, RetryPolicy

__all__ = ["Deliverer", "webhook_id"]

log = logging.getLogger(__name__)

_BATCH = 100
_MIN_DELAY_S = 1.0


def webhook_id(entry: OutboxEntry) -> str:
    """The ``webhook-id`` of an entry: the same on every retry, so receivers can dedupe."""
    digest = hashlib.sha256(f"{entry.endpoint}\0{entry.dedupe_key}".encode()).hexdigest()
    return f"yk_{entry.id}_{digest[:16]}"


def _body(entry: OutboxEntry) -> bytes:
    return json.dumps(entry.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _describe(exc: BaseException, endpoint: Endpoint) -> str:
    # never str(exc): aiohttp puts the URL (which may hold credentials) in its messages
    if isinstance(exc, TimeoutError):
        return f"timed out after {endpoint.timeout.total_seconds():g} s"
    reason = type(exc).__name__
    os_error = getattr(exc, "os_error", exc)
    if isinstance(os_error, OSError) and os_error.errno:
        # os.strerror, not .strerror: asyncio writes the address into the latter
        reason = f"{reason}: {os.strerror(os_error.errno)}"
    return f"request failed ({reason})"


class Deliverer:
    def __init__(
        self,
        store: OutboxStore,
        endpoints: Mapping[str, Endpoint],
        retry: RetryPolicy,
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._endpoints = dict(endpoints)
        self._retry = retry
        self._session = session
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        #: clock() when an attempt last completed, whatever its outcome (for readiness)
        self.last_progress_at: float | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- running ---------------------------------------------------------------------

    async def run_once(self) -> int:
        """Work on every endpoint with entries due now, concurrently; wait for all of them.

        Returns how many entries were handled (delivered, failed or dead-lettered).
        """
        endpoints = await self._store.get_due_endpoints(self._now())
        counts = await asyncio.gather(*(self._drain(name) for name in endpoints))
        return sum(counts)

    async def run_forever(self, wake: asyncio.Event, idle_s: float = 1.0) -> None:
        """Keep delivering until cancelled: each endpoint in its own task, so a hanging one
        never delays the others; look again when ``wake`` is set or after ``idle_s``."""
        workers: dict[str, asyncio.Task[int]] = {}
        try:
            while True:
                wake.clear()
                try:
                    due = await self._store.get_due_endpoints(self._now())
                except Exception:
                    log.exception("Could not read the outbox")
                    due = []
                for name in due:
                    if name not in workers:
                        task = asyncio.create_task(self._drain(name), name=f"outbox:{name}")
                        workers[name] = task
                        task.add_done_callback(functools.partial(self._done, workers, name))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), idle_s)
        finally:
            tasks = list(workers.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    def _done(workers: dict[str, asyncio.Task[int]], name: str, task: asyncio.Task[int]) -> None:
        if workers.get(name) is task:
            del workers[name]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("Delivering to endpoint %s stopped", name, exc_info=exc)

    # --- one endpoint ----------------------------------------------------------------

    async def _drain(self, name: str) -> int:
        """Deliver one endpoint's due entries in order until none is left or one fails."""
        handled = 0
        while True:
            batch = await self._store.get_due_for_endpoint(name, self._now(), _BATCH)
            for entry in batch:
                handled += 1
                if not await self._attempt(entry):
                    return handled
            if len(batch) < _BATCH:
                return handled

    async def _attempt(self, entry: OutboxEntry) -> bool:
        """One delivery attempt, recorded in the store; True if it was delivered."""
        endpoint = self._endpoints.get(entry.endpoint)
        if endpoint is None:
            gone = f"endpoint {entry.endpoint!r} is no longer configured"
            log.warning("Outbound webhook %d is a dead letter: %s", entry.id, gone)
            await self._store.mark_dead(entry.id, gone, self._now())
            self.last_progress_at = self._clock()
            return True  # says nothing about the endpoint's other entries: go on

        error = await self._post(endpoint, entry)
        now = self._clock()
        self.last_progress_at = now
        when = datetime.fromtimestamp(now, UTC)
        if error is None:
            await self._store.mark_delivered(entry.id, when)
            return True

        attempts = entry.attempts + 1
        if attempts >= self._retry.max_attempts:
            log.warning(
                "Outbound webhook %d to endpoint %s failed (attempt %d of %d): %s;"
                " giving up, it is now a dead letter",
                entry.id,
                endpoint.id,
                attempts,
                self._retry.max_attempts,
                error,
            )
            await self._store.mark_dead(entry.id, error, when)
            return False
        delay = self._backoff(entry.attempts)
        log.warning(
            "Outbound webhook %d to endpoint %s failed (attempt %d of %d): %s;"
            " next attempt in %.1f s",
            entry.id,
            endpoint.id,
            attempts,
            self._retry.max_attempts,
            error,
            delay,
        )
        await self._store.mark_failed(entry.id, error, datetime.fromtimestamp(now + delay, UTC))
        return False

    def _backoff(self, failures_before: int) -> float:
        """Full jitter over an exponential cap, never under a second."""
        base = self._retry.base_delay.total_seconds()
        ceiling = self._retry.max_delay.total_seconds()
        cap = min(ceiling, base * 2.0 ** min(failures_before, 64))
        return max(_MIN_DELAY_S, self._rng.uniform(0.0, cap))

    async def _post(self, endpoint: Endpoint, entry: OutboxEntry) -> str | None:
        """POST the entry; None on a 2xx answer, else what went wrong (no secrets)."""
        body = _body(entry)
        try:
            headers = signed_headers(
                endpoint.secret.get(), webhook_id(entry), int(self._clock()), body
            )
        except ValueError as exc:  # a malformed whsec_ secret; the message omits it
            return f"cannot sign: {exc}"
        headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=endpoint.timeout.total_seconds())
        try:
            async with self._session.post(
                endpoint.url, data=body, headers=headers, allow_redirects=False, timeout=timeout
            ) as response:
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return _describe(exc, endpoint)
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"HTTP {status} (redirects are not followed)"
        return f"HTTP {status}"
