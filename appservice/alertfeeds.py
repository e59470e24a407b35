"""Alert feeds on the appservice: the poller, what it fetches going to the alerts bot's
workflow, and a stalled feed told to the disaster office (once, and once on recovery)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime

import aiohttp

from appservice.feeds import FeedPoller, FeedState
from appservice.metrics import Metrics
from bots.alerts.feature import AlertFeature
from bots.alerts.xmlsafe import AlertParseError
from bots.bot import Bot
from bots.config import Config
from bots.matrix.content import message
from bots.store.database import Database

log = logging.getLogger(__name__)


def alert_feature(bots: Mapping[str, Bot]) -> AlertFeature | None:
    """The alerts workflow of whichever bot serves it."""
    return next((f for b in bots.values() for f in b.features if isinstance(f, AlertFeature)), None)


class AlertFeeds:
    def __init__(
        self,
        config: Config,
        session: aiohttp.ClientSession,
        bots: Mapping[str, Bot],
        resolve_room: Callable[[str], Awaitable[str | None]],
        bot_in: Callable[[str], Bot | None],
        metrics: Metrics,
        clock: Callable[[], float],
        db: Database,
    ) -> None:
        self._config = config
        self._bots = bots
        self._resolve_room = resolve_room
        self._bot_in = bot_in
        self._metrics = metrics
        self._clock = clock
        self._stop = asyncio.Event()
        self._db = db
        self.poller = FeedPoller(
            config.alerts.feeds, session, self._on_feed_document, self._on_feed_alarm, clock
        )

    async def restore(self) -> None:
        """What the pollers remembered before a restart: no document is fetched again, and
        the next requests are conditional."""
        rows = await self._db.fetchall("SELECT feed_id, state FROM feed_state")
        self.poller.restore(FeedState(**json.loads(state)) for _, state in rows)

    async def save(self) -> None:
        async with self._db.transaction() as tx:
            for state in self.poller.state():
                await tx.execute(
                    "INSERT INTO feed_state (feed_id, state) VALUES (?, ?) ON CONFLICT (feed_id)"
                    " DO UPDATE SET state = excluded.state",
                    (state.feed_id, json.dumps(asdict(state))),
                )

    def start(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(self.poller.run(self._stop), name="alert-feeds"),
            asyncio.create_task(self._watch(), name="alert-feed-alarms"),
        ]

    def stop(self) -> None:
        self._stop.set()

    async def _on_feed_document(self, data: bytes, source: str) -> None:
        feature = alert_feature(self._bots)
        if feature is None:
            log.warning("feed document %s dropped: no bot serves the alerts feature", source)
            return
        try:
            outcomes = await feature.service.ingest_document(
                data, datetime.fromtimestamp(self._clock(), UTC)
            )
        except AlertParseError as exc:
            log.warning("feed document %s refused: %s", source, exc)
            return
        for outcome in outcomes:
            log.info(
                "feed document %s: %s (%d rooms) %s",
                source,
                outcome.result,
                outcome.rooms,
                outcome.reason,
            )

    async def _on_feed_alarm(self, feed_id: str, alarm: bool, error: str | None) -> None:
        """Tell the disaster office once when a feed stalls, and once when it recovers."""
        self._metrics.feed_alarm.labels(feed_id).set(1 if alarm else 0)
        office = self._config.alerts.office_room
        feature = alert_feature(self._bots)
        if office is None or feature is None:
            log.warning("alert feed %s %s", feed_id, "stalled" if alarm else "recovered")
            return
        room_id = await self._resolve_room(office)
        bot = self._bot_in(room_id) if room_id else None
        if bot is None or room_id is None:
            return
        feed = next(f for f in self._config.alerts.feeds if f.id == feed_id)
        lang = self._config.language
        catalog = bot.catalog
        if alarm:
            minutes = int(feed.alarm_after.total_seconds() // 60)
            text = catalog.t(
                lang, "alert.feed.stalled", feed=feed_id, minutes=minutes, error=error or "-"
            )
        else:
            text = catalog.t(lang, "alert.feed.recovered", feed=feed_id)
        key = f"feed-alarm:{feed_id}:{alarm}:{int(self._clock())}"
        await bot.messenger.send(room_id, message(text, msgtype="m.text"), key)

    async def _watch(self) -> None:
        """A feed whose requests hang is still reported: alarms are checked on a timer too."""
        while not self._stop.is_set():
            await asyncio.sleep(15)
            await self.poller.check_alarms()
            await self.save()
