"""TaskService, changing a task: add, complete, reopen, delete, due, reactions, replies and
the events each change writes; against a real store and a recording Messenger."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bots.commands.errors import CommandError
from bots.store.database import Database
from bots.tasks.model import Priority, Status
from bots.tasks.service import Actor
from tests.unit.fakes import (
    KACHO,
    NOW,
    ROOM,
    ROOM_B,
    SERVER,
    SUZUKI,
    TANAKA,
    TOKYO,
    YAMADA,
    add,
    count_tasks,
    mentions,
    tasks_world,
)
from tests.unit.fakes import TasksFactory as Factory
from tests.unit.fakes import TasksWorld as World
from tests.unit.fakes import reload_task as reload

pytestmark = pytest.mark.postgresql

OUTSIDER = f"@outsider:{SERVER}"  # in no room
DUE = datetime(2026, 11, 25, 17, 0, tzinfo=TOKYO)


@pytest.fixture
def make_world(db: Database, tmp_path: Path) -> Factory:
    def make(**options: Any) -> World:
        return tasks_world(db, tmp_path, **options)

    return make


@pytest.fixture
def world(make_world: Factory) -> World:
    return make_world(digest="off")


# --- add -------------------------------------------------------------------------------


async def test_add_for_oneself(world: World) -> None:
    task = await add(world, TANAKA, due=DUE, tags=["予算"])
    assert task.number == 1
    assert task.creator == TANAKA
    assert task.assignees == (TANAKA,)
    assert task.due == DUE
    assert task.tags == ("予算",)
    assert task.status is Status.OPEN

    [message] = world.messenger.sent
    assert message.room_id == ROOM
    assert message.key == f"task-message:{task.id}"
    assert message.content["msgtype"] == "m.text"
    assert mentions(message.content) == [TANAKA]
    assert "[1] 予算資料の作成" in message.content["body"]
    assert task.event_id == message.event_id == "$ev1"
    assert await world.store.get_task_by_event("$ev1") == task


async def test_add_for_someone_else_by_staff_is_refused(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await add(world, TANAKA, assignees=[SUZUKI])
    assert info.value.key == "task.error.assign_others"
    with pytest.raises(CommandError) as info:
        await add(world, TANAKA, assignees=[TANAKA, SUZUKI])
    assert info.value.key == "task.error.assign_others"
    assert await count_tasks(world) == 0
    assert world.messenger.sent == []
    assert world.messenger.edits == []


async def test_add_for_a_non_member_is_refused(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await add(world, KACHO, assignees=[TANAKA, OUTSIDER])
    assert info.value.key == "task.error.not_member"
    assert info.value.params == {"user": OUTSIDER}
    assert await count_tasks(world) == 0
    assert world.messenger.sent == []


async def test_lead_may_assign_others(world: World) -> None:
    task = await add(world, KACHO, assignees=[TANAKA, SUZUKI])
    assert task.creator == KACHO
    assert set(task.assignees) == {TANAKA, SUZUKI}
    [message] = world.messenger.sent
    assert mentions(message.content) == sorted([TANAKA, SUZUKI])


async def test_lead_role_is_not_enough_in_a_room_without_the_assignee(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await add(world, KACHO, assignees=[SUZUKI], room=ROOM_B)
    assert info.value.key == "task.error.not_member"
    assert await count_tasks(world) == 0


# --- complete, reopen ------------------------------------------------------------------


async def test_complete_by_assignee_edits_the_task_message(world: World) -> None:
    task = await add(world, KACHO, assignees=[TANAKA])
    done_at = NOW + timedelta(minutes=5)
    done = await world.service.complete(Actor(TANAKA, ROOM), task, done_at)
    assert done.status is Status.DONE
    assert done.done_by == TANAKA
    assert done.done_at == done_at

    [edit] = world.messenger.edits
    assert edit.room_id == ROOM
    assert edit.target == task.event_id
    assert "✅" in edit.content["body"]
    assert "✅ を付けると完了" not in edit.content["body"]
    assert "<del>" in edit.content["formatted_body"]


async def test_complete_by_creator_who_is_not_assignee(world: World) -> None:
    task = await world.store.create_task(
        ROOM, "議事録", TANAKA, [SUZUKI], None, Priority.NORMAL, (), NOW
    )
    done = await world.service.complete(Actor(TANAKA, ROOM), task, NOW)
    assert done.status is Status.DONE


async def test_complete_by_lead(world: World) -> None:
    task = await add(world, TANAKA)
    done = await world.service.complete(Actor(KACHO, ROOM), task, NOW)
    assert done.status is Status.DONE
    assert done.done_by == KACHO


async def test_complete_by_uninvolved_staff_is_refused(world: World) -> None:
    task = await add(world, TANAKA)
    with pytest.raises(CommandError) as info:
        await world.service.complete(Actor(YAMADA, ROOM), task, NOW)
    assert info.value.key == "task.error.not_yours"
    assert info.value.params == {"number": 1}
    assert (await reload(world, task)).status is Status.OPEN
    assert world.messenger.edits == []


async def test_complete_twice_and_reopen_rules(world: World) -> None:
    task = await add(world, TANAKA)
    actor = Actor(TANAKA, ROOM)
    with pytest.raises(CommandError) as info:
        await world.service.reopen(actor, task, NOW)
    assert info.value.key == "task.error.not_done"

    done = await world.service.complete(actor, task, NOW + timedelta(minutes=1))
    with pytest.raises(CommandError) as info:
        await world.service.complete(actor, done, NOW + timedelta(minutes=2))
    assert info.value.key == "task.error.not_open"

    with pytest.raises(CommandError) as info:
        await world.service.reopen(Actor(YAMADA, ROOM), done, NOW + timedelta(minutes=3))
    assert info.value.key == "task.error.not_yours"

    reopened = await world.service.reopen(actor, done, NOW + timedelta(minutes=4))
    assert reopened.status is Status.OPEN
    assert reopened.done_at is None
    assert reopened.done_by is None
    assert len(world.messenger.edits) == 2
    assert "✅ を付けると完了" in world.messenger.edits[-1].content["body"]


async def test_deleted_task_cannot_be_completed(world: World) -> None:
    task = await add(world, TANAKA)
    deleted = await world.service.delete(Actor(TANAKA, ROOM), task, NOW)
    with pytest.raises(CommandError) as info:
        await world.service.complete(Actor(TANAKA, ROOM), deleted, NOW)
    assert info.value.key == "task.error.not_open"


# --- delete, set_due -------------------------------------------------------------------


async def test_delete_of_anothers_task_needs_lead(world: World) -> None:
    task = await add(world, TANAKA)
    with pytest.raises(CommandError) as info:
        await world.service.delete(Actor(SUZUKI, ROOM), task, NOW)
    assert info.value.key == "task.error.lead_only"
    assert info.value.params == {"action": "削除"}
    assert (await reload(world, task)).status is Status.OPEN

    deleted = await world.service.delete(Actor(KACHO, ROOM), task, NOW)
    assert deleted.status is Status.DELETED
    assert await world.store.get_task_by_number(ROOM, 1) is None
    assert world.messenger.edits[-1].target == task.event_id


async def test_delete_own_task(world: World) -> None:
    task = await add(world, TANAKA)
    deleted = await world.service.delete(Actor(TANAKA, ROOM), task, NOW)
    assert deleted.status is Status.DELETED


async def test_set_due_of_anothers_task_needs_lead(world: World) -> None:
    task = await add(world, KACHO, assignees=[TANAKA])
    with pytest.raises(CommandError) as info:
        await world.service.set_due(Actor(TANAKA, ROOM), task, DUE, NOW)
    assert info.value.key == "task.error.lead_only"
    assert info.value.params == {"action": "期限変更"}
    assert (await reload(world, task)).due is None

    changed = await world.service.set_due(Actor(KACHO, ROOM), task, DUE, NOW)
    assert changed.due == DUE


async def test_set_due_of_own_task(world: World) -> None:
    task = await add(world, TANAKA)
    changed = await world.service.set_due(Actor(TANAKA, ROOM), task, DUE, NOW)
    assert changed.due == DUE
    cleared = await world.service.set_due(
        Actor(TANAKA, ROOM), changed, None, NOW + timedelta(minutes=1)
    )
    assert cleared.due is None
    assert len(world.messenger.edits) == 2


# --- reactions and thread replies ------------------------------------------------------


async def test_check_mark_from_assignee_completes(world: World) -> None:
    task = await add(world, KACHO, assignees=[TANAKA])
    assert task.event_id is not None
    done = await world.service.on_reaction(ROOM, TANAKA, task.event_id, "✅", NOW)
    assert done is not None
    assert done.status is Status.DONE
    assert done.done_by == TANAKA
    assert len(world.messenger.edits) == 1


@pytest.mark.parametrize(
    ("room", "sender", "key", "target"),
    [
        (ROOM, YAMADA, "✅", None),  # a stranger
        (ROOM, TANAKA, "👍", None),  # another emoji
        (ROOM, TANAKA, "✅", "$unknown"),  # not a task message
        (ROOM_B, TANAKA, "✅", None),  # the same event id named in another room
    ],
)
async def test_reactions_that_do_nothing(
    world: World, room: str, sender: str, key: str, target: str | None
) -> None:
    task = await add(world, KACHO, assignees=[TANAKA])
    assert task.event_id is not None
    result = await world.service.on_reaction(room, sender, target or task.event_id, key, NOW)
    assert result is None
    assert (await reload(world, task)).status is Status.OPEN
    assert world.messenger.edits == []


async def test_check_mark_on_a_done_task_does_nothing(world: World) -> None:
    task = await add(world, TANAKA)
    assert task.event_id is not None
    await world.service.complete(Actor(TANAKA, ROOM), task, NOW)
    edits = len(world.messenger.edits)
    assert await world.service.on_reaction(ROOM, TANAKA, task.event_id, "✔️", NOW) is None
    assert len(world.messenger.edits) == edits


async def test_thread_reply_is_stored_once(world: World) -> None:
    task = await add(world, TANAKA)
    assert task.event_id is not None
    reply = (ROOM, SUZUKI, task.event_id, " 確認しました ", "$reply1", NOW)
    assert await world.service.on_thread_reply(*reply) is True
    assert await world.service.on_thread_reply(*reply) is False
    comments = await world.store.get_comments(task.id)
    assert [(c.author, c.text, c.event_id) for c in comments] == [
        (SUZUKI, "確認しました", "$reply1")
    ]
    kinds = [kind for kind, _, _ in await world.store.get_events(task.id)]
    assert kinds.count("commented") == 1


async def test_thread_reply_elsewhere_is_ignored(world: World) -> None:
    task = await add(world, TANAKA)
    assert task.event_id is not None
    assert not await world.service.on_thread_reply(ROOM_B, SUZUKI, task.event_id, "x", "$r1", NOW)
    assert not await world.service.on_thread_reply(ROOM, SUZUKI, "$nothing", "x", "$r2", NOW)
    assert not await world.service.on_thread_reply(ROOM, SUZUKI, task.event_id, "  ", "$r3", NOW)
    assert await world.store.get_comments(task.id) == []


# --- events for internal systems -------------------------------------------------------


async def test_task_events_outbox(world: World) -> None:
    task = await add(world, KACHO, assignees=[TANAKA], due=DUE, tags=["予算"])
    t1 = NOW + timedelta(minutes=1)
    task = await world.service.assign(Actor(KACHO, ROOM), task, [SUZUKI], [], t1)
    task = await world.service.set_due(Actor(KACHO, ROOM), task, DUE + timedelta(days=1), t1)
    task = await world.service.complete(Actor(TANAKA, ROOM), task, t1)
    task = await world.service.delete(Actor(KACHO, ROOM), task, t1)

    events = await world.store.get_events(task.id)
    assert [(kind, actor) for kind, actor, _ in events] == [
        ("created", KACHO),
        ("assigned", KACHO),
        ("due_changed", KACHO),
        ("done", TANAKA),
        ("deleted", KACHO),
    ]
    payloads = [payload for _, _, payload in events]
    assert all(p["task_id"] == task.id and p["number"] == 1 for p in payloads)
    assert payloads[0] == {
        "task_id": task.id,
        "room_id": ROOM,
        "number": 1,
        "title": "予算資料の作成",
        "assignees": [TANAKA],
        "due": DUE.astimezone(ZoneInfo("UTC")).isoformat(),
        "priority": "normal",
        "tags": ["予算"],
    }
    assert payloads[1]["added"] == [SUZUKI]
    assert payloads[1]["removed"] == []
    assert datetime.fromisoformat(payloads[2]["due"]) == DUE + timedelta(days=1)

    rows = await world.db.fetchall(
        "SELECT id, at, forwarded_at FROM task_events WHERE task_id = ? ORDER BY id", (task.id,)
    )
    ids = [int(r[0]) for r in rows]
    assert len(ids) == len(set(ids)) == 5
    assert ids == sorted(ids)
    assert all(r[2] is None for r in rows)  # not forwarded yet


async def test_refused_change_writes_no_event(world: World) -> None:
    task = await add(world, TANAKA)
    with pytest.raises(CommandError):
        await world.service.complete(Actor(YAMADA, ROOM), task, NOW)
    with pytest.raises(CommandError):
        await world.service.delete(Actor(SUZUKI, ROOM), task, NOW)
    assert [kind for kind, _, _ in await world.store.get_events(task.id)] == ["created"]
