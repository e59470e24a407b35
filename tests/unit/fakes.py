"""Shared fakes and worlds for the service unit tests (tasks and announcements).

`FakeMessenger` is a recording stand-in for the `Messenger` protocol (bots/messenger.py);
`tasks_world` and `announcements_world` build a service on a real store around one. They
are plain functions: each test module wraps them in its own small fixtures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bots.announcements.model import Announcement
from bots.announcements.service import AnnouncementService, Published
from bots.announcements.store import AnnouncementStore
from bots.commands.router import Role
from bots.config import Config, parse_config
from bots.config_announcements import AnnouncementGroup
from bots.i18n import Catalog
from bots.permissions import Permissions
from bots.store.database import Database
from bots.tasks.calendar import BusinessCalendar
from bots.tasks.model import Priority, Task
from bots.tasks.service import Actor, TaskService
from bots.tasks.store import ReminderPlan, TaskStore

TOKYO = ZoneInfo("Asia/Tokyo")
SERVER = "city.example.jp"
ROOM = f"!soumu:{SERVER}"  # 総務課
ROOM_B = f"!kensetsu:{SERVER}"  # 建設課
TANAKA = f"@tanaka:{SERVER}"  # staff
SUZUKI = f"@suzuki:{SERVER}"  # staff
YAMADA = f"@yamada:{SERVER}"  # staff
KACHO = f"@kacho:{SERVER}"  # lead of 総務課, member of ROOM
BUCHO = f"@bucho:{SERVER}"  # lead of 建設課, not a member of ROOM
CATALOG = Catalog.load()

# Wednesday 25 November 2026, 10:00 in Tokyo
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)

DEPARTMENTS = [
    {"id": "soumu", "name": {"ja": "総務課"}, "rooms": [ROOM], "leads": [KACHO]},
    {"id": "kensetsu", "name": {"ja": "建設課"}, "rooms": [ROOM_B], "leads": [BUCHO]},
]


def bot_config(user_id: str, feature: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "password": "secret",
        "pickle_key": "0123456789abcdef",
        "features": [feature],
    }


# --- the messenger ---------------------------------------------------------------------


@dataclass
class Sent:
    room_id: str
    content: dict[str, Any]
    key: str
    event_id: str
    event_type: str = "m.room.message"


@dataclass
class Edit:
    room_id: str
    target: str
    content: dict[str, Any]
    key: str
    event_id: str


@dataclass
class Redaction:
    room_id: str
    target: str
    reason: str
    key: str


@dataclass
class FakeMessenger:
    """Records what would happen in Matrix; a repeated key is not sent again (the ledger).

    `room_members` are each room's members, in order; `counts` overrides a room's member
    count. `pinned` is each room's pinned list (m.room.pinned_events), others' pins
    included, and `pins` every pin request that was allowed; the bot lacks the power level
    to change the pinned list in the rooms in `pin_refused`, or anywhere if not
    `pin_allowed`. While not `online` the homeserver is away: sends are queued (None).

    `direct` is each person's direct room (user id -> room id, a stable fake id made on
    first request, with the bot and the person as members); `direct_created` lists the
    people whose room was made, in order. For the people in `direct_unready` the room is
    made but not seen in sync yet: `direct_room` answers None until they are removed."""

    bot: str
    room_members: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    pin_allowed: bool = True
    pin_refused: set[str] = field(default_factory=set)
    pinned: dict[str, list[str]] = field(default_factory=dict)
    online: bool = True
    sent: list[Sent] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    redactions: list[Redaction] = field(default_factory=list)
    pins: list[tuple[str, str]] = field(default_factory=list)
    unpins: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[tuple[str, bytes, str, str, str]] = field(default_factory=list)
    ledger: dict[str, str] = field(default_factory=dict)
    direct: dict[str, str] = field(default_factory=dict)
    direct_created: list[str] = field(default_factory=list)
    direct_unready: set[str] = field(default_factory=set)
    #: what else happens while a pin request is in flight (the sync loop runs meanwhile)
    during_pin: Callable[[str, str], Awaitable[None]] | None = None
    _next: int = 0

    @property
    def user_id(self) -> str:
        return self.bot

    def _event_id(self, key: str) -> tuple[str, bool]:
        if key in self.ledger:
            return self.ledger[key], False
        self._next += 1
        self.ledger[key] = f"$ev{self._next}"
        return self.ledger[key], True

    def _may_pin(self, room_id: str) -> bool:
        return self.pin_allowed and room_id not in self.pin_refused

    async def send(
        self, room_id: str, content: dict[str, Any], key: str, event_type: str = "m.room.message"
    ) -> str | None:
        if not self.online:
            return None
        event_id, new = self._event_id(key)
        if new:
            self.sent.append(Sent(room_id, content, key, event_id, event_type))
        return event_id

    async def edit(
        self, room_id: str, event_id: str, new_content: dict[str, Any], key: str
    ) -> str | None:
        edit_id, new = self._event_id(key)
        if new:
            self.edits.append(Edit(room_id, event_id, new_content, key, edit_id))
        return edit_id

    async def direct_room(self, user_id: str) -> str | None:
        if not self.online:
            return None
        room_id = self.direct.get(user_id)
        if room_id is None:
            localpart, _, server = user_id.lstrip("@").partition(":")
            room_id = f"!dm-{localpart}:{server or SERVER}"
            self.direct[user_id] = room_id
            self.direct_created.append(user_id)
            self.room_members.setdefault(room_id, [self.bot, user_id])
        return None if user_id in self.direct_unready else room_id

    async def pin(self, room_id: str, event_id: str) -> bool:
        if self.during_pin is not None:
            await self.during_pin(room_id, event_id)
        if not self._may_pin(room_id):
            return False
        self.pins.append((room_id, event_id))
        pins = self.pinned.setdefault(room_id, [])
        if event_id not in pins:
            pins.append(event_id)
        return True

    async def unpin(self, room_id: str, event_id: str) -> bool:
        if not self._may_pin(room_id):
            return False
        self.unpins.append((room_id, event_id))
        pins = self.pinned.setdefault(room_id, [])
        if event_id in pins:
            pins.remove(event_id)
        return True

    async def upload(
        self, room_id: str, data: bytes, filename: str, mimetype: str, key: str
    ) -> str | None:
        event_id, new = self._event_id(key)
        if new:
            self.uploads.append((room_id, data, filename, mimetype, key))
        return event_id

    async def redact(self, room_id: str, event_id: str, reason: str, key: str) -> bool:
        _, new = self._event_id(key)
        if new:
            self.redactions.append(Redaction(room_id, event_id, reason, key))
        return True

    def members(self, room_id: str) -> list[str]:
        return list(self.room_members.get(room_id, []))

    def is_member(self, room_id: str, user_id: str) -> bool:
        return user_id in self.room_members.get(room_id, [])

    def member_count(self, room_id: str) -> int:
        return self.counts.get(room_id, len(self.room_members.get(room_id, [])))

    def room_name(self, room_id: str) -> str:
        return self.names.get(room_id, room_id)

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


def mentions(content: dict[str, Any]) -> list[str]:
    return list(content["m.mentions"].get("user_ids", []))


async def count_rows(w: TasksWorld | AnnouncementsWorld, table: str) -> int:
    row = await w.db.fetchone(f"SELECT COUNT(*) FROM {table}")
    assert row is not None
    return int(row[0])


# --- tasks -------------------------------------------------------------------------------

TASKS_BOT = f"@tasks:{SERVER}"
TASKS_ROOM_C = f"!kikaku:{SERVER}"
LEADS = frozenset({KACHO, BUCHO})


def role_check_for(leads: frozenset[str]) -> Callable[[str, str, Role], Any]:
    async def role_check(user: str, room: str, role: Role) -> bool:
        return role is Role.LEAD and user in leads

    return role_check


def tasks_config(tmp_path: Path, **tasks: Any) -> Config:
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "bots": {"tasks": bot_config(TASKS_BOT, "tasks")},
        "departments": DEPARTMENTS,
        "tasks": tasks,
    }
    return parse_config(data, base_dir=tmp_path, env={})


@dataclass
class TasksWorld:
    service: TaskService
    messenger: FakeMessenger
    store: TaskStore
    db: Database


def tasks_world(
    db: Database, tmp_path: Path, *, pin_allowed: bool = True, **tasks: Any
) -> TasksWorld:
    config = tasks_config(tmp_path, **tasks)
    messenger = FakeMessenger(
        TASKS_BOT,
        room_members={
            ROOM: [TASKS_BOT, TANAKA, SUZUKI, YAMADA, KACHO],
            ROOM_B: [TASKS_BOT, TANAKA, BUCHO],
            TASKS_ROOM_C: [TASKS_BOT, TANAKA],
        },
        pin_allowed=pin_allowed,
    )
    store = TaskStore(db, ReminderPlan(before=(timedelta(hours=1),)))
    calendar = BusinessCalendar(
        skip_holidays=config.tasks.skip_holidays,
        year_end_closure=config.tasks.year_end_closure,
    )
    service = TaskService(store, messenger, CATALOG, config, calendar, role_check_for(LEADS))
    return TasksWorld(service, messenger, store, db)


TasksFactory = Callable[..., TasksWorld]


async def add(
    w: TasksWorld,
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


async def reload_task(w: TasksWorld, task: Task) -> Task:
    fresh = await w.store.get_task(task.id)
    assert fresh is not None
    return fresh


async def count_tasks(w: TasksWorld) -> int:
    return await count_rows(w, "tasks")


# --- announcements ---------------------------------------------------------------------

ANNOUNCE_BOT = f"@announce:{SERVER}"
OTHER_BOT = f"@tasks:{SERVER}"  # another yakuba bot: never part of the audience
ANNOUNCE_ROOM_C = f"!hiroba:{SERVER}"  # a room of the whole city hall, no department
KOHO = f"@koho:{SERVER}"  # announcer (role config), member of ROOM
HISHO = f"@hisho:{SERVER}"  # may publish to the group 全庁, not an announcer
ADMIN = f"@admin:{SERVER}"  # administrator
BODY = "窓口は **12月29日** から休みです。\n\n- 本庁舎\n- 支所"


def announcements_config(tmp_path: Path, **announcements: Any) -> Config:
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "bots": {
            "announce": bot_config(ANNOUNCE_BOT, "announcements"),
            "tasks": bot_config(OTHER_BOT, "tasks"),
        },
        "departments": DEPARTMENTS,
        "roles": {"announcer": {"users": [KOHO]}, "admin": {"users": [ADMIN]}},
        "announcements": {
            "groups": [
                {
                    "id": "zenchou",
                    "name": {"ja": "全庁", "en": "all"},
                    "departments": ["soumu", "kensetsu"],
                    "rooms": [ANNOUNCE_ROOM_C],
                    "announcers": [HISHO],
                    "aliases": ["全職員"],
                },
                {
                    "id": "empty",
                    "name": {"ja": "空"},
                    "announcers": [HISHO],
                },
            ],
            **announcements,
        },
    }
    return parse_config(data, base_dir=tmp_path, env={})


@dataclass
class AnnouncementsWorld:
    service: AnnouncementService
    messenger: FakeMessenger
    store: AnnouncementStore
    config: Config
    db: Database


def announcements_world(
    db: Database, tmp_path: Path, *, pin_refused: Sequence[str] = (), **announcements: Any
) -> AnnouncementsWorld:
    config = announcements_config(tmp_path, **announcements)
    messenger = FakeMessenger(
        ANNOUNCE_BOT,
        room_members={
            ROOM: [ANNOUNCE_BOT, OTHER_BOT, KOHO, TANAKA, SUZUKI, YAMADA, KACHO],
            ROOM_B: [ANNOUNCE_BOT, TANAKA, BUCHO],
            ANNOUNCE_ROOM_C: [ANNOUNCE_BOT, HISHO, TANAKA, SUZUKI],
        },
        names={ROOM: "総務課", ROOM_B: "建設課", ANNOUNCE_ROOM_C: "庁内ひろば"},
        pin_refused=set(pin_refused),
        pinned={ROOM: ["$someone-elses-pin"]},
    )

    async def power(user_id: str, room_id: str) -> float:
        return 0

    async def room_names(room_id: str) -> frozenset[str]:
        return frozenset({room_id})

    permissions = Permissions(config, power, room_names)

    async def group_rooms(group: AnnouncementGroup) -> list[str]:
        rooms = list(group.rooms)
        for department_id in group.departments:
            department = config.department(department_id)
            assert department is not None
            rooms += department.rooms
        return rooms

    bots = {b.user_id for b in config.bots.values()}
    store = AnnouncementStore(db)
    service = AnnouncementService(
        store,
        messenger,
        CATALOG,
        config,
        permissions.has_role,
        group_rooms,
        lambda user: user in bots,
        room_names,
    )
    return AnnouncementsWorld(service, messenger, store, config, db)


AnnouncementsFactory = Callable[..., AnnouncementsWorld]


async def announce(
    w: AnnouncementsWorld,
    by: str = KOHO,
    *,
    room: str = ROOM,
    group: str | None = None,
    title: str = "年末年始の窓口業務",
    body: str = BODY,
    important: bool = False,
    ack: bool = False,
    publish_at: datetime | None = None,
    expires_at: datetime | None = None,
    now: datetime = NOW,
) -> Published:
    return await w.service.create(
        by, room, group, title, body, important, ack, publish_at, expires_at, now
    )


async def reload_announcement(w: AnnouncementsWorld, ann: Announcement) -> Announcement:
    fresh = await w.store.get(ann.id)
    assert fresh is not None
    return fresh


async def copy_event(w: AnnouncementsWorld, ann: Announcement, room: str) -> str:
    for copy in await w.store.copies(ann.id):
        if copy.room_id == room:
            assert copy.event_id is not None
            return copy.event_id
    raise AssertionError(f"no copy in {room}")
