"""The applier (bots/provision/apply.py) against a recording stand-in for Synapse: each
action checks the current state first, a failure is audited and keeps the roster as it
was, and applying again finishes the job without doing anything twice. (The real Synapse
is in tests/integration/test_provision.py.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bots.audit import AuditLog
from bots.matrix.http import MatrixHttpError
from bots.provision.apply import DONE, FAILED, SKIPPED, UNCHANGED, Applier
from bots.provision.model import (
    Account,
    Actual,
    Deactivate,
    Dept,
    Invite,
    Kick,
    OrgChart,
    Person,
    RosterAdd,
    RosterEntry,
    SetPower,
)
from bots.provision.plan import plan
from bots.provision.roster import StaffStore
from bots.provision.runner import Prepared
from bots.store.database import Database

S = "city.example.jp"
ADMIN = f"@admin:{S}"
SOUMU = f"#soumu:{S}"
TANAKA, YAMADA = f"@tanaka:{S}", f"@yamada:{S}"
ORG = OrgChart(S, (Dept("soumu", "総務課", "", rooms=(SOUMU,)),), admin=ADMIN)
PEOPLE = [
    Person("1", "田中", "", "soumu", ("lead",), TANAKA),
    Person("2", "山田", "", "soumu", (), YAMADA),
]


@dataclass
class FakeSynapse:
    """Rooms by id with their state events; `refuse` makes invitations of those users fail."""

    aliases: dict[str, str] = field(default_factory=dict)
    state: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    deactivated: set[str] = field(default_factory=set)
    refuse: set[str] = field(default_factory=set)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    user_id: str = ADMIN

    async def resolve(self, alias: str) -> str | None:
        return self.aliases.get(alias)

    async def state_event(self, room_id: str, event_type: str, key: str) -> dict[str, Any] | None:
        return self.state[room_id].get((event_type, key))

    async def create_room(self, body: dict[str, Any]) -> str:
        room_id = f"!{body['room_alias_name']}"
        self.aliases[f"#{body['room_alias_name']}:{S}"] = room_id
        self.state[room_id] = {("m.room.name", ""): {"name": body["name"]}}
        for event in body["initial_state"]:
            self.state[room_id][(event["type"], event["state_key"])] = event["content"]
        self.state[room_id][("m.room.power_levels", "")] = {"users": {}, "ban": 50}
        self.calls.append(("create", room_id))
        return room_id

    async def put_state(self, room_id: str, event_type: str, key: str, content: Any) -> None:
        self.state[room_id][(event_type, key)] = dict(content)
        self.calls.append(("state", event_type, key))

    async def invite(self, room_id: str, user_id: str) -> None:
        if user_id in self.refuse:
            raise MatrixHttpError(403, {"errcode": "M_FORBIDDEN", "error": "not allowed"})
        self.state[room_id][("m.room.member", user_id)] = {"membership": "invite"}
        self.calls.append(("invite", user_id))

    async def kick(self, room_id: str, user_id: str, reason: str) -> None:
        self.state[room_id][("m.room.member", user_id)] = {"membership": "leave"}
        self.calls.append(("kick", user_id, reason))

    async def account(self, user_id: str) -> Account:
        return Account(True, user_id in self.deactivated)

    async def deactivate(self, user_id: str) -> None:
        self.deactivated.add(user_id)
        self.calls.append(("deactivate", user_id))


@pytest.fixture
def synapse() -> FakeSynapse:
    return FakeSynapse()


def applier(synapse: FakeSynapse, db: Database) -> Applier:
    return Applier(
        synapse,  # type: ignore[arg-type]
        StaffStore(db),
        ORG,
        lambda: 1_800_000_000.0,
        audit=AuditLog(db, lambda: 1_800_000_000.0),
        kick_reason=lambda why: f"reason:{why}",
    )


async def test_a_failure_is_audited_and_keeps_the_roster_then_a_rerun_finishes(
    synapse: FakeSynapse, db: Database
) -> None:
    actions = plan(ORG, PEOPLE, Actual({}, {})).actions
    synapse.refuse.add(YAMADA)
    outcomes = await applier(synapse, db).apply(actions)
    results = {type(o.action).__name__ + getattr(o.action, "user", ""): o.result for o in outcomes}
    assert results["Invite" + YAMADA] == FAILED
    assert results["Invite" + TANAKA] == DONE
    assert [o.result for o in outcomes if isinstance(o.action, RosterAdd)] == [SKIPPED, SKIPPED]
    assert await StaffStore(db).entries() == []
    failed = await AuditLog(db, lambda: 0.0).entries(action="provision invite")
    assert [(e.result, YAMADA in e.detail) for e in failed] == [("ok", False), ("failed", True)]
    assert "M_FORBIDDEN" in failed[1].detail

    synapse.refuse.clear()
    calls = len(synapse.calls)
    outcomes = await applier(synapse, db).apply(actions)  # the same plan again
    assert synapse.calls[calls:] == [("invite", YAMADA)]
    assert [o.result for o in outcomes].count(DONE) == 1 + 2  # the invitation, the roster
    assert {o.result for o in outcomes} == {DONE, UNCHANGED}
    assert len(await StaffStore(db).active()) == 2


async def test_levels_keep_the_rest_of_the_power_levels(synapse: FakeSynapse, db: Database) -> None:
    await applier(synapse, db).apply(plan(ORG, PEOPLE, Actual({}, {})).actions)
    room = synapse.aliases[SOUMU]
    assert synapse.state[room][("m.room.power_levels", "")] == {"users": {TANAKA: 50}, "ban": 50}
    outcomes = await applier(synapse, db).apply([SetPower(SOUMU, TANAKA, None, 50)])
    assert [o.result for o in outcomes] == [DONE]
    assert synapse.state[room][("m.room.power_levels", "")] == {"users": {}, "ban": 50}


async def test_kicks_and_deactivation_check_first(synapse: FakeSynapse, db: Database) -> None:
    await applier(synapse, db).apply(plan(ORG, PEOPLE, Actual({}, {})).actions)
    actions = [Kick(SOUMU, YAMADA, "left"), Deactivate(YAMADA), Invite(SOUMU, TANAKA)]
    first = await applier(synapse, db).apply(actions)
    assert [o.result for o in first] == [DONE, DONE, UNCHANGED]
    assert ("kick", YAMADA, "reason:left") in synapse.calls
    again = await applier(synapse, db).apply(actions)
    assert [o.result for o in again] == [UNCHANGED, UNCHANGED, UNCHANGED]


def test_many_leavers_need_a_second_thought() -> None:
    roster = tuple(
        RosterEntry(Person(str(n), "x", "", "soumu", (), f"@p{n}:{S}"), True) for n in range(20)
    )
    actual = Actual({}, {}, roster)
    few = [e.person for e in roster[:17]]  # 3 leave
    many = [e.person for e in roster[:16]]  # 4 leave: more than 3 and than 10 %
    assert not Prepared(ORG, tuple(few), actual, plan(ORG, few, actual), {}).too_many_leavers
    assert Prepared(ORG, tuple(many), actual, plan(ORG, many, actual), {}).too_many_leavers
