"""Handled events and claims: exactly-once command handling across bots and restarts."""

from __future__ import annotations

import pytest

from bots.store.database import Database
from bots.store.events import EventStore
from tests.postgres import StoreOpener

pytestmark = pytest.mark.postgresql


@pytest.fixture
def events(db: Database) -> EventStore:
    return EventStore(db)


async def test_first_claim_wins(events: EventStore) -> None:
    assert await events.claim("$ev1", "command:help", "tasks") is True
    assert await events.claim("$ev1", "command:help", "alerts") is False


async def test_same_bot_gets_its_claim_back(events: EventStore) -> None:
    assert await events.claim("$ev1", "command:help", "tasks") is True
    assert await events.claim("$ev1", "command:help", "tasks") is True
    assert await events.claim("$ev1", "command:help", "alerts") is False
    assert await events.claim("$ev1", "command:help", "tasks") is True


async def test_claims_are_per_event_and_per_purpose(events: EventStore) -> None:
    assert await events.claim("$ev1", "command:help", "tasks") is True
    assert await events.claim("$ev1", "unknown-command", "alerts") is True
    assert await events.claim("$ev2", "command:help", "alerts") is True


async def test_claim_survives_reopening(open_db: StoreOpener) -> None:
    db = await open_db()
    assert await EventStore(db).claim("$ev1", "command:help", "tasks") is True
    await db.close()

    db = await open_db()
    try:
        store = EventStore(db)
        assert await store.claim("$ev1", "command:help", "alerts") is False
        assert await store.claim("$ev1", "command:help", "tasks") is True
    finally:
        await db.close()


async def test_is_handled_after_mark_handled(events: EventStore) -> None:
    assert await events.is_handled("tasks", "$ev1") is False
    await events.mark_handled("tasks", "$ev1", 1000)
    assert await events.is_handled("tasks", "$ev1") is True


async def test_mark_handled_is_idempotent(events: EventStore, db: Database) -> None:
    await events.mark_handled("tasks", "$ev1", 1000)
    await events.mark_handled("tasks", "$ev1", 2000)
    assert await events.is_handled("tasks", "$ev1") is True
    rows = await db.fetchall(
        "SELECT handled_at FROM handled_events WHERE bot = ? AND event_id = ?", ("tasks", "$ev1")
    )
    assert rows == [(1000,)]


async def test_handled_is_per_bot_and_per_event(events: EventStore) -> None:
    await events.mark_handled("tasks", "$ev1", 1000)
    assert await events.is_handled("alerts", "$ev1") is False
    assert await events.is_handled("tasks", "$ev2") is False


async def test_prune_forgets_only_that_bots_old_events(events: EventStore) -> None:
    await events.mark_handled("tasks", "$old", 1_000)
    await events.mark_handled("tasks", "$new", 5_000)
    await events.mark_handled("alerts", "$old", 1_000)
    assert await events.prune("tasks", 2_000) == 1
    assert not await events.is_handled("tasks", "$old")
    assert await events.is_handled("tasks", "$new")
    assert await events.is_handled("alerts", "$old")  # another bot's memory is its own
