"""The dispatcher: each command answered once, by one bot, in the sender's language."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bots.commands.arguments import Number
from bots.commands.builtin import builtin
from bots.commands.context import CommandContext
from bots.commands.dispatcher import Dispatcher, IncomingMessage
from bots.commands.errors import CommandError
from bots.commands.router import Command, CommandSet, Role
from bots.i18n import Catalog
from bots.store.database import Database
from bots.store.events import EventStore

ROOM = "!soumu:city.example.jp"
ALICE = "@alice:city.example.jp"
BOB = "@bob:city.example.jp"
TASKS_BOT = "@tasks:city.example.jp"
ALERTS_BOT = "@alerts:city.example.jp"


@dataclass
class FakeSend:
    calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    async def __call__(self, room_id: str, content: dict[str, Any], key: str) -> str | None:
        self.calls.append((room_id, content, key))
        return f"$ev{len(self.calls)}"

    @property
    def bodies(self) -> list[str]:
        return [content["body"] for _, content, _ in self.calls]


@dataclass
class Calls:
    handled: list[dict[str, Any]] = field(default_factory=list)


def make_feature(calls: Calls) -> CommandSet:
    feature = CommandSet("tasks")

    @feature.command("count", aliases=("数える",), help="help.ping", args=(Number("n"),))
    async def count(ctx: CommandContext, n: int) -> None:
        calls.handled.append({"command": "count", "n": n})
        await ctx.reply_text(f"counted {n}")

    @feature.command("explode", help="help.ping")
    async def explode(ctx: CommandContext) -> None:
        calls.handled.append({"command": "explode"})
        raise RuntimeError("database password is hunter2")

    @feature.command("refuse", help="help.ping")
    async def refuse(ctx: CommandContext) -> None:
        raise CommandError("error.not_a_number", value="x")

    @feature.command("announce", help="help.ping", role=Role.ANNOUNCER)
    async def announce(ctx: CommandContext) -> None:
        calls.handled.append({"command": "announce"})
        await ctx.reply_text("announced")

    return feature


@pytest.fixture
async def events(tmp_path: Path) -> AsyncIterator[EventStore]:
    db = await Database.open(tmp_path / "dispatch.db")
    yield EventStore(db)
    await db.close()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@dataclass
class Roles:
    granted: set[tuple[str, Role]] = field(default_factory=set)
    asked: list[tuple[str, str, Role]] = field(default_factory=list)

    async def __call__(self, user_id: str, room_id: str, role: Role) -> bool:
        self.asked.append((user_id, room_id, role))
        return (user_id, role) in self.granted


def dispatcher(
    events: EventStore,
    catalog: Catalog,
    send: FakeSend,
    *,
    name: str = "tasks",
    user_id: str = TASKS_BOT,
    commands: Sequence[Command] = (),
    roles: Roles | None = None,
    language_for: Callable[[str], str] = lambda _user: "ja",
    now: float = 1_700_000_000.0,
) -> Dispatcher:
    return Dispatcher(
        bot_name=name,
        bot_user_id=user_id,
        commands=[*builtin.commands, *commands],
        catalog=catalog,
        language_for=language_for,
        events=events,
        send=send,
        role_check=roles or Roles(),
        clock=lambda: now,
    )


def message(
    body: str,
    *,
    event_id: str = "$cmd1",
    sender: str = ALICE,
    mentions: tuple[str, ...] = (),
    ts: int = 1_700_000_000_000,
) -> IncomingMessage:
    return IncomingMessage(ROOM, event_id, sender, body, mentions, ts)


async def test_command_is_answered_once_when_handled_twice(
    events: EventStore, catalog: Catalog
) -> None:
    calls, send = Calls(), FakeSend()
    d = dispatcher(events, catalog, send, commands=make_feature(calls).commands)
    msg = message("!count １２")

    assert await d.handle(msg, d.commands) is True
    assert await d.handle(msg, d.commands) is False
    assert calls.handled == [{"command": "count", "n": 12}]
    assert send.bodies == ["counted 12"]


async def test_new_dispatcher_on_same_store_does_not_answer_again(
    events: EventStore, catalog: Catalog
) -> None:
    """A restart (same bot name, same store) does not answer an old command again."""
    calls, send = Calls(), FakeSend()
    first = dispatcher(events, catalog, send, commands=make_feature(calls).commands)
    await first.handle(message("!count 1"), first.commands)
    restarted = dispatcher(events, catalog, send, commands=make_feature(calls).commands)
    assert await restarted.handle(message("!count 1"), restarted.commands) is False
    assert len(send.calls) == 1


async def test_once_per_room_command_is_answered_by_one_bot(
    events: EventStore, catalog: Catalog
) -> None:
    send_tasks, send_alerts = FakeSend(), FakeSend()
    tasks = dispatcher(events, catalog, send_tasks, name="tasks", user_id=TASKS_BOT)
    alerts = dispatcher(events, catalog, send_alerts, name="alerts", user_id=ALERTS_BOT)
    room_commands = [*tasks.commands, *alerts.commands]
    msg = message("！ヘルプ")

    answered = [await tasks.handle(msg, room_commands), await alerts.handle(msg, room_commands)]
    assert answered == [True, False]
    assert len(send_tasks.calls) == 1
    assert send_alerts.calls == []
    assert send_tasks.bodies[0].startswith(catalog.t("ja", "help.header"))


async def test_command_every_bot_has_without_once_per_room_is_answered_by_each(
    events: EventStore, catalog: Catalog
) -> None:
    send_tasks, send_alerts = FakeSend(), FakeSend()
    tasks = dispatcher(events, catalog, send_tasks, name="tasks", user_id=TASKS_BOT)
    alerts = dispatcher(events, catalog, send_alerts, name="alerts", user_id=ALERTS_BOT)
    room_commands = [*tasks.commands, *alerts.commands]
    msg = message("!ping")
    assert await tasks.handle(msg, room_commands) is True
    assert await alerts.handle(msg, room_commands) is True
    assert len(send_tasks.calls) == 1 and len(send_alerts.calls) == 1


async def test_unknown_command_gets_one_reply_across_bots(
    events: EventStore, catalog: Catalog
) -> None:
    send_tasks, send_alerts = FakeSend(), FakeSend()
    tasks = dispatcher(events, catalog, send_tasks, name="tasks", user_id=TASKS_BOT)
    alerts = dispatcher(events, catalog, send_alerts, name="alerts", user_id=ALERTS_BOT)
    room_commands = [*tasks.commands, *alerts.commands]
    msg = message("!nosuch thing")

    await alerts.handle(msg, room_commands)
    await tasks.handle(msg, room_commands)
    bodies = send_tasks.bodies + send_alerts.bodies
    assert bodies == [catalog.t("ja", "error.unknown_command", name="nosuch")]


async def test_unknown_command_known_by_another_bot_gets_no_reply(
    events: EventStore, catalog: Catalog
) -> None:
    calls, send_tasks, send_alerts = Calls(), FakeSend(), FakeSend()
    # the tasks bot knows "count"; the two bots under test do not
    other_bot_commands = make_feature(calls).commands
    help_bot = dispatcher(events, catalog, send_tasks, name="helper", user_id=TASKS_BOT)
    alerts = dispatcher(events, catalog, send_alerts, name="alerts", user_id=ALERTS_BOT)
    room_commands = [*help_bot.commands, *alerts.commands, *other_bot_commands]
    msg = message("!count 3")

    assert await help_bot.handle(msg, room_commands) is False
    assert await alerts.handle(msg, room_commands) is False
    assert send_tasks.calls == [] and send_alerts.calls == []


async def test_unexpected_exception_gives_apology_without_details(
    events: EventStore, catalog: Catalog
) -> None:
    calls, send = Calls(), FakeSend()
    d = dispatcher(events, catalog, send, commands=make_feature(calls).commands)

    assert await d.handle(message("!explode"), d.commands) is True
    assert calls.handled == [{"command": "explode"}]
    assert send.bodies == [catalog.t("ja", "error.internal")]
    _, content, _ = send.calls[0]
    assert "hunter2" not in str(content)
    assert "RuntimeError" not in str(content)
    # and it is not tried again
    assert await d.handle(message("!explode"), d.commands) is False
    assert len(calls.handled) == 1


async def test_command_error_is_sent_in_the_users_language(
    events: EventStore, catalog: Catalog
) -> None:
    calls, send = Calls(), FakeSend()
    d = dispatcher(events, catalog, send, commands=make_feature(calls).commands)
    await d.handle(message("!refuse"), d.commands)
    assert send.bodies == [catalog.t("ja", "error.not_a_number", value="x")]


async def test_usage_error_replies_with_problem_and_usage(
    events: EventStore, catalog: Catalog
) -> None:
    calls, send = Calls(), FakeSend()
    d = dispatcher(events, catalog, send, commands=make_feature(calls).commands)
    await d.handle(message("!count many"), d.commands)

    assert calls.handled == []
    (body,) = send.bodies
    assert catalog.t("ja", "error.bad_argument", argument="n", problem="many") in body
    assert catalog.t("ja", "error.usage", usage="!数える <数値>") in body


async def test_role_restricted_command_denied(events: EventStore, catalog: Catalog) -> None:
    calls, send, roles = Calls(), FakeSend(), Roles()
    d = dispatcher(events, catalog, send, commands=make_feature(calls).commands, roles=roles)

    assert await d.handle(message("!announce"), d.commands) is True
    assert calls.handled == []
    assert roles.asked == [(ALICE, ROOM, Role.ANNOUNCER)]
    role_text = catalog.t("ja", "role.announcer")
    assert send.bodies == [catalog.t("ja", "error.permission", role=role_text)]


async def test_role_restricted_command_allowed(events: EventStore, catalog: Catalog) -> None:
    calls, send = Calls(), FakeSend()
    roles = Roles(granted={(ALICE, Role.ANNOUNCER)})
    d = dispatcher(events, catalog, send, commands=make_feature(calls).commands, roles=roles)
    await d.handle(message("!announce"), d.commands)
    assert calls.handled == [{"command": "announce"}]
    assert send.bodies == ["announced"]


async def test_reply_carries_mentions_and_reply_relation(
    events: EventStore, catalog: Catalog
) -> None:
    send = FakeSend()
    d = dispatcher(events, catalog, send)
    await d.handle(message("!ping", event_id="$the-command"), d.commands)

    ((room_id, content, key),) = send.calls
    assert room_id == ROOM
    assert isinstance(content["m.mentions"], dict)
    assert content["m.mentions"].get("room") is not True
    assert content["m.relates_to"]["m.in_reply_to"]["event_id"] == "$the-command"
    assert "$the-command" in key


async def test_reply_keys_are_stable_and_distinct_per_bot(
    events: EventStore, catalog: Catalog, tmp_path: Path
) -> None:
    """The ledger key of a reply depends only on bot, event and position (crash-safe retry)."""
    send_a, send_b, send_c = FakeSend(), FakeSend(), FakeSend()
    await dispatcher(events, catalog, send_a, name="tasks").handle(message("!ping"), [])
    await dispatcher(events, catalog, send_b, name="alerts", user_id=ALERTS_BOT).handle(
        message("!ping"), []
    )
    other_db = await Database.open(tmp_path / "other.db")
    try:
        await dispatcher(EventStore(other_db), catalog, send_c, name="tasks").handle(
            message("!ping"), []
        )
    finally:
        await other_db.close()
    assert send_a.calls[0][2] == send_c.calls[0][2]
    assert send_a.calls[0][2] != send_b.calls[0][2]


async def test_sender_configured_english_gets_english(events: EventStore, catalog: Catalog) -> None:
    send = FakeSend()
    d = dispatcher(events, catalog, send, language_for=lambda user: "en" if user == BOB else "ja")
    await d.handle(message("!nosuch", event_id="$en", sender=BOB), d.commands)
    await d.handle(message("!nosuch", event_id="$ja", sender=ALICE), d.commands)
    assert send.bodies == [
        catalog.t("en", "error.unknown_command", name="nosuch"),
        catalog.t("ja", "error.unknown_command", name="nosuch"),
    ]
    assert send.bodies[0] != send.bodies[1]


async def test_help_in_english_lists_english_usage(events: EventStore, catalog: Catalog) -> None:
    send = FakeSend()
    d = dispatcher(events, catalog, send, language_for=lambda _user: "en")
    await d.handle(message("!help"), d.commands)
    (body,) = send.bodies
    assert body.startswith(catalog.t("en", "help.header"))
    assert "!ping" in body and "!ピング" not in body


async def test_help_hides_commands_the_sender_may_not_use(
    events: EventStore, catalog: Catalog
) -> None:
    calls, send = Calls(), FakeSend()
    d = dispatcher(events, catalog, send, commands=make_feature(calls).commands)
    await d.handle(message("!help"), d.commands)
    (body,) = send.bodies
    assert "!数える" in body
    assert "!announce" not in body


async def test_ping_reports_latency_from_the_injected_clock(
    events: EventStore, catalog: Catalog
) -> None:
    send = FakeSend()
    d = dispatcher(events, catalog, send, now=1_700_000_000.250)
    await d.handle(message("!ping", ts=1_700_000_000_000), d.commands)
    latency = catalog.t("ja", "ping.latency_ms", ms=250)
    assert send.bodies == [catalog.t("ja", "ping.reply", bot="tasks", latency=latency)]


async def test_own_messages_and_plain_text_are_ignored(
    events: EventStore, catalog: Catalog
) -> None:
    send = FakeSend()
    d = dispatcher(events, catalog, send)
    assert await d.handle(message("!ping", sender=TASKS_BOT), d.commands) is False
    assert await d.handle(message("hello", event_id="$plain"), d.commands) is False
    assert send.calls == []
