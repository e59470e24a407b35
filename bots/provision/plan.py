"""The provisioning plan: what the org chart and the staff list want, against what Synapse
and the roster hold, as an ordered list of actions (pure: plain values in and out).

Provisioning undoes only what it did: people are removed from a room, or lose a power
level there, only when the last provisioning (the roster) put them there and the new
staff list does not. People and levels that others added by hand are left alone; levels
are raised to the role's level but lowered only where provisioning set them.

The order: rooms (created, named, encrypted), rooms in the space, invitations, power
levels, removals, deactivations, then the roster and the notices to the leads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bots.provision.model import (
    BOT_POWER,
    JOINED,
    Account,
    Action,
    Actual,
    AddToSpace,
    CreateRoom,
    Deactivate,
    EnableEncryption,
    Invite,
    Kick,
    Note,
    Notify,
    OrgChart,
    Person,
    Plan,
    RoomState,
    RosterAdd,
    RosterRemove,
    RosterUpdate,
    SetName,
    SetPower,
)

_USABLE = Account(exists=True)


@dataclass
class Layout:
    """Who belongs where, and at which level, for one list of people."""

    #: room reference -> its members
    members: dict[str, set[str]] = field(default_factory=dict)
    #: room reference -> user -> power level
    power: dict[str, dict[str, int]] = field(default_factory=dict)
    #: members of the space
    space: set[str] = field(default_factory=set)
    #: everyone the org chart names (staff list and config): never a leaver
    people: set[str] = field(default_factory=set)


def layout(org: OrgChart, people: Iterable[Person]) -> Layout:
    """Where everyone belongs: their department's rooms, their roles' rooms, the space;
    with the highest level of their roles (leads of the department, config roles)."""
    out = Layout()
    for department in org.departments:
        for ref in department.rooms:
            out.members.setdefault(ref, set())
    for refs in org.role_rooms.values():
        for ref in refs:
            out.members.setdefault(ref, set())
    out.power = {ref: {} for ref in out.members}
    configured: dict[str, set[str]] = defaultdict(set)
    for role, users in org.role_users.items():
        for user in users:
            configured[user].add(role)
            out.people.add(user)
    held: dict[str, set[str]] = defaultdict(set)

    def place(user: str, refs: Iterable[str], roles: set[str]) -> None:
        level = max((org.power_of(r) for r in roles), default=0)
        for ref in refs:
            out.members[ref].add(user)
            if level > 0:
                out.power[ref][user] = max(out.power[ref].get(user, 0), level)
        out.space.add(user)
        out.people.add(user)
        held[user] |= roles

    for person in people:
        found = org.department(person.department)
        place(
            person.user_id,
            found.rooms if found else (),
            set(person.roles) | configured[person.user_id],
        )
    for department in org.departments:
        for user in (*department.staff, *department.leads):
            lead = {"lead"} if user in department.leads else set()
            place(user, department.rooms, lead | configured[user])
    for user, roles in configured.items():
        held[user] |= roles
    for user, roles in sorted(held.items()):
        for role in sorted(roles):
            refs = org.role_rooms.get(role, ())
            if refs:
                place(user, refs, {role})
    for bot, refs in org.bots.items():
        out.people.add(bot)
        for ref in refs:
            if ref in out.members:
                out.members[ref].add(bot)
                out.power[ref][bot] = max(out.power[ref].get(bot, 0), BOT_POWER)
    return out


@dataclass
class _Planner:
    org: OrgChart
    actual: Actual
    want: Layout
    had: Layout
    why: Mapping[str, str]  # user -> "hired" / "moved"
    gone: set[str]  # leavers no longer named anywhere
    rooms: list[Action] = field(default_factory=list)
    links: list[Action] = field(default_factory=list)
    invites: list[Action] = field(default_factory=list)
    powers: list[Action] = field(default_factory=list)
    kicks: list[Action] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # user -> why not invited

    def account(self, user: str) -> Account:
        return self.actual.accounts.get(user, _USABLE)

    def room(self, ref: str) -> None:
        state = self.actual.rooms.get(ref)
        org = self.org
        if state is None:
            if not org.is_own_alias(ref):
                self.notes.append(Note("room_missing", {"room": ref}))
                return
            self.rooms.append(CreateRoom(ref, org.new_room_name(ref), org.encrypted))
        else:
            name = org.room_name(ref)
            if name is not None and state.name != name:
                self.rooms.append(SetName(ref, name, state.name))
            if org.encrypted and not state.encrypted:
                self.rooms.append(EnableEncryption(ref))
        if org.space_alias is not None:
            space = self.actual.rooms.get(org.space_alias)
            if state is None or space is None or state.room_id not in space.children:
                self.links.append(AddToSpace(ref, org.space_alias))
        self.membership(ref, state, self.want.members[ref], self.had.members.get(ref, set()))
        self.power(ref, state, self.want.power[ref], self.had.power.get(ref, {}))

    def space(self) -> None:
        org = self.org
        if org.space_alias is None:
            return
        state = self.actual.rooms.get(org.space_alias)
        if state is None:
            self.rooms.insert(
                0, CreateRoom(org.space_alias, org.space_name, False, True, org.space_topic)
            )
        elif state.name != org.space_name:
            self.rooms.insert(0, SetName(org.space_alias, org.space_name, state.name))
        self.membership(org.space_alias, state, self.want.space, self.had.space)

    def membership(
        self, ref: str, state: RoomState | None, wanted: set[str], had: set[str]
    ) -> None:
        for user in sorted(wanted):
            membership = state.members.get(user) if state else None
            if user == self.org.admin or membership in JOINED:
                continue
            if membership == "ban":
                self.notes.append(Note("banned", {"room": ref, "user": user}))
                continue
            account = self.account(user)
            if not account.exists or account.deactivated:
                self.skipped[user] = "account_missing" if not account.exists else "deactivated"
                continue
            self.invites.append(Invite(ref, user, self.why.get(user, "")))
        if state is None:
            return
        for user in sorted(had - wanted):
            if user == self.org.admin or state.members.get(user) not in JOINED:
                continue
            why = "left" if user in self.gone else self.why.get(user) or "changed"
            self.kicks.append(Kick(ref, user, why))

    def power(
        self, ref: str, state: RoomState | None, wanted: Mapping[str, int], had: Mapping[str, int]
    ) -> None:
        for user, level in sorted(wanted.items()):
            if user == self.org.admin:
                continue
            if state is None:
                self.powers.append(SetPower(ref, user, level, 0))
                continue
            if user in state.creators:
                continue
            current = state.level(user)
            # raised to the role's level; lowered only from a level provisioning gave
            if current < level or (current > level and had.get(user) == current):
                self.powers.append(SetPower(ref, user, level, current))
        if state is None:
            return
        for user in sorted(set(had) - set(wanted)):
            if user == self.org.admin or user in state.creators or user not in state.power:
                continue
            if state.power[user] != state.users_default:
                self.powers.append(SetPower(ref, user, None, state.power[user]))


def plan(org: OrgChart, people: Sequence[Person], actual: Actual) -> Plan:
    """The actions that make Synapse and the roster match the org chart and `people`."""
    roster = {e.person.employee_number: e for e in actual.roster}
    active = [e.person for e in actual.roster if e.active]
    listed = {p.employee_number for p in people}
    csv_users = {p.user_id for p in people}
    leavers = sorted(
        (p for p in active if p.employee_number not in listed), key=lambda p: p.employee_number
    )
    why: dict[str, str] = {}
    moves: list[Notify] = []
    for person in people:
        entry = roster.get(person.employee_number)
        if entry is None or not entry.active:
            why[person.user_id] = "hired"
        elif entry.person.department != person.department:
            why[person.user_id] = "moved"
            moves.append(Notify(person, entry.person.department, person.department))
    want = layout(org, people)
    had = layout(org, active)
    gone = {p.user_id for p in leavers} - want.people
    planner = _Planner(org, actual, want, had, why, gone)
    for ref in sorted(want.members):
        planner.room(ref)
    planner.space()
    for user, reason in sorted(planner.skipped.items()):
        planner.notes.append(Note(reason, {"user": user}))
    deactivations: list[Action] = []
    for person in leavers:
        user = person.user_id
        if user in csv_users:
            continue  # the same account under another employee number
        if user not in gone:
            planner.notes.append(Note("still_configured", {"user": user}))
            continue
        account = planner.account(user)
        if (
            org.deactivate_leavers
            and user != org.admin
            and user not in org.bots
            and account.exists
            and not account.deactivated
        ):
            deactivations.append(Deactivate(user))
    store: list[Action] = []
    for person in sorted(people, key=lambda p: p.employee_number):
        entry = roster.get(person.employee_number)
        if entry is None:
            store.append(RosterAdd(person))
        elif not entry.active:
            store.append(RosterUpdate(person, entry.person, reactivated=True))
        elif entry.person != person:
            store.append(RosterUpdate(person, entry.person))
    store += [RosterRemove(p) for p in leavers]
    store += moves
    store += [Notify(p, p.department, None) for p in leavers]
    actions = [
        *planner.rooms,
        *planner.links,
        *planner.invites,
        *planner.powers,
        *planner.kicks,
        *deactivations,
        *store,
    ]
    return Plan(tuple(actions), tuple(planner.notes))
