"""TaskService on a timer (run_due): reminders, daily digests and task messages that had to
wait in the outbox; against a real store and a recording Messenger."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bots.store.database import Database
from bots.tasks.calendar import BusinessCalendar
from bots.tasks.model import Priority, Status
from bots.tasks.service import Actor, TaskService
from tests.unit.fakes import (
    CATALOG,
    KACHO,
    LEADS,
    NOW,
    ROOM,
    ROOM_B,
    SUZUKI,
    TANAKA,
    TOKYO,
    FakeMessenger,
    add,
    mentions,
    role_check_for,
    tasks_config,
    tasks_world,
)
from tests.unit.fakes import TASKS_BOT as BOT
from tests.unit.fakes import TASKS_ROOM_C as ROOM_C
from tests.unit.fakes import TasksFactory as Factory
from tests.unit.fakes import TasksWorld as World
from tests.unit.fakes import reload_task as reload

pytestmark = pytest.mark.postgresql

DUE = datetime(2026, 11, 25, 17, 0, tzinfo=TOKYO)


@pytest.fixture
def make_world(db: Database, tmp_path: Path) -> Factory:
    def make(**options: Any) -> World:
        return tasks_world(db, tmp_path, **options)

    return make


@pytest.fixture
def world(make_world: Factory) -> World:
    return make_world(digest="off")


# --- reminders -------------------------------------------------------------------------


async def test_reminders_before_and_at_due(world: World) -> None:
    task = await add(world, KACHO, assignees=[TANAKA, SUZUKI], due=DUE)
    run = world.service.run_due

    assert await run(DUE - timedelta(hours=1, minutes=1)) == 0
    assert await run(DUE - timedelta(hours=1, seconds=1)) == 0
    assert world.messenger.reminders == []

    assert await run(DUE - timedelta(minutes=59)) == 1
    [before] = world.messenger.reminders
    assert ":before:3600:" in before.key
    assert before.room_id == ROOM
    assert mentions(before.content) == sorted([TANAKA, SUZUKI])
    assert "あと 1時間" in before.content["body"]
    assert "遅延送信" not in before.content["body"]
    assert before.content["m.relates_to"] == {"m.in_reply_to": {"event_id": task.event_id}}

    assert await run(DUE - timedelta(minutes=59)) == 0
    assert await run(DUE - timedelta(minutes=1)) == 0
    assert len(world.messenger.reminders) == 1

    assert await run(DUE + timedelta(minutes=5)) == 1
    due = world.messenger.reminders[-1]
    assert ":due:" in due.key
    assert mentions(due.content) == sorted([TANAKA, SUZUKI])
    assert "期限になりました" in due.content["body"]
    assert "遅延送信" not in due.content["body"]  # exactly 5 minutes is not late
    assert await run(DUE + timedelta(minutes=30)) == 0
    assert len(world.messenger.reminders) == 2


async def test_reminder_sent_late_says_so(world: World) -> None:
    await add(world, TANAKA, due=DUE)
    assert await world.service.run_due(DUE + timedelta(minutes=30)) == 2  # before + due
    before, due = world.messenger.reminders
    late = CATALOG.t("ja", "task.reminder.late", at="11月25日(水) 17:00")
    assert "遅延送信" in late
    assert due.content["body"].endswith("\n" + late)
    assert CATALOG.t("ja", "task.reminder.late", at="11月25日(水) 16:00") in before.content["body"]


async def test_overdue_escalates_to_the_creator(world: World) -> None:
    await add(world, KACHO, assignees=[TANAKA], due=DUE)
    await world.service.run_due(DUE + timedelta(minutes=1))
    assert await world.service.run_due(DUE + timedelta(minutes=61)) == 1
    overdue = world.messenger.reminders[-1]
    assert ":overdue:" in overdue.key
    assert mentions(overdue.content) == [KACHO]
    assert "期限を過ぎています" in overdue.content["body"]
    assert "担当: tanaka" in overdue.content["body"]


async def test_overdue_of_self_assigned_task_escalates_to_leads_in_the_room(
    world: World,
) -> None:
    await add(world, TANAKA, due=DUE)
    await world.service.run_due(DUE + timedelta(minutes=1))
    assert await world.service.run_due(DUE + timedelta(minutes=61)) == 1
    overdue = world.messenger.reminders[-1]
    assert ":overdue:" in overdue.key
    # KACHO leads a department and is in the room; BUCHO leads another and is not
    assert mentions(overdue.content) == [KACHO]


async def test_no_reminders_for_a_done_task(world: World) -> None:
    task = await add(world, TANAKA, due=DUE)
    await world.service.complete(Actor(TANAKA, ROOM), task, DUE - timedelta(hours=2))
    assert await world.service.run_due(DUE + timedelta(hours=3)) == 0
    assert world.messenger.reminders == []


async def test_no_reminders_for_a_deleted_task(world: World) -> None:
    task = await add(world, TANAKA, due=DUE)
    await world.service.delete(Actor(TANAKA, ROOM), task, DUE - timedelta(hours=2))
    assert await world.service.run_due(DUE + timedelta(hours=3)) == 0
    assert world.messenger.reminders == []


async def test_changing_the_due_time_replaces_unsent_reminders(world: World) -> None:
    task = await add(world, TANAKA, due=DUE)
    later = DUE + timedelta(days=1)
    await world.service.set_due(Actor(TANAKA, ROOM), task, later, NOW + timedelta(minutes=1))
    assert await world.service.run_due(DUE - timedelta(minutes=59)) == 0
    assert await world.service.run_due(DUE + timedelta(hours=2)) == 0
    assert world.messenger.reminders == []

    assert await world.service.run_due(later - timedelta(minutes=59)) == 1
    [before] = world.messenger.reminders
    assert ":before:3600:" in before.key
    assert "11月26日(木) 17:00" in before.content["body"]


async def test_clearing_the_due_time_drops_reminders(world: World) -> None:
    task = await add(world, TANAKA, due=DUE)
    await world.service.set_due(Actor(TANAKA, ROOM), task, None, NOW)
    assert await world.service.run_due(DUE + timedelta(days=1)) == 0
    assert await world.store.next_reminder_at() is None


async def test_moving_the_due_time_after_a_sent_reminder_reminds_again(world: World) -> None:
    task = await add(world, TANAKA, due=DUE)
    assert await world.service.run_due(DUE - timedelta(minutes=59)) == 1
    later = DUE + timedelta(days=1)
    await world.service.set_due(Actor(TANAKA, ROOM), task, later, DUE - timedelta(minutes=30))
    assert await world.service.run_due(DUE + timedelta(hours=2)) == 0
    assert await world.service.run_due(later - timedelta(minutes=59)) == 1
    assert len(world.messenger.reminders) == 2


async def test_reopening_replans_reminders(world: World) -> None:
    task = await add(world, TANAKA, due=DUE)
    done = await world.service.complete(Actor(TANAKA, ROOM), task, DUE - timedelta(hours=3))
    await world.service.reopen(Actor(TANAKA, ROOM), done, DUE - timedelta(hours=2))
    assert await world.service.run_due(DUE - timedelta(minutes=59)) == 1
    assert await world.service.run_due(DUE + timedelta(minutes=1)) == 1
    before, due = world.messenger.reminders
    assert ":before:3600:" in before.key
    assert ":due:" in due.key
    assert mentions(due.content) == [TANAKA]


async def test_reopening_after_the_due_time_sends_due_and_overdue(world: World) -> None:
    task = await add(world, TANAKA, due=DUE)
    await world.service.run_due(DUE - timedelta(minutes=59))  # "before" went out
    done = await world.service.complete(Actor(TANAKA, ROOM), task, DUE - timedelta(minutes=30))
    assert await world.service.run_due(DUE + timedelta(minutes=5)) == 0
    await world.service.reopen(Actor(TANAKA, ROOM), done, DUE + timedelta(minutes=10))
    assert await world.service.run_due(DUE + timedelta(minutes=11)) == 1
    due = world.messenger.reminders[-1]
    assert ":due:" in due.key
    assert "遅延送信" in due.content["body"]
    assert await world.service.run_due(DUE + timedelta(minutes=71)) == 1
    assert ":overdue:" in world.messenger.reminders[-1].key
    assert len(world.messenger.reminders) == 3


async def test_reopening_drops_before_reminders_whose_time_has_passed(world: World) -> None:
    """A task done before its "1 hour before" reminder and reopened after that time.

    BUG: set_status(OPEN) replans without deleting the unsent reminders (set_due does),
    and ReminderPlan.rows leaves out "before" rows that have passed, so the stale unsent
    row stays: the room is told "期限まであと 1時間" 30 minutes before the due time.
    """
    task = await add(world, TANAKA, due=DUE)
    done = await world.service.complete(Actor(TANAKA, ROOM), task, DUE - timedelta(hours=2))
    await world.service.reopen(Actor(TANAKA, ROOM), done, DUE - timedelta(minutes=30))
    assert await world.service.run_due(DUE - timedelta(minutes=29)) == 0
    assert world.messenger.reminders == []


async def test_reopened_task_reminder_that_was_sent_before_reaches_the_room(
    world: World,
) -> None:
    """Reopening resets sent reminders (sent_at = NULL), so they go out again.

    BUG: the resent reminder has the same ledger key as the first one (task id, kind and
    the unchanged due time), so the ledger returns the old event id and nothing is sent,
    while run_due counts it as sent and the store marks it sent.
    """
    task = await add(world, TANAKA, due=DUE)
    assert await world.service.run_due(DUE - timedelta(minutes=59)) == 1  # "before"
    assert await world.service.run_due(DUE + timedelta(minutes=1)) == 1  # "due"
    done = await world.service.complete(Actor(TANAKA, ROOM), task, DUE + timedelta(minutes=10))
    await world.service.reopen(Actor(TANAKA, ROOM), done, DUE + timedelta(minutes=20))
    assert await world.service.run_due(DUE + timedelta(minutes=21)) == 1  # "due" again
    assert len(world.messenger.reminders) == 3


# --- digest ----------------------------------------------------------------------------


def tokyo(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


async def digest_world(make_world: Factory, created: datetime, **tasks: Any) -> World:
    w = make_world(digest="45 8 * * mon-fri", **tasks)
    await add(w, TANAKA, "総務の仕事", now=created)
    await add(w, TANAKA, "建設の仕事", room=ROOM_B, now=created)
    closed = await add(w, TANAKA, "企画の仕事", room=ROOM_C, now=created)
    await w.service.complete(Actor(TANAKA, ROOM_C), closed, created)
    return w


async def test_digest_on_a_working_day(make_world: Factory) -> None:
    w = await digest_world(make_world, tokyo(2026, 11, 25, 10, 0))
    assert await w.service.run_due(tokyo(2026, 11, 26, 8, 44)) == 0
    assert w.messenger.digests == []

    assert await w.service.run_due(tokyo(2026, 11, 26, 8, 46)) == 2
    digests = w.messenger.digests
    assert sorted(d.room_id for d in digests) == sorted([ROOM, ROOM_B])
    assert {d.key for d in digests} == {
        f"task-digest:{ROOM}:2026-11-26",
        f"task-digest:{ROOM_B}:2026-11-26",
    }
    for digest in digests:
        assert digest.content["msgtype"] == "m.text"
        assert "本日のタスク(11/26)" in digest.content["body"]
        assert "未完了: 1件" in digest.content["body"]

    assert await w.service.run_due(tokyo(2026, 11, 26, 9, 0)) == 0
    assert await w.service.run_due(tokyo(2026, 11, 26, 23, 59)) == 0
    assert len(w.messenger.digests) == 2


async def test_digest_lists_overdue_and_today(make_world: Factory) -> None:
    w = make_world(digest="45 8 * * mon-fri")
    created = tokyo(2026, 11, 25, 10, 0)
    await add(w, TANAKA, "昨日まで", due=tokyo(2026, 11, 25, 17, 0), now=created)
    await add(w, KACHO, "今日まで", [SUZUKI], due=tokyo(2026, 11, 26, 17, 0), now=created)
    await add(w, TANAKA, "来週まで", due=tokyo(2026, 12, 2, 17, 0), now=created)
    await w.service.run_due(tokyo(2026, 11, 26, 8, 46))
    [digest] = w.messenger.digests
    body = digest.content["body"]
    assert "未完了: 3件" in body
    assert "期限切れ: 1件" in body
    assert "今日が期限: 1件" in body
    assert "来週まで" not in body
    assert mentions(digest.content) == sorted([TANAKA, SUZUKI])


async def test_no_digest_on_a_national_holiday(make_world: Factory) -> None:
    w = await digest_world(make_world, tokyo(2026, 11, 20, 10, 0))
    # 勤労感謝の日, a Monday
    assert await w.service.run_due(tokyo(2026, 11, 23, 8, 46)) == 0
    assert await w.service.run_due(tokyo(2026, 11, 23, 12, 0)) == 0
    assert w.messenger.digests == []
    assert w.service.digest_due(tokyo(2026, 11, 23, 12, 0)) is None


async def test_no_digest_on_saturday(make_world: Factory) -> None:
    w = await digest_world(make_world, tokyo(2026, 11, 25, 10, 0))
    assert await w.service.run_due(tokyo(2026, 11, 28, 8, 46)) == 0
    assert await w.service.run_due(tokyo(2026, 11, 28, 12, 0)) == 0
    assert w.messenger.digests == []


async def test_no_digest_in_the_year_end_closure(make_world: Factory) -> None:
    w = await digest_world(make_world, tokyo(2026, 12, 25, 10, 0))
    # a Tuesday
    assert await w.service.run_due(tokyo(2026, 12, 29, 8, 46)) == 0
    assert w.messenger.digests == []


async def test_digest_in_the_year_end_when_the_hall_is_open(make_world: Factory) -> None:
    w = await digest_world(make_world, tokyo(2026, 12, 25, 10, 0), year_end_closure=False)
    assert await w.service.run_due(tokyo(2026, 12, 29, 8, 46)) == 2
    assert {d.key.rsplit(":", 1)[1] for d in w.messenger.digests} == {"2026-12-29"}


async def test_digest_off(make_world: Factory) -> None:
    w = await digest_world(make_world, tokyo(2026, 11, 25, 10, 0))
    off = make_world(digest="off")
    assert off.service.digest_due(tokyo(2026, 11, 26, 8, 46)) is None
    assert await off.service.run_due(tokyo(2026, 11, 26, 8, 46)) == 0
    assert await off.service.run_due(tokyo(2026, 11, 27, 12, 0)) == 0
    assert off.messenger.digests == []
    assert w.messenger.digests == []


async def test_digest_due_uses_the_city_time_zone(make_world: Factory) -> None:
    w = make_world(digest="45 8 * * mon-fri")
    # 23:46 UTC on Wednesday is 08:46 on Thursday in Tokyo
    assert w.service.digest_due(tokyo(2026, 11, 26, 8, 46).astimezone(ZoneInfo("UTC"))) == (
        "2026-11-26"
    )
    assert w.service.digest_due(tokyo(2026, 11, 26, 8, 44)) is None


# --- a task message that had to wait in the outbox ---------------------------------------


async def test_queued_task_message_is_linked_once_it_is_accepted(
    world: World, tmp_path: Path
) -> None:
    # the homeserver is away: sends are queued (None) until `online` is set
    queueing = FakeMessenger(BOT, room_members=world.messenger.room_members, online=False)
    service = TaskService(
        world.store,
        queueing,
        CATALOG,
        tasks_config(tmp_path, digest="off"),
        BusinessCalendar(),
        role_check_for(LEADS),
    )
    task = await service.add(Actor(TANAKA, ROOM), "書類", (), None, Priority.NORMAL, (), NOW)
    assert (await reload(world, task)).event_id is None
    await service.run_due(NOW)  # still away: nothing linked, nothing lost
    assert (await reload(world, task)).event_id is None
    queueing.online = True
    await service.run_due(NOW + timedelta(minutes=1))
    linked = await reload(world, task)
    assert linked.event_id is not None
    # now ✅ on that message completes the task
    done = await service.on_reaction(ROOM, TANAKA, linked.event_id, "✅", NOW)
    assert done is not None and done.status is Status.DONE
    assert [s.key for s in queueing.sent].count(f"task-message:{task.id}") == 1
