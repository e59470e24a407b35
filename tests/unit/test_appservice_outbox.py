"""The persisted outbox and `yakuba outbox`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from appservice import outbox_cli
from appservice.outbox import OutboxStore, from_ms, to_ms
from bots.store.database import Database

pytestmark = pytest.mark.postgresql

T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(db: Database) -> OutboxStore:
    return OutboxStore(db)


def test_ms_round_trip() -> None:
    when = datetime(2025, 4, 1, 9, 0, 0, 123000, tzinfo=UTC)
    assert from_ms(to_ms(when)) == when
    with pytest.raises(ValueError):
        to_ms(datetime(2025, 4, 1))  # naive


async def test_enqueue_once(store: OutboxStore) -> None:
    assert await store.enqueue("ticketing", "evt1", {"n": 1, "text": "窓口"}, T0)
    assert not await store.enqueue("ticketing", "evt1", {"n": 2}, T0 + timedelta(seconds=1))
    # the same key for another endpoint is another entry
    assert await store.enqueue("booking", "evt1", {"n": 3}, T0)
    due = await store.get_due(T0)
    assert [(e.endpoint, e.payload) for e in due] == [
        ("ticketing", {"n": 1, "text": "窓口"}),
        ("booking", {"n": 3}),
    ]
    entry = due[0]
    assert entry.created_at == T0 and entry.next_attempt_at == T0
    assert entry.attempts == 0 and entry.state == "pending"
    assert entry.last_error is None and entry.delivered_at is None and entry.dead_at is None
    # delivered, the key still cannot come back
    await store.mark_delivered(entry.id, T0)
    assert not await store.enqueue("ticketing", "evt1", {"n": 1}, T0 + timedelta(days=1))


async def test_due_ordering_and_time(store: OutboxStore) -> None:
    await store.enqueue("a", "later", {}, T0 + timedelta(seconds=10))
    await store.enqueue("b", "first", {}, T0)
    await store.enqueue("a", "second", {}, T0 + timedelta(seconds=5))
    assert [e.dedupe_key for e in await store.get_due(T0 + timedelta(seconds=5))] == [
        "first",
        "second",
    ]
    assert [e.dedupe_key for e in await store.get_due(T0 + timedelta(minutes=1))] == [
        "first",
        "second",
        "later",
    ]
    assert len(await store.get_due(T0 + timedelta(minutes=1), limit=2)) == 2
    assert await store.get_due_endpoints(T0) == ["b"]
    assert await store.get_due_endpoints(T0 + timedelta(minutes=1)) == ["a", "b"]
    later = T0 + timedelta(minutes=1)
    assert [e.dedupe_key for e in await store.get_due_for_endpoint("a", later)] == [
        "second",
        "later",
    ]


async def test_failed_dead_retry_drop(store: OutboxStore) -> None:
    await store.enqueue("a", "k", {"x": 1}, T0)
    (entry,) = await store.get_due(T0)
    await store.mark_failed(entry.id, "HTTP 500", T0 + timedelta(seconds=30))
    assert await store.get_due(T0 + timedelta(seconds=29)) == []
    (again,) = await store.get_due(T0 + timedelta(seconds=30))
    assert again.attempts == 1 and again.last_error == "HTTP 500"

    await store.mark_dead(entry.id, "HTTP 503", T0 + timedelta(minutes=1))
    assert await store.get_due(T0 + timedelta(days=1)) == []
    (dead,) = await store.list_entries("dead")
    assert dead.attempts == 2 and dead.state == "dead"
    assert dead.dead_at == T0 + timedelta(minutes=1)
    assert await store.list_entries("pending") == []

    assert await store.retry(entry.id, T0 + timedelta(hours=1))
    (back,) = await store.get_due(T0 + timedelta(hours=1))
    assert back.attempts == 0 and back.dead_at is None and back.state == "pending"

    assert await store.drop(entry.id)
    assert not await store.drop(entry.id)
    assert not await store.retry(entry.id, T0)
    assert await store.get(entry.id) is None


async def test_delivered_cannot_be_retried_or_dropped(store: OutboxStore) -> None:
    await store.enqueue("a", "k", {}, T0)
    (entry,) = await store.get_due(T0)
    await store.mark_delivered(entry.id, T0 + timedelta(seconds=1))
    (done,) = await store.list_entries("delivered")
    assert done.attempts == 1 and done.delivered_at == T0 + timedelta(seconds=1)
    assert not await store.retry(entry.id, T0)
    assert not await store.drop(entry.id)
    # a late failure report does not undo a delivery
    await store.mark_failed(entry.id, "late", T0)
    assert (await store.list_entries("delivered"))[0].last_error is None


async def test_counts(store: OutboxStore) -> None:
    assert await store.pending_count() == 0
    assert await store.oldest_pending_since() is None
    await store.enqueue("a", "1", {}, T0)
    await store.enqueue("a", "2", {}, T0 + timedelta(seconds=1))
    await store.enqueue("b", "3", {}, T0 + timedelta(seconds=2))
    assert await store.pending_count() == 3
    assert await store.oldest_pending_since() == T0
    first, second, _ = await store.get_due(T0 + timedelta(minutes=1))
    await store.mark_delivered(first.id, T0 + timedelta(minutes=1))
    await store.mark_dead(second.id, "gone", T0 + timedelta(minutes=1))
    assert await store.pending_count() == 1
    assert await store.dead_count() == 1
    assert await store.oldest_pending_since() == T0 + timedelta(seconds=2)


# --- yakuba outbox ---------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="yakuba")
    outbox_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["outbox", *argv])


def test_parser() -> None:
    args = parse("list", "-c", "city.yaml")
    assert (args.outbox_command, args.state, str(args.config)) == ("list", "pending", "city.yaml")
    assert parse("list", "--dead", "-c", "x.yaml").state == "dead"
    assert parse("list", "--delivered", "--config", "x.yaml").state == "delivered"
    assert parse("retry", "-c", "x.yaml", "7").id == 7
    assert parse("drop", "4", "-c", "x.yaml").id == 4
    with pytest.raises(SystemExit):
        parse("list", "--dead", "--pending", "-c", "x.yaml")
    with pytest.raises(SystemExit):
        parse("retry", "7")  # -c is required


async def test_cli_list_retry_drop(
    db: Database, store: OutboxStore, capsys: pytest.CaptureFixture[str]
) -> None:
    def now() -> datetime:
        return T0 + timedelta(hours=1)

    assert await outbox_cli.run(parse("list", "-c", "x.yaml"), db, now) == 0
    assert capsys.readouterr().out == "No pending outbox entries.\n"

    await store.enqueue("ticketing", "k1", {}, T0)
    await store.enqueue("booking", "k2", {}, T0)
    first, second = await store.get_due(T0)
    await store.mark_dead(first.id, "HTTP 500\nwith a second line", T0 + timedelta(minutes=5))

    assert await outbox_cli.run(parse("list", "--dead", "-c", "x.yaml"), db, now) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["id", "endpoint", "attempts", "dead", "at", "last", "error"]
    assert out[1].split() == [
        str(first.id),
        "ticketing",
        "1",
        "2025-04-01",
        "09:05:00Z",
        "HTTP",
        "500",
        "with",
        "a",
        "second",
        "line",
    ]
    assert len(out) == 2

    assert await outbox_cli.run(parse("list", "-c", "x.yaml"), db, now) == 0
    out = capsys.readouterr().out.splitlines()
    assert "next attempt" in out[0]
    assert out[1].split()[:2] == [str(second.id), "booking"] and out[1].endswith("-")

    assert await outbox_cli.run(parse("retry", "-c", "x.yaml", str(first.id)), db, now) == 0
    assert f"entry {first.id} is due again" in capsys.readouterr().out
    assert [e.id for e in await store.get_due(now())] == [first.id, second.id]

    assert await outbox_cli.run(parse("drop", "-c", "x.yaml", str(second.id)), db, now) == 0
    assert capsys.readouterr().out == f"Outbox entry {second.id} dropped.\n"
    assert await store.pending_count() == 1

    for command in ("retry", "drop"):
        assert await outbox_cli.run(parse(command, "-c", "x.yaml", "999"), db, now) == 1
        assert capsys.readouterr().out == "No pending or dead outbox entry with id 999.\n"
