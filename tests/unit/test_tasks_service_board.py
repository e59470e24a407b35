"""TaskService: the pinned task board, direct chats and uploads, against a real store and a
recording Messenger."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.store.database import Database
from bots.tasks.service import Actor
from tests.unit.fakes import (
    NOW,
    ROOM,
    ROOM_B,
    TANAKA,
    add,
    tasks_world,
)
from tests.unit.fakes import TasksFactory as Factory
from tests.unit.fakes import TasksWorld as World

pytestmark = pytest.mark.postgresql


@pytest.fixture
def make_world(db: Database, tmp_path: Path) -> Factory:
    def make(**options: Any) -> World:
        return tasks_world(db, tmp_path, **options)

    return make


@pytest.fixture
def world(make_world: Factory) -> World:
    return make_world(digest="off")


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


# --- small things ----------------------------------------------------------------------


async def test_is_direct_by_member_count(world: World) -> None:
    world.messenger.counts["!dm:city.example.jp"] = 2
    assert world.service.is_direct("!dm:city.example.jp")
    assert not world.service.is_direct(ROOM)


async def test_upload_goes_through_the_messenger(world: World) -> None:
    await world.service.upload(ROOM, b"a,b\n", "tasks.csv", "text/csv", "export:1")
    await world.service.upload(ROOM, b"a,b\n", "tasks.csv", "text/csv", "export:1")
    assert world.messenger.uploads == [(ROOM, b"a,b\n", "tasks.csv", "text/csv", "export:1")]
