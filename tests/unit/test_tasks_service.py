"""TaskService: the task workflow's rules, against a real store and a recording Messenger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bots.commands.errors import CommandError
from bots.commands.router import Role
from bots.config import Config, parse_config
from bots.i18n import Catalog
from bots.store.database import Database
from bots.tasks.calendar import BusinessCalendar
from bots.tasks.model import Priority, Status, Task
from bots.tasks.service import Actor, TaskService
from bots.tasks.store import ReminderPlan, TaskStore

TOKYO = ZoneInfo("Asia/Tokyo")
SERVER = "city.example.jp"
BOT = f"@tasks:{SERVER}"
ROOM = f"!soumu:{SERVER}"
ROOM_B = f"!kensetsu:{SERVER}"
ROOM_C = f"!kikaku:{SERVER}"
TANAKA = f"@tanaka:{SERVER}"  # staff
SUZUKI = f"@suzuki:{SERVER}"  # staff
YAMADA = f"@yamada:{SERVER}"  # staff, not involved in anything
KACHO = f"@kacho:{SERVER}"  # lead of soumu, member of ROOM
BUCHO = f"@bucho:{SERVER}"  # lead of kensetsu, not a member of ROOM
OUTSIDER = f"@outsider:{SERVER}"  # in no room
LEADS = frozenset({KACHO, BUCHO})
CATALOG = Catalog.load()

# Wednesday 25 November 2026, 10:00 in Tokyo
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)
DUE = datetime(2026, 11, 25, 17, 0, tzinfo=TOKYO)


# --- fakes -----------------------------------------------------------------------------


@dataclass
class Sent:
    room_id: str
    content: dict[str, Any]
    key: str
    event_id: str


@dataclass
class Edit:
    room_id: str
    target: str
    content: dict[str, Any]
    key: str
    event_id: str


@dataclass
class FakeMessenger:
    """Records what would happen in Matrix; a repeated key is not sent again (the ledger)."""

    members: dict[str, set[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    pin_allowed: bool = True
    sent: list[Sent] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    pins: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[tuple[str, bytes, str, str, str]] = field(default_factory=list)
    ledger: dict[str, str] = field(default_factory=dict)
    _next: int = 0

    @property
    def user_id(self) -> str:
        return BOT

    def _event_id(self, key: str) -> tuple[str, bool]:
        if key in self.ledger:
            return self.ledger[key], False
        self._next += 1
        self.ledger[key] = f"$ev{self._next}"
        return self.ledger[key], True

    async def send(
        self, room_id: str, content: dict[str, Any], key: str, event_type: str = "m.room.message"
    ) -> str | None:
        assert event_type == "m.room.message"
        event_id, new = self._event_id(key)
        if new:
            self.sent.append(Sent(room_id, content, key, event_id))
        return event_id

    async def edit(
        self, room_id: str, event_id: str, new_content: dict[str, Any], key: str
    ) -> str | None:
        edit_id, new = self._event_id(key)
        if new:
            self.edits.append(Edit(room_id, event_id, new_content, key, edit_id))
        return edit_id

    async def pin(self, room_id: str, event_id: str) -> bool:
        if not self.pin_allowed:
            return False
        self.pins.append((room_id, event_id))
        return True

    async def unpin(self, room_id: str, event_id: str) -> bool:
        return self.pin_allowed

    async def upload(
        self, room_id: str, data: bytes, filename: str, mimetype: str, key: str
    ) -> str | None:
        event_id, new = self._event_id(key)
        if new:
            self.uploads.append((room_id, data, filename, mimetype, key))
        return event_id

    def is_member(self, room_id: str, user_id: str) -> bool:
        return user_id in self.members.get(room_id, set())

    def member_count(self, room_id: str) -> int:
        return self.counts.get(room_id, len(self.members.get(room_id, set())))

    def display_name(self, room_id: str, user_id: str) -> str:
        return user_id.split(":")[0].lstrip("@")

    # -- views

    def sent_with(self, prefix: str) -> list[Sent]:
        return [s for s in self.sent if s.key.startswith(prefix)]

    @property
    def reminders(self) -> list[Sent]:
        return self.sent_with("task-reminder:")

    @property
    def digests(self) -> list[Sent]:
        return self.sent_with("task-digest:")


def role_check_for(leads: frozenset[str]) -> Callable[[str, str, Role], Any]:
    async def role_check(user: str, room: str, role: Role) -> bool:
        return role is Role.LEAD and user in leads

    return role_check


def make_config(tmp_path: Path, **tasks: Any) -> Config:
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "bots": {
            "tasks": {
                "user_id": BOT,
                "password": "secret",
                "pickle_key": "0123456789abcdef",
                "features": ["tasks"],
            }
        },
        "departments": [
            {"id": "soumu", "name": {"ja": "総務課"}, "rooms": [ROOM], "leads": [KACHO]},
            {"id": "kensetsu", "name": {"ja": "建設課"}, "rooms": [ROOM_B], "leads": [BUCHO]},
        ],
        "tasks": tasks,
    }
    return parse_config(data, base_dir=tmp_path, env={})


@dataclass
class World:
    service: TaskService
    messenger: FakeMessenger
    store: TaskStore
    db: Database


Factory = Callable[..., World]


@pytest.fixture
def make_world(db: Database, tmp_path: Path) -> Factory:
    def make(*, pin_allowed: bool = True, **tasks: Any) -> World:
        config = make_config(tmp_path, **tasks)
        messenger = FakeMessenger(
            members={
                ROOM: {BOT, TANAKA, SUZUKI, YAMADA, KACHO},
                ROOM_B: {BOT, TANAKA, BUCHO},
                ROOM_C: {BOT, TANAKA},
            },
            pin_allowed=pin_allowed,
        )
        store = TaskStore(db, ReminderPlan(before=(timedelta(hours=1),)))
        calendar = BusinessCalendar(
            skip_holidays=config.tasks.skip_holidays,
            year_end_closure=config.tasks.year_end_closure,
        )
        service = TaskService(store, messenger, CATALOG, config, calendar, role_check_for(LEADS))
        return World(service, messenger, store, db)

    return make


@pytest.fixture
def world(make_world: Factory) -> World:
    return make_world(digest="off")


async def add(
    w: World,
    by: str,
    title: str = "予算資料の作成",
    assignees: Sequence[str] = (),
    *,
    room: str = ROOM,
    due: datetime | None = None,
    now: datetime = NOW,
    tags: Sequence[str] = (),
) -> Task:
    task = await w.service.add(Actor(by, room), title, assignees, due, Priority.NORMAL, tags, now)
    fresh = await w.store.get_task(task.id)
    assert fresh is not None
    return fresh


async def reload(w: World, task: Task) -> Task:
    fresh = await w.store.get_task(task.id)
    assert fresh is not None
    return fresh


async def count_tasks(w: World) -> int:
    row = await w.db.fetchone("SELECT COUNT(*) FROM tasks")
    assert row is not None
    return int(row[0])


def mentions(content: dict[str, Any]) -> list[str]:
    return list(content["m.mentions"].get("user_ids", []))


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


# --- board -----------------------------------------------------------------------------


async def test_board_is_posted_pinned_and_edited_in_place(world: World) -> None:
    task = await add(world, TANAKA)
    event_id, pinned = await world.service.post_board(ROOM, NOW)
    assert pinned is True
    [board] = world.messenger.sent_with("task-board:")
    assert board.event_id == event_id
    assert board.content["msgtype"] == "m.notice"
    assert "[1] 予算資料の作成" in board.content["body"]
    assert world.messenger.pins == [(ROOM, event_id)]

    await world.service.complete(Actor(TANAKA, ROOM), task, NOW + timedelta(minutes=1))
    board_edits = [e for e in world.messenger.edits if e.target == event_id]
    assert len(board_edits) == 1
    assert "[1] 予算資料の作成" not in board_edits[0].content["body"]
    assert "未完了のタスクはありません" in board_edits[0].content["body"]

    await add(world, TANAKA, "二件目", now=NOW + timedelta(minutes=2))
    board_edits = [e for e in world.messenger.edits if e.target == event_id]
    assert len(board_edits) == 2
    assert "[2] 二件目" in board_edits[1].content["body"]

    again, pinned = await world.service.post_board(ROOM, NOW + timedelta(minutes=3))
    assert again == event_id
    assert pinned is True
    assert len(world.messenger.sent_with("task-board")) == 1
    assert len([e for e in world.messenger.edits if e.target == event_id]) == 3


async def test_board_not_pinned_when_not_allowed(make_world: Factory) -> None:
    w = make_world(digest="off", pin_allowed=False)
    event_id, pinned = await w.service.post_board(ROOM, NOW)
    assert event_id is not None
    assert pinned is False
    assert w.messenger.pins == []
    assert len(w.messenger.sent_with("task-board:")) == 1


async def test_board_of_another_room_is_not_touched(world: World) -> None:
    board_id, _ = await world.service.post_board(ROOM, NOW)
    await add(world, TANAKA, room=ROOM_B)
    assert [e for e in world.messenger.edits if e.target == board_id] == []


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


# --- small things ----------------------------------------------------------------------


async def test_is_direct_by_member_count(world: World) -> None:
    world.messenger.counts["!dm:city.example.jp"] = 2
    assert world.service.is_direct("!dm:city.example.jp")
    assert not world.service.is_direct(ROOM)


async def test_upload_goes_through_the_messenger(world: World) -> None:
    await world.service.upload(ROOM, b"a,b\n", "tasks.csv", "text/csv", "export:1")
    await world.service.upload(ROOM, b"a,b\n", "tasks.csv", "text/csv", "export:1")
    assert world.messenger.uploads == [(ROOM, b"a,b\n", "tasks.csv", "text/csv", "export:1")]


# --- a task message that had to wait in the outbox ---------------------------------------


class QueueingMessenger(FakeMessenger):
    """The homeserver is away: sends are queued (None) until `online` is set."""

    online: bool = False

    async def send(
        self, room_id: str, content: dict[str, Any], key: str, event_type: str = "m.room.message"
    ) -> str | None:
        if not self.online:
            return None
        return await super().send(room_id, content, key, event_type)


async def test_queued_task_message_is_linked_once_it_is_accepted(
    world: World, tmp_path: Path
) -> None:
    queueing = QueueingMessenger(members=world.messenger.members)
    service = TaskService(
        world.store,
        queueing,
        CATALOG,
        make_config(tmp_path, digest="off"),
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
