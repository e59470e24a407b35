"""TaskStore on a real (migrated) SQLite database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bots.store.database import Database
from bots.tasks.model import Priority, Status, Task
from bots.tasks.store import ReminderPlan, TaskFilter, TaskStore

pytestmark = pytest.mark.postgresql

ROOM_A = "!soumu:city.example.jp"
ROOM_B = "!kensetsu:city.example.jp"
TANAKA = "@tanaka:city.example.jp"
SUZUKI = "@suzuki:city.example.jp"
SATO = "@sato:city.example.jp"
NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # Wednesday 10:00 in Tokyo


@pytest.fixture
def store(db: Database) -> TaskStore:
    return TaskStore(db, ReminderPlan(before=(timedelta(hours=1),)))


async def add(
    store: TaskStore,
    title: str,
    *,
    room: str = ROOM_A,
    assignees: Sequence[str] = (TANAKA,),
    due: datetime | None = None,
    tags: Sequence[str] = (),
    creator: str = TANAKA,
) -> Task:
    return await store.create_task(room, title, creator, assignees, due, Priority.NORMAL, tags, NOW)


def numbers(tasks: Sequence[Task]) -> list[int]:
    return [t.number for t in tasks]


async def test_numbering_is_per_room(store: TaskStore) -> None:
    a1 = await add(store, "一")
    b1 = await add(store, "one", room=ROOM_B)
    a2 = await add(store, "二")
    a3 = await add(store, "三")
    assert [a1.number, a2.number, a3.number] == [1, 2, 3]
    assert b1.number == 1
    assert len({a1.id, a2.id, a3.id, b1.id}) == 4


async def test_numbers_are_not_reused_after_delete(store: TaskStore) -> None:
    await add(store, "一")
    two = await add(store, "二")
    await store.set_status(two, Status.DELETED, TANAKA, NOW)
    three = await add(store, "三")
    assert three.number == 3


async def test_create_stores_everything(store: TaskStore) -> None:
    due = NOW + timedelta(days=1)
    task = await store.create_task(
        ROOM_A,
        "資料作成",
        SATO,
        [TANAKA, SUZUKI, TANAKA],
        due,
        Priority.HIGH,
        ["予算", "予算"],
        NOW,
    )
    again = await store.get_task(task.id)
    assert again == task
    assert task.title == "資料作成"
    assert task.creator == SATO
    assert set(task.assignees) == {TANAKA, SUZUKI}
    assert len(task.assignees) == 2
    assert task.tags == ("予算",)
    assert task.due == due
    assert task.priority is Priority.HIGH
    assert task.status is Status.OPEN
    assert task.created_at == task.updated_at == NOW
    assert task.event_id is None


async def test_get_task_by_number_skips_deleted(store: TaskStore) -> None:
    task = await add(store, "一")
    await store.set_event_id(task.id, "$task1")
    assert await store.get_task_by_number(ROOM_A, 1) == await store.get_task(task.id)
    assert await store.get_task_by_number(ROOM_B, 1) is None
    assert (await store.get_task_by_event("$task1")) is not None
    await store.set_status(task, Status.DELETED, TANAKA, NOW)
    assert await store.get_task_by_number(ROOM_A, 1) is None
    assert await store.get_task_by_event("$task1") is None
    deleted = await store.get_task(task.id)
    assert deleted is not None and deleted.status is Status.DELETED


async def test_get_task_by_number_returns_done_tasks(store: TaskStore) -> None:
    task = await add(store, "一")
    await store.set_status(task, Status.DONE, SUZUKI, NOW + timedelta(minutes=1))
    found = await store.get_task_by_number(ROOM_A, 1)
    assert found is not None
    assert found.status is Status.DONE
    assert found.done_by == SUZUKI
    assert found.done_at == NOW + timedelta(minutes=1)


async def test_find_by_assignee_and_tag(store: TaskStore) -> None:
    await add(store, "一", assignees=[TANAKA], tags=["予算"])
    await add(store, "二", assignees=[SUZUKI], tags=["議会"])
    await add(store, "三", assignees=[TANAKA, SUZUKI], tags=["予算", "議会"])
    await add(store, "四", room=ROOM_B, assignees=[SUZUKI], tags=["予算"])

    tasks, total = await store.find_tasks(TaskFilter(room_id=ROOM_A, assignee=TANAKA))
    assert (numbers(tasks), total) == ([1, 3], 2)
    tasks, total = await store.find_tasks(TaskFilter(assignee=SUZUKI))
    assert sorted((t.room_id, t.number) for t in tasks) == [
        (ROOM_B, 1),
        (ROOM_A, 2),
        (ROOM_A, 3),
    ]
    assert total == 3
    tasks, total = await store.find_tasks(TaskFilter(room_id=ROOM_A, tag="議会"))
    assert (numbers(tasks), total) == ([2, 3], 2)
    tasks, total = await store.find_tasks(TaskFilter(tag="予算", assignee=SUZUKI))
    assert sorted(t.title for t in tasks) == ["三", "四"]
    assert total == 2
    assert await store.find_tasks(TaskFilter(tag="なし")) == ([], 0)


async def test_find_by_due_window(store: TaskStore) -> None:
    await add(store, "none")
    await add(store, "early", due=NOW + timedelta(hours=2))
    await add(store, "edge", due=NOW + timedelta(hours=5))
    await add(store, "late", due=NOW + timedelta(days=2))

    cut = NOW + timedelta(hours=5)
    before, n_before = await store.find_tasks(TaskFilter(room_id=ROOM_A, due_before=cut))
    assert ([t.title for t in before], n_before) == (["early"], 1)  # strictly before
    after, n_after = await store.find_tasks(TaskFilter(room_id=ROOM_A, due_from=cut))
    assert ([t.title for t in after], n_after) == (["edge", "late"], 2)  # at or after
    window, _ = await store.find_tasks(
        TaskFilter(room_id=ROOM_A, due_from=NOW, due_before=NOW + timedelta(days=1))
    )
    assert [t.title for t in window] == ["early", "edge"]


async def test_find_by_status(store: TaskStore) -> None:
    one = await add(store, "一")
    two = await add(store, "二")
    await add(store, "三")
    await store.set_status(one, Status.DONE, TANAKA, NOW)
    await store.set_status(two, Status.DELETED, TANAKA, NOW)

    open_, _ = await store.find_tasks(TaskFilter(room_id=ROOM_A))
    assert numbers(open_) == [3]
    done, _ = await store.find_tasks(TaskFilter(room_id=ROOM_A, statuses=(Status.DONE,)))
    assert numbers(done) == [1]
    both, total = await store.find_tasks(
        TaskFilter(room_id=ROOM_A, statuses=(Status.OPEN, Status.DONE))
    )
    assert (sorted(numbers(both)), total) == ([1, 3], 2)
    every, total = await store.find_tasks(TaskFilter(room_id=ROOM_A, statuses=tuple(Status)))
    assert sorted(numbers(every)) == [1, 2, 3]
    assert total == 3


async def test_find_limit_keeps_the_total_count(store: TaskStore) -> None:
    for i in range(7):
        await add(store, f"task {i}")
    tasks, total = await store.find_tasks(TaskFilter(room_id=ROOM_A, limit=3))
    assert numbers(tasks) == [1, 2, 3]
    assert total == 7


async def test_find_orders_due_first_undated_last(store: TaskStore) -> None:
    await add(store, "undated 1")
    await add(store, "in two days", due=NOW + timedelta(days=2))
    await add(store, "undated 3")
    await add(store, "in one hour", due=NOW + timedelta(hours=1))
    await add(store, "tomorrow", due=NOW + timedelta(days=1))
    tasks, total = await store.find_tasks(TaskFilter(room_id=ROOM_A))
    assert [t.title for t in tasks] == [
        "in one hour",
        "tomorrow",
        "in two days",
        "undated 1",
        "undated 3",
    ]
    assert total == 5
    first, total = await store.find_tasks(TaskFilter(room_id=ROOM_A, limit=4))
    assert [t.title for t in first] == ["in one hour", "tomorrow", "in two days", "undated 1"]
    assert total == 5


async def test_next_reminder_at(store: TaskStore) -> None:
    assert await store.next_reminder_at() is None
    await add(store, "undated")
    assert await store.next_reminder_at() is None

    later = await add(store, "later", due=NOW + timedelta(days=1))
    assert await store.next_reminder_at() == NOW + timedelta(days=1) - timedelta(hours=1)
    soon = await add(store, "soon", due=NOW + timedelta(minutes=30))
    # one hour before has passed already: no "before" reminder, the first is the due time
    assert await store.next_reminder_at() == NOW + timedelta(minutes=30)

    await store.mark_reminder_sent(soon.id, "due", NOW + timedelta(minutes=30))
    assert await store.next_reminder_at() == NOW + timedelta(minutes=90)  # its overdue one

    await store.set_status(soon, Status.DONE, TANAKA, NOW)
    assert await store.next_reminder_at() == NOW + timedelta(hours=23)

    await store.set_due(later, None, TANAKA, NOW)
    assert await store.next_reminder_at() is None


async def test_due_reminders_rows(store: TaskStore) -> None:
    due = NOW + timedelta(hours=3)
    task = await add(store, "一", due=due)
    assert await store.get_due_reminders(due - timedelta(hours=1, seconds=1)) == []
    found = await store.get_due_reminders(due + timedelta(hours=1))
    assert [(r.kind, r.due_at) for r in found] == [
        ("before:3600", due - timedelta(hours=1)),
        ("due", due),
        ("overdue", due + timedelta(hours=1)),
    ]
    assert all(r.task == task for r in found)


async def test_rooms_with_open_tasks(store: TaskStore) -> None:
    assert await store.rooms_with_open_tasks() == []
    b = await add(store, "b", room=ROOM_B)
    a = await add(store, "a")
    await add(store, "c", room="!cc:city.example.jp")
    assert await store.rooms_with_open_tasks() == sorted([ROOM_A, ROOM_B, "!cc:city.example.jp"])
    await store.set_status(b, Status.DONE, TANAKA, NOW)
    await store.set_status(a, Status.DELETED, TANAKA, NOW)
    assert await store.rooms_with_open_tasks() == ["!cc:city.example.jp"]


async def test_comment_stored_once_per_event(store: TaskStore) -> None:
    task = await add(store, "一")
    assert await store.add_comment(task, SUZUKI, "確認しました", NOW, "$c1")
    assert not await store.add_comment(task, SUZUKI, "確認しました", NOW, "$c1")
    assert await store.add_comment(task, TANAKA, "ありがとう", NOW, None)
    comments = await store.get_comments(task.id)
    assert [(c.author, c.text, c.event_id) for c in comments] == [
        (SUZUKI, "確認しました", "$c1"),
        (TANAKA, "ありがとう", None),
    ]
