"""Provisioning as plain values: people from the staff list, the roster kept in the store,
the org chart from config, what Synapse holds, and the actions that make them agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

#: the level the bots get in their rooms: enough to pin and to notify the room
BOT_POWER = 50
#: the level of a role that neither `provisioning.power_levels` nor `roles.<role>` sets
DEFAULT_POWER = {"lead": 50, "announcer": 50, "disaster_officer": 50, "admin": 100}
JOINED = frozenset({"join", "invite"})


# --- people --------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One row of the staff list (or the roster's record of one)."""

    employee_number: str
    name: str
    kana: str
    department: str  # a configured department id
    roles: tuple[str, ...]  # yakuba roles, sorted: "lead", "announcer", …
    user_id: str
    #: the staff list's line (0 for a roster record); not part of what is compared
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class RosterEntry:
    """A person as the last provisioning left them; leavers stay, inactive."""

    person: Person
    active: bool
    updated_at: datetime | None = None


@dataclass(frozen=True)
class PersonnelNotice:
    """A move (to_department set) or a departure (None) to tell the leads about."""

    id: int
    user_id: str
    name: str
    from_department: str
    to_department: str | None
    created_at: datetime
    done_at: datetime | None = None


# --- the org chart -------------------------------------------------------------------


@dataclass(frozen=True)
class Dept:
    id: str
    name: str  # Japanese
    name_en: str
    rooms: tuple[str, ...] = ()
    leads: tuple[str, ...] = ()
    staff: tuple[str, ...] = ()

    def name_in(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name


@dataclass(frozen=True)
class OrgChart:
    """What config says the city looks like (see `bots.provision.org.org_chart`)."""

    server_name: str
    departments: tuple[Dept, ...]
    space_alias: str | None = None
    space_name: str = ""
    space_topic: str | None = None
    encrypted: bool = True
    room_names: Mapping[str, str] = field(default_factory=dict)
    #: role -> rooms its holders join besides their department's
    role_rooms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: role -> users config lists for it (they hold it in every room)
    role_users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: role -> the power level it gets
    power: Mapping[str, int] = field(default_factory=dict)
    #: bot user id -> the rooms config lists for it
    bots: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    deactivate_leavers: bool = False
    #: the provisioning admin (never invited, kicked, demoted or deactivated)
    admin: str = ""

    def department(self, department_id: str) -> Dept | None:
        for department in self.departments:
            if department.id == department_id:
                return department
        return None

    def department_name(self, department_id: str | None, lang: str) -> str:
        department = self.department(department_id or "")
        return department.name_in(lang) if department else department_id or ""

    def power_of(self, role: str) -> int:
        return self.power.get(role, DEFAULT_POWER.get(role, 50))

    def room_name(self, ref: str) -> str | None:
        """The name config gives a room: configured, else its department's; None for
        another room (a role's room keeps the name people gave it)."""
        if ref in self.room_names:
            return self.room_names[ref]
        for department in self.departments:
            if ref in department.rooms:
                if department.rooms.index(ref) == 0:
                    return department.name
                return f"{department.name} {_localpart(ref)}"
        return None

    def new_room_name(self, ref: str) -> str:
        return self.room_name(ref) or _localpart(ref)

    def is_own_alias(self, ref: str) -> bool:
        return ref.startswith("#") and ref.partition(":")[2] == self.server_name


def _localpart(ref: str) -> str:
    return ref[1:].partition(":")[0]


# --- what Synapse holds --------------------------------------------------------------


@dataclass(frozen=True)
class RoomState:
    room_id: str
    name: str | None = None
    encrypted: bool = False
    #: user -> membership (join, invite, leave, ban, knock)
    members: Mapping[str, str] = field(default_factory=dict)
    #: the `users` of m.room.power_levels
    power: Mapping[str, int] = field(default_factory=dict)
    users_default: int = 0
    #: room version 12 creators (unlimited power, not in `power`)
    creators: frozenset[str] = frozenset()
    #: for a space: the rooms it holds (m.space.child with `via`)
    children: frozenset[str] = frozenset()

    def level(self, user_id: str) -> int:
        return self.power.get(user_id, self.users_default)


@dataclass(frozen=True)
class Account:
    exists: bool
    deactivated: bool = False


@dataclass(frozen=True)
class Actual:
    """Synapse's rooms (by the reference config uses; None: not found), accounts, and
    the roster in the store."""

    rooms: Mapping[str, RoomState | None]
    accounts: Mapping[str, Account]
    roster: Sequence[RosterEntry] = ()


# --- actions -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateRoom:
    room: str  # an alias of this homeserver
    name: str
    encrypted: bool
    space: bool = False
    topic: str | None = None


@dataclass(frozen=True)
class SetName:
    room: str
    name: str
    previous: str | None


@dataclass(frozen=True)
class EnableEncryption:
    room: str


@dataclass(frozen=True)
class AddToSpace:
    room: str
    space: str


@dataclass(frozen=True)
class Invite:
    room: str
    user: str
    why: str = ""  # "hired", "moved" or ""


@dataclass(frozen=True)
class SetPower:
    room: str
    user: str
    level: int | None  # None: back to the room's default (the entry removed)
    previous: int


@dataclass(frozen=True)
class Kick:
    room: str
    user: str
    why: str  # "moved" or "left"


@dataclass(frozen=True)
class Deactivate:
    user: str


@dataclass(frozen=True)
class RosterAdd:
    person: Person


@dataclass(frozen=True)
class RosterUpdate:
    person: Person
    before: Person
    reactivated: bool = False


@dataclass(frozen=True)
class RosterRemove:
    person: Person


@dataclass(frozen=True)
class Notify:
    """Tell the leads of both departments (of the old one, for a leaver) the person's
    open tasks: recorded here, sent by the tasks bot."""

    person: Person
    from_department: str
    to_department: str | None


Action = (
    CreateRoom
    | SetName
    | EnableEncryption
    | AddToSpace
    | Invite
    | SetPower
    | Kick
    | Deactivate
    | RosterAdd
    | RosterUpdate
    | RosterRemove
    | Notify
)
#: what is written to the store, in one transaction, after everything else
StoreAction = RosterAdd | RosterUpdate | RosterRemove | Notify


@dataclass(frozen=True)
class Note:
    """Something the operator should know that provisioning does not change."""

    key: str  # catalog key under provision.note.
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    notes: tuple[Note, ...] = ()

    @property
    def leavers(self) -> int:
        return sum(isinstance(a, RosterRemove) for a in self.actions)
