"""The provisioned roster in the store (bots/provision/roster.py), the roll call following
it, and personnel notices delivered by the tasks workflow (bots/tasks/moves.py): the
person's open tasks to both departments' leads, once each, nothing reassigned."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bots.config import UserPrefs, parse_config
from bots.provision.model import Notify, Person, RosterAdd, RosterRemove, RosterUpdate
from bots.provision.roster import StaffStore
from bots.rollcall.service import RollCallService
from bots.rollcall.store import RollCallStore
from bots.store.database import Database
from bots.tasks.feature import TaskFeature
from bots.tasks.moves import MoveNotices
from bots.tasks.service import Actor
from bots.tasks.store import TaskFilter
from tests.unit.fakes import (
    BUCHO,
    CATALOG,
    KACHO,
    NOW,
    ROOM,
    ROOM_B,
    SERVER,
    SUZUKI,
    TANAKA,
    YAMADA,
    FakeMessenger,
    TasksWorld,
    add,
    bot_config,
    tasks_world,
)

pytestmark = pytest.mark.postgresql

KAKARICHO = f"@kakaricho:{SERVER}"  # a lead of 建設課 from the staff list


def person(number: str, user: str, department: str, *roles: str) -> Person:
    return Person(number, f"{user[1:4]} さん", "", department, tuple(sorted(roles)), user)


TANAKA_SOUMU = person("001", TANAKA, "soumu")
TANAKA_KENSETSU = person("001", TANAKA, "kensetsu")
KAKARICHO_KENSETSU = person("002", KAKARICHO, "kensetsu", "lead")
YAMADA_SOUMU = person("003", YAMADA, "soumu")


@pytest.fixture
def staff(db: Database) -> StaffStore:
    return StaffStore(db)


@pytest.fixture
def world(db: Database, tmp_path: Path) -> TasksWorld:
    return tasks_world(db, tmp_path)


def moves_of(world: TasksWorld, staff: StaffStore) -> MoveNotices:
    config = world.service._config
    return MoveNotices(staff, world.store, world.messenger, CATALOG, config)


# --- the roster ------------------------------------------------------------------------


async def test_the_roster_records_a_provisioning_in_one_go(staff: StaffStore) -> None:
    await staff.record(
        [RosterAdd(TANAKA_SOUMU), RosterAdd(KAKARICHO_KENSETSU), RosterAdd(YAMADA_SOUMU)], NOW
    )
    assert await staff.active() == [KAKARICHO_KENSETSU, TANAKA_SOUMU, YAMADA_SOUMU]
    assert await staff.leads_of("kensetsu") == [KAKARICHO]
    await staff.record(
        [
            RosterUpdate(TANAKA_KENSETSU, TANAKA_SOUMU),
            RosterRemove(YAMADA_SOUMU),
            Notify(TANAKA_KENSETSU, "soumu", "kensetsu"),
            Notify(YAMADA_SOUMU, "soumu", None),
        ],
        NOW + timedelta(days=1),
    )
    entries = {e.person.employee_number: e for e in await staff.entries()}
    assert entries["001"].person == TANAKA_KENSETSU and entries["001"].active
    assert not entries["003"].active and entries["003"].updated_at is not None
    assert [p.user_id for p in await staff.active()] == [TANAKA, KAKARICHO]
    pending = await staff.pending_notices()
    assert [(n.user_id, n.from_department, n.to_department) for n in pending] == [
        (TANAKA, "soumu", "kensetsu"),
        (YAMADA, "soumu", None),
    ]


async def test_the_roll_call_asks_the_provisioned_staff_and_never_leavers(
    db: Database, staff: StaffStore, tmp_path: Path
) -> None:
    config = parse_config(
        {
            "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
            "bots": {"alerts": {**bot_config(f"@alerts:{SERVER}", "alerts")}},
            "departments": [
                {"id": "soumu", "name": {"ja": "総務課"}, "leads": [KACHO], "staff": [SUZUKI]},
                {"id": "kensetsu", "name": {"ja": "建設課"}, "leads": [BUCHO]},
            ],
        },
        base_dir=tmp_path,
        env={},
    )

    async def resolve(ref: str) -> str | None:
        return None

    service = RollCallService(
        RollCallStore(db), FakeMessenger(f"@alerts:{SERVER}"), CATALOG, config, resolve
    )
    assert await service.roster() == [(SUZUKI, "soumu")]
    await staff.record(
        [RosterAdd(TANAKA_SOUMU), RosterAdd(KAKARICHO_KENSETSU), RosterAdd(YAMADA_SOUMU)], NOW
    )
    assert await service.roster() == [
        (SUZUKI, "soumu"),
        (TANAKA, "soumu"),
        (YAMADA, "soumu"),
        (KAKARICHO, "kensetsu"),
    ]
    await staff.record(
        [RosterRemove(YAMADA_SOUMU), RosterUpdate(TANAKA_KENSETSU, TANAKA_SOUMU)], NOW
    )
    assert await service.roster() == [
        (SUZUKI, "soumu"),
        (TANAKA, "kensetsu"),
        (KAKARICHO, "kensetsu"),
    ]


# --- notices to the leads --------------------------------------------------------------


async def test_a_move_lists_the_open_tasks_to_both_departments_leads_once(
    world: TasksWorld, staff: StaffStore
) -> None:
    first = await add(world, KACHO, "予算資料の作成", [TANAKA], due=NOW + timedelta(days=2))
    await add(world, BUCHO, "道路台帳の確認", [TANAKA, BUCHO], room=ROOM_B)
    done = await add(world, KACHO, "済んだ仕事", [TANAKA])
    await world.service.complete(Actor(KACHO, ROOM), done, NOW)
    await add(world, KACHO, "ほかの人の仕事", [YAMADA])
    await staff.record([RosterAdd(KAKARICHO_KENSETSU)], NOW)
    await staff.record(
        [RosterUpdate(TANAKA_KENSETSU, TANAKA_SOUMU), Notify(TANAKA_KENSETSU, "soumu", "kensetsu")],
        NOW,
    )
    moves = moves_of(world, staff)
    before = len(world.messenger.sent)

    assert await moves.run_due(NOW) == 1
    told = world.messenger.sent[before:]
    assert [s.room_id for s in told] == [
        world.messenger.direct[KACHO],
        world.messenger.direct[BUCHO],
        world.messenger.direct[KAKARICHO],
    ]
    body = told[0].content["body"]
    assert "tan さん (@tanaka:city.example.jp) が 総務課 から 建設課 へ異動しました" in body
    assert "未完了のタスクが 2 件" in body
    assert "予算資料の作成" in body and "道路台帳の確認" in body and "(期限 " in body
    assert "済んだ仕事" not in body and "ほかの人の仕事" not in body
    assert told[0].content["msgtype"] == "m.text"  # a lead is notified (m.notice is not)
    assert all(s.key.startswith("personnel-notice:1:") for s in told)

    assert await moves.run_due(NOW) == 0  # once
    assert len(world.messenger.sent) == before + 3
    tasks, _ = await world.store.find_tasks(TaskFilter(assignee=TANAKA))
    assert {t.id for t in tasks} >= {first.id}  # nothing reassigned


async def test_a_leaver_is_told_to_the_old_departments_leads_only(
    world: TasksWorld, staff: StaffStore
) -> None:
    await add(world, KACHO, "引継ぎ資料", [YAMADA])
    await staff.record([RosterRemove(YAMADA_SOUMU), Notify(YAMADA_SOUMU, "soumu", None)], NOW)
    before = len(world.messenger.sent)
    assert await moves_of(world, staff).run_due(NOW) == 1
    (told,) = world.messenger.sent[before:]
    assert told.room_id == world.messenger.direct[KACHO]
    assert (
        "退職のお知らせ" in told.content["body"] and "総務課 を離れました" in told.content["body"]
    )


async def test_a_lead_who_moves_is_not_told_about_themselves(
    world: TasksWorld, staff: StaffStore
) -> None:
    await add(world, KACHO, "課の予算", [KACHO])
    kacho = person("010", KACHO, "kensetsu", "lead")
    await staff.record([Notify(kacho, "soumu", "kensetsu")], NOW)
    before = len(world.messenger.sent)
    await moves_of(world, staff).run_due(NOW)
    assert [s.room_id for s in world.messenger.sent[before:]] == [world.messenger.direct[BUCHO]]


async def test_without_open_tasks_nobody_is_bothered(world: TasksWorld, staff: StaffStore) -> None:
    await staff.record([Notify(TANAKA_KENSETSU, "soumu", "kensetsu")], NOW)
    assert await moves_of(world, staff).run_due(NOW) == 1
    assert world.messenger.sent == []
    assert await staff.pending_notices() == []


async def test_a_lead_whose_direct_room_is_not_ready_is_told_later_and_nobody_twice(
    world: TasksWorld, staff: StaffStore
) -> None:
    await add(world, KACHO, "予算資料の作成", [TANAKA])
    await staff.record([Notify(TANAKA_KENSETSU, "soumu", "kensetsu")], NOW)
    world.messenger.direct_unready.add(BUCHO)
    moves = moves_of(world, staff)
    before = len(world.messenger.sent)
    assert await moves.run_due(NOW) == 0
    assert len(world.messenger.sent) == before + 1  # the 総務課 lead
    world.messenger.direct_unready.clear()
    assert await moves.run_due(NOW + timedelta(minutes=1)) == 1
    rooms = [s.room_id for s in world.messenger.sent[before:]]
    assert rooms == [world.messenger.direct[KACHO], world.messenger.direct[BUCHO]]


async def test_the_leads_language_is_used(world: TasksWorld, staff: StaffStore) -> None:
    config = world.service._config.model_copy(update={"users": {BUCHO: UserPrefs(language="en")}})
    await add(world, KACHO, "予算資料の作成", [TANAKA])
    await staff.record([Notify(TANAKA_KENSETSU, "soumu", "kensetsu")], NOW)
    moves = MoveNotices(staff, world.store, world.messenger, CATALOG, config)
    await moves.run_due(NOW)
    to_bucho = [s for s in world.messenger.sent if s.room_id == world.messenger.direct[BUCHO]]
    assert to_bucho[0].content["body"].startswith("Personnel move: tan さん (@tanaka")


async def test_the_tasks_feature_delivers_notices_when_due(
    world: TasksWorld, staff: StaffStore
) -> None:
    await add(world, KACHO, "予算資料の作成", [TANAKA])
    await staff.record([Notify(TANAKA_KENSETSU, "soumu", "kensetsu")], NOW)
    later = (NOW + timedelta(minutes=1)).timestamp()
    feature = TaskFeature(world.service, lambda: later, moves_of(world, staff))
    await feature.run_due()
    assert [n.done_at is not None for n in await staff.notices()] == [True]
