"""The audit log: privileged commands recorded with who, what, where, when and result by
the dispatcher; entries chained so a change made behind yakuba's back is found; CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bots.audit import AuditLog, record_config_load, to_csv
from bots.commands.arguments import Rest
from bots.commands.builtin import builtin
from bots.commands.context import CommandContext
from bots.commands.dispatcher import Dispatcher, IncomingMessage
from bots.commands.errors import CommandError
from bots.commands.router import CommandSet, Role
from bots.i18n import Catalog
from bots.store.database import Database
from bots.store.events import EventStore

pytestmark = pytest.mark.postgresql

ROOM = "!bousai:city.example.jp"
OFFICER = "@bousai:city.example.jp"
STAFF = "@tanaka:city.example.jp"
BOT = "@alerts:city.example.jp"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def commands() -> CommandSet:
    feature = CommandSet("rollcall")

    @feature.command(
        "anpi start", aliases=("安否 開始",), help="help.ping", role=Role.DISASTER_OFFICER
    )
    async def start(ctx: CommandContext) -> None:
        await ctx.reply_text("started")

    @feature.command("anpi close", help="help.ping", role=Role.DISASTER_OFFICER)
    async def close(ctx: CommandContext) -> None:
        raise CommandError("rollcall.error.none_open")

    @feature.command("anpi", help="help.ping")
    async def answer(ctx: CommandContext) -> None:
        await ctx.reply_text("thanks")

    @feature.command("task assign", help="help.ping", args=(Rest("who"),))
    async def assign(ctx: CommandContext, who: str) -> None:
        if ctx.mentions and set(ctx.mentions) - {ctx.sender}:
            ctx.privilege = Role.LEAD  # as the tasks commands do for assigning others
        await ctx.reply_text("ok")

    @feature.command("task export", help="help.ping", audit=True)
    async def export(ctx: CommandContext) -> None:
        await ctx.reply_text("file")

    return feature


async def sent(room_id: str, content: dict[str, Any], key: str) -> str | None:
    return "$reply"


def make_dispatcher(db: Database, clock: Clock) -> Dispatcher:
    async def role_check(user: str, room: str, role: Role) -> bool:
        return user == OFFICER

    return Dispatcher(
        "alerts",
        BOT,
        [*builtin.commands, *commands().commands],
        Catalog.load(),
        lambda _user: "ja",
        EventStore(db),
        sent,
        role_check,
        clock,
        AuditLog(db, clock),
    )


def message(n: int, sender: str, body: str, mentions: tuple[str, ...] = ()) -> IncomingMessage:
    return IncomingMessage(ROOM, f"$m{n}", sender, body, mentions, int(T0 * 1000))


async def test_privileged_commands_are_recorded_with_their_result(db: Database) -> None:
    clock = Clock()
    dispatcher = make_dispatcher(db, clock)
    await dispatcher.handle(message(1, OFFICER, "!安否 開始"), [])
    clock.now += 60
    await dispatcher.handle(message(2, STAFF, "!anpi start"), [])
    await dispatcher.handle(message(3, OFFICER, "!anpi close"), [])
    await dispatcher.handle(message(4, STAFF, "!anpi 無事"), [])  # no privilege: not recorded
    await dispatcher.handle(message(5, STAFF, "!ping"), [])

    entries = await AuditLog(db, clock).entries()
    assert [(e.actor, e.action, e.result) for e in entries] == [
        (OFFICER, "anpi start", "ok"),
        (STAFF, "anpi start", "denied"),
        (OFFICER, "anpi close", "error:rollcall.error.none_open"),
    ]
    first = entries[0]
    assert first.room_id == ROOM and first.detail == "!安否 開始"
    assert first.at == datetime.fromtimestamp(T0, UTC)
    assert entries[1].at == datetime.fromtimestamp(T0 + 60, UTC)


async def test_assigning_others_and_exports_are_recorded(db: Database) -> None:
    clock = Clock()
    dispatcher = make_dispatcher(db, clock)
    await dispatcher.handle(message(1, STAFF, "!task assign 1 me", (STAFF,)), [])
    await dispatcher.handle(message(2, STAFF, "!task assign 1 suzuki", ("@suzuki:c",)), [])
    await dispatcher.handle(message(3, STAFF, "!task export"), [])
    entries = await AuditLog(db, clock).entries()
    assert [(e.action, e.detail) for e in entries] == [
        ("task assign", "!task assign 1 suzuki"),
        ("task export", "!task export"),
    ]


async def test_filters(db: Database) -> None:
    clock = Clock()
    log = AuditLog(db, clock)
    await log.record(OFFICER, "anpi start", ROOM, "!安否 開始")
    clock.now += 3600
    await log.record("alert:jma:x", "anpi start", ROOM, "#2 震度6弱")
    await log.record(STAFF, "announce", "!soumu:c", "!お知らせ …")
    assert [e.actor for e in await log.entries(action="anpi")] == [OFFICER, "alert:jma:x"]
    assert await log.entries(action="anp") == []  # whole words only
    assert [e.actor for e in await log.entries(actor=STAFF)] == [STAFF]
    later = datetime.fromtimestamp(T0 + 1, UTC)
    assert len(await log.entries(since=later)) == 2
    assert len(await log.entries(until=later)) == 1
    assert len(await log.entries(limit=2)) == 2


async def test_a_change_behind_yakubas_back_is_found(db: Database) -> None:
    clock = Clock()
    log = AuditLog(db, clock)
    for n in range(4):
        await log.record(OFFICER, "anpi start", ROOM, f"#{n}")
    assert await log.verify() is None
    await db.execute("UPDATE audit_log SET actor = ? WHERE id = 2", (STAFF,))
    assert await log.verify() == 2
    await db.execute("UPDATE audit_log SET actor = ? WHERE id = 2", (OFFICER,))
    assert await log.verify() is None
    await db.execute("DELETE FROM audit_log WHERE id = 3")
    assert await log.verify() == 4  # the entry after the gap no longer chains


async def test_csv_for_records_retention(db: Database) -> None:
    clock = Clock()
    log = AuditLog(db, clock)
    await log.record(STAFF, "announce", ROOM, '=HYPERLINK("http://x")')
    data = to_csv(await log.entries())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["id", "at", "actor", "action", "room", "detail", "result"]
    assert rows[1][1] == "2027-01-15T08:00:00+00:00"
    assert rows[1][5].startswith("'=")


async def test_the_config_read_at_start_is_recorded_with_its_digest(
    db: Database, tmp_path: Path
) -> None:
    config = tmp_path / "yakuba.yaml"
    config.write_text("homeserver: {}\n", encoding="utf-8")
    log = AuditLog(db, Clock())
    await record_config_load(log, config)
    config.write_text("homeserver: {url: x}\n", encoding="utf-8")
    await record_config_load(log, config)
    first, second = await log.entries(action="config load")
    assert first.actor == "system" and first.detail.startswith(f"{config} sha256=")
    assert (first.room_id, first.result) == ("", "ok")
    assert first.detail != second.detail  # a changed config is told apart
    assert await log.verify() is None
