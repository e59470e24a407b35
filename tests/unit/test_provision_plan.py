"""The provisioning planner (bots/provision/plan.py), a pure function over plain values:
first run, second run (nothing), a move, a hire, a leaver, deactivation on and off, and
what it leaves alone. `simulate` does to plain values what the applier does on Synapse."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

from bots.i18n import Catalog
from bots.provision.model import (
    Account,
    Action,
    Actual,
    AddToSpace,
    CreateRoom,
    Deactivate,
    Dept,
    EnableEncryption,
    Invite,
    Kick,
    Notify,
    OrgChart,
    Person,
    RoomState,
    RosterAdd,
    RosterEntry,
    RosterRemove,
    RosterUpdate,
    SetName,
    SetPower,
)
from bots.provision.plan import plan
from bots.provision.render import PlanText

S = "city.example.jp"
ADMIN = f"@admin:{S}"
BOT = f"@tasks:{S}"
SOUMU, KENSETSU, DOBOKU, BOUSAI = (f"#{n}:{S}" for n in ("soumu", "kensetsu", "doboku", "bousai"))
SAIGAI = f"#saigai:{S}"  # the disaster officers' room
SPACE = f"#city:{S}"
TANAKA, YAMADA, SUZUKI, SATO, KOHO, KATO = (
    f"@{n}:{S}" for n in ("tanaka", "yamada", "suzuki", "sato", "koho", "kato")
)
CATALOG = Catalog.load()
A = TypeVar("A")


def org(**changes: object) -> OrgChart:
    base = OrgChart(
        server_name=S,
        departments=(
            Dept("soumu", "総務課", "General Affairs", rooms=(SOUMU,)),
            Dept("kensetsu", "建設課", "Construction", rooms=(KENSETSU, DOBOKU)),
            Dept("bousai", "防災危機管理課", "Disaster Management", rooms=(BOUSAI,)),
        ),
        space_alias=SPACE,
        space_name="みどり市役所",
        role_rooms={"disaster_officer": (SAIGAI,)},
        power={"lead": 50, "announcer": 50, "disaster_officer": 50, "admin": 100},
        bots={BOT: (SOUMU, KENSETSU)},
        admin=ADMIN,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def person(number: str, user: str, department: str, *roles: str) -> Person:
    return Person(
        number, user.split(":")[0][1:].title(), "", department, tuple(sorted(roles)), user
    )


STAFF = [
    person("00001", TANAKA, "soumu", "lead"),
    person("00002", YAMADA, "soumu"),
    person("00003", SUZUKI, "kensetsu", "lead"),
    person("00004", SATO, "bousai", "disaster_officer"),
    person("00005", KOHO, "soumu", "announcer"),
]
EMPTY = Actual(rooms={}, accounts={})


def simulate(actual: Actual, actions: Sequence[Action]) -> Actual:
    """What the applier does, on plain values."""
    rooms = dict(actual.rooms)
    accounts = dict(actual.accounts)
    roster = {e.person.employee_number: e for e in actual.roster}

    def change(ref: str, **fields: object) -> None:
        state = rooms[ref]
        assert state is not None
        rooms[ref] = dataclasses.replace(state, **fields)  # type: ignore[arg-type]

    for action in actions:
        match action:
            case CreateRoom():
                rooms[action.room] = RoomState(
                    room_id="!" + action.room[1:].split(":")[0],
                    name=action.name,
                    encrypted=action.encrypted,
                    members={ADMIN: "join"},
                    creators=frozenset({ADMIN}),
                )
            case SetName():
                change(action.room, name=action.name)
            case EnableEncryption():
                change(action.room, encrypted=True)
            case AddToSpace():
                space, room = rooms[action.space], rooms[action.room]
                assert space is not None and room is not None
                change(action.space, children=space.children | {room.room_id})
            case Invite() | Kick():
                state = rooms[action.room]
                assert state is not None
                membership = "invite" if isinstance(action, Invite) else "leave"
                change(action.room, members={**state.members, action.user: membership})
            case SetPower():
                state = rooms[action.room]
                assert state is not None
                power = dict(state.power)
                if action.level is None:
                    del power[action.user]
                else:
                    power[action.user] = action.level
                change(action.room, power=power)
            case Deactivate():
                accounts[action.user] = Account(exists=True, deactivated=True)
            case RosterAdd() | RosterUpdate():
                roster[action.person.employee_number] = RosterEntry(action.person, True)
            case RosterRemove():
                roster[action.person.employee_number] = RosterEntry(action.person, False)
    return Actual(rooms, accounts, tuple(roster.values()))


def provisioned(chart: OrgChart, people: Sequence[Person]) -> Actual:
    return simulate(EMPTY, plan(chart, people, EMPTY).actions)


def of(kind: type[A], actions: Sequence[Action]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


# --- the first run ---------------------------------------------------------------------


def test_the_first_run_builds_the_city() -> None:
    actions = plan(org(), STAFF, EMPTY).actions
    assert actions[0] == CreateRoom(SPACE, "みどり市役所", encrypted=False, space=True)
    assert of(CreateRoom, actions)[1:] == [
        CreateRoom(BOUSAI, "防災危機管理課", True),
        CreateRoom(DOBOKU, "建設課 doboku", True),
        CreateRoom(KENSETSU, "建設課", True),
        CreateRoom(SAIGAI, "saigai", True),  # a role's room: named after its alias
        CreateRoom(SOUMU, "総務課", True),
    ]
    assert {a.room for a in of(AddToSpace, actions)} == {BOUSAI, DOBOKU, KENSETSU, SAIGAI, SOUMU}
    invites = {(a.room, a.user) for a in of(Invite, actions)}
    assert {(SOUMU, u) for u in (TANAKA, YAMADA, KOHO, BOT)} <= invites
    assert {(KENSETSU, SUZUKI), (DOBOKU, SUZUKI), (KENSETSU, BOT), (BOUSAI, SATO)} <= invites
    assert (SAIGAI, SATO) in invites  # the disaster officers' room
    assert (DOBOKU, BOT) not in invites  # the bot is in the rooms config lists for it
    assert {(SPACE, p.user_id) for p in STAFF} <= invites
    assert (SPACE, BOT) not in invites
    assert all(a.why == "hired" for a in of(Invite, actions) if a.user != BOT)
    powers = {(a.room, a.user): a.level for a in of(SetPower, actions)}
    assert powers == {
        (SOUMU, TANAKA): 50,
        (SOUMU, KOHO): 50,
        (SOUMU, BOT): 50,
        (KENSETSU, SUZUKI): 50,
        (DOBOKU, SUZUKI): 50,
        (KENSETSU, BOT): 50,
        (BOUSAI, SATO): 50,
        (SAIGAI, SATO): 50,
    }
    assert of(RosterAdd, actions) == [RosterAdd(p) for p in STAFF]
    assert not of(Kick, actions) and not of(Deactivate, actions) and not of(Notify, actions)


def test_actions_come_in_order() -> None:
    order = [CreateRoom, AddToSpace, Invite, SetPower, RosterAdd]
    kinds = [type(a) for a in plan(org(), STAFF, EMPTY).actions]
    assert kinds == sorted(kinds, key=order.index)


def test_the_second_run_changes_nothing() -> None:
    actual = provisioned(org(), STAFF)
    again = plan(org(), STAFF, actual)
    assert again.actions == () and again.notes == ()


def test_people_who_joined_are_not_invited_again() -> None:
    actual = provisioned(org(), STAFF)
    state = actual.rooms[SOUMU]
    assert state is not None
    joined = dataclasses.replace(state, members={**state.members, TANAKA: "join"})
    actual = dataclasses.replace(actual, rooms={**actual.rooms, SOUMU: joined})
    assert plan(org(), STAFF, actual).actions == ()


# --- personnel moves -------------------------------------------------------------------


def test_a_lead_who_moves_loses_the_old_rooms_and_level_and_the_leads_are_told() -> None:
    actual = provisioned(org(), STAFF)
    moved = person("00001", TANAKA, "kensetsu")
    staff = [moved, *STAFF[1:]]
    actions = plan(org(), staff, actual).actions
    assert actions == (
        Invite(DOBOKU, TANAKA, "moved"),
        Invite(KENSETSU, TANAKA, "moved"),
        SetPower(SOUMU, TANAKA, None, 50),
        Kick(SOUMU, TANAKA, "moved"),
        RosterUpdate(moved, STAFF[0]),
        Notify(moved, "soumu", "kensetsu"),
    )
    assert plan(org(), staff, simulate(actual, actions)).actions == ()


def test_a_new_role_raises_the_level_and_a_lost_one_lowers_it() -> None:
    actual = provisioned(org(), STAFF)
    promoted = person("00002", YAMADA, "soumu", "lead")
    actions = plan(org(), [STAFF[0], promoted, *STAFF[2:]], actual).actions
    assert actions == (SetPower(SOUMU, YAMADA, 50, 0), RosterUpdate(promoted, STAFF[1]))
    actual = simulate(actual, actions)
    officer = person("00004", SATO, "bousai")  # no longer a disaster officer
    actions = plan(org(), [STAFF[0], promoted, STAFF[2], officer, STAFF[4]], actual).actions
    assert actions == (
        SetPower(BOUSAI, SATO, None, 50),
        SetPower(SAIGAI, SATO, None, 50),
        Kick(SAIGAI, SATO, "changed"),
        RosterUpdate(officer, STAFF[3]),
    )


def test_a_new_hire_is_invited_and_added() -> None:
    actual = provisioned(org(), STAFF)
    hire = person("00006", KATO, "bousai")
    actions = plan(org(), [*STAFF, hire], actual).actions
    assert actions == (
        Invite(BOUSAI, KATO, "hired"),
        Invite(SPACE, KATO, "hired"),
        RosterAdd(hire),
    )


def test_a_leaver_is_removed_everywhere_and_deactivated_when_configured() -> None:
    chart = org(deactivate_leavers=True)
    actual = provisioned(chart, STAFF)
    staff = [p for p in STAFF if p.user_id != KOHO]
    actions = plan(chart, staff, actual).actions
    assert actions == (
        SetPower(SOUMU, KOHO, None, 50),
        Kick(SOUMU, KOHO, "left"),
        Kick(SPACE, KOHO, "left"),
        Deactivate(KOHO),
        RosterRemove(STAFF[4]),
        Notify(STAFF[4], "soumu", None),
    )
    after = simulate(actual, actions)
    assert plan(chart, staff, after).actions == ()
    assert [e.active for e in after.roster if e.person.user_id == KOHO] == [False]


def test_without_deactivation_a_leaver_keeps_the_account() -> None:
    actual = provisioned(org(), STAFF)
    actions = plan(org(), STAFF[:-1], actual).actions
    assert Kick(SPACE, KOHO, "left") in actions
    assert not of(Deactivate, actions)


def test_an_account_already_deactivated_is_not_deactivated_again() -> None:
    chart = org(deactivate_leavers=True)
    actual = provisioned(chart, STAFF)
    actual = dataclasses.replace(actual, accounts={KOHO: Account(True, deactivated=True)})
    assert not of(Deactivate, plan(chart, STAFF[:-1], actual).actions)


def test_a_leaver_still_in_the_config_keeps_those_rooms_and_is_named() -> None:
    chart = org(deactivate_leavers=True, role_users={"announcer": (KOHO,)})
    actual = provisioned(chart, STAFF)
    result = plan(chart, STAFF[:-1], actual)
    assert not of(Deactivate, result.actions)
    assert [n.key for n in result.notes] == ["still_configured"]
    text = PlanText(lambda k, **p: CATALOG.t("ja", k, **p), "ja", chart, {KOHO: "広報 花子"})
    assert "広報 花子 (@koho:city.example.jp)" in text.note(result.notes[0])


def test_a_new_employee_number_for_the_same_account_is_no_leaver() -> None:
    chart = org(deactivate_leavers=True)
    actual = provisioned(chart, STAFF)
    renumbered = person("10002", YAMADA, "soumu")
    actions = plan(chart, [*STAFF[:1], renumbered, *STAFF[2:]], actual).actions
    assert actions == (
        RosterAdd(renumbered),
        RosterRemove(STAFF[1]),
        Notify(STAFF[1], "soumu", None),
    )


def test_someone_back_on_the_list_is_back_in_the_rooms() -> None:
    actual = provisioned(org(), STAFF)
    actual = simulate(actual, plan(org(), STAFF[:-1], actual).actions)
    actions = plan(org(), STAFF, actual).actions
    assert Invite(SOUMU, KOHO, "hired") in actions
    assert RosterUpdate(STAFF[4], STAFF[4], reactivated=True) in actions


# --- what provisioning leaves alone ------------------------------------------------------


def test_people_and_levels_added_by_hand_are_left_alone() -> None:
    actual = provisioned(org(), STAFF)
    state = actual.rooms[SOUMU]
    assert state is not None
    mayor = f"@mayor:{S}"
    by_hand = dataclasses.replace(
        state,
        members={**state.members, mayor: "join", SUZUKI: "join"},
        power={**state.power, mayor: 100, TANAKA: 100},  # the lead raised by hand
    )
    actual = dataclasses.replace(actual, rooms={**actual.rooms, SOUMU: by_hand})
    assert plan(org(), STAFF, actual).actions == ()


def test_config_leads_and_staff_get_rooms_and_levels_without_a_list() -> None:
    chart = org(
        departments=(Dept("soumu", "総務課", "", rooms=(SOUMU,), leads=(TANAKA,), staff=(YAMADA,)),)
    )
    actions = plan(chart, [], EMPTY).actions
    assert SetPower(SOUMU, TANAKA, 50, 0) in actions
    assert {(a.room, a.user) for a in of(Invite, actions)} >= {(SOUMU, TANAKA), (SOUMU, YAMADA)}


def test_a_wrong_name_and_missing_encryption_are_fixed() -> None:
    actual = provisioned(org(), STAFF)
    state = actual.rooms[SOUMU]
    assert state is not None
    changed = dataclasses.replace(state, name="旧総務課", encrypted=False)
    actual = dataclasses.replace(actual, rooms={**actual.rooms, SOUMU: changed})
    assert plan(org(), STAFF, actual).actions == (
        SetName(SOUMU, "総務課", "旧総務課"),
        EnableEncryption(SOUMU),
    )


def test_accounts_that_do_not_exist_or_are_deactivated_are_not_invited() -> None:
    accounts = {YAMADA: Account(exists=False), KOHO: Account(True, deactivated=True)}
    result = plan(org(), STAFF, Actual(rooms={}, accounts=accounts))
    invited = {a.user for a in of(Invite, result.actions)}
    assert YAMADA not in invited and KOHO not in invited
    assert [(n.key, n.params["user"]) for n in result.notes] == [
        ("deactivated", KOHO),
        ("account_missing", YAMADA),
    ]


def test_banned_people_are_not_invited() -> None:
    actual = provisioned(org(), STAFF)
    state = actual.rooms[SOUMU]
    assert state is not None
    banned = dataclasses.replace(state, members={**state.members, YAMADA: "ban"})
    actual = dataclasses.replace(actual, rooms={**actual.rooms, SOUMU: banned})
    result = plan(org(), STAFF, actual)
    assert result.actions == ()
    assert [n.key for n in result.notes] == ["banned"]


def test_a_room_given_by_id_that_does_not_exist_is_named_not_created() -> None:
    chart = org(
        departments=(Dept("soumu", "総務課", "", rooms=("!gone:city.example.jp",)),), role_rooms={}
    )
    result = plan(chart, [person("1", TANAKA, "soumu")], EMPTY)
    assert not [a for a in of(CreateRoom, result.actions) if not a.space]
    assert [n.key for n in result.notes] == ["room_missing"]


def test_the_admin_and_creators_are_never_touched() -> None:
    staff = [*STAFF, person("9", ADMIN, "soumu", "lead")]
    actions = plan(org(), staff, EMPTY).actions
    assert all(getattr(a, "user", None) != ADMIN for a in actions)


def test_every_action_and_note_has_a_text_in_both_languages() -> None:
    chart = org(deactivate_leavers=True)
    actual = provisioned(chart, STAFF)
    state = actual.rooms[SOUMU]
    assert state is not None
    actual = dataclasses.replace(
        actual, rooms={**actual.rooms, SOUMU: dataclasses.replace(state, name="x")}
    )
    moved = person("00001", TANAKA, "kensetsu")
    actions = [
        *plan(org(), STAFF, EMPTY).actions,
        *plan(chart, [moved, *STAFF[1:3]], actual).actions,
        EnableEncryption(SOUMU),
    ]
    for lang in ("ja", "en"):
        text = PlanText(lambda k, lang=lang, **p: CATALOG.t(lang, k, **p), lang, chart, {})
        lines = [text.action(a) for a in actions]
        assert all(line and "{" not in line for line in lines)
    text = PlanText(lambda k, **p: CATALOG.t("ja", k, **p), "ja", chart, {TANAKA: "田中"})
    assert text.action(Notify(moved, "soumu", "kensetsu")) == (
        "所属長に未完了タスクを通知: 田中 (@tanaka:city.example.jp) 総務課 → 建設課"
    )
