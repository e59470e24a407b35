"""What the feed pollers remember survives a restart (through the store)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from appservice.alertfeeds import AlertFeeds
from appservice.feeds import FeedState
from appservice.metrics import Metrics
from bots.config import parse_config
from bots.store.database import Database

pytestmark = pytest.mark.postgresql

FEED = "https://mirror.city.lg.jp/jma/extra.xml"


async def _feeds(db: Database, tmp_path: Path, session: aiohttp.ClientSession) -> AlertFeeds:
    config = parse_config(
        {
            "homeserver": {"url": "http://127.0.0.1:8008", "server_name": "localhost"},
            "bots": {
                "a": {"user_id": "@a:localhost", "password": "p", "pickle_key": "0123456789abcdef"}
            },
            "alerts": {"feeds": [{"id": "jma", "url": FEED}]},
        },
        base_dir=tmp_path,
        env={},
    )

    async def resolve(ref: str) -> str | None:
        return None

    return AlertFeeds(
        config, session, {}, resolve, lambda room: None, Metrics(), lambda: 1_800_000_000.0, db
    )


async def test_feed_state_is_saved_and_restored(db: Database, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        first = await _feeds(db, tmp_path, session)
        remembered = FeedState(
            "jma", etags={FEED: '"abc"'}, last_modified={}, fetched=["urn:entry:1", "urn:entry:2"]
        )
        first.poller.restore([remembered])
        await first.save()
        await first.save()  # saving again replaces, never duplicates

        restarted = await _feeds(db, tmp_path, session)
        assert restarted.poller.state()[0].fetched == []
        await restarted.restore()
        assert restarted.poller.state() == [remembered]
