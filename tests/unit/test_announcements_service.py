"""AnnouncementService: the announcement workflow against a real store and a recording
Messenger (pins, edits and redactions tracked per room)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bots.announcements.model import Announcement, State
from bots.announcements.service import AnnouncementService, Published
from bots.announcements.store import AnnouncementStore
from bots.commands.errors import CommandError
from bots.config import Config, parse_config
from bots.config_announcements import AnnouncementGroup
from bots.i18n import Catalog
from bots.permissions import Permissions
from bots.store.database import Database

TOKYO = ZoneInfo("Asia/Tokyo")
SERVER = "city.example.jp"
BOT = f"@announce:{SERVER}"
OTHER_BOT = f"@tasks:{SERVER}"  # another yakuba bot: never part of the audience
ROOM = f"!soumu:{SERVER}"  # 総務課
ROOM_B = f"!kensetsu:{SERVER}"  # 建設課
ROOM_C = f"!hiroba:{SERVER}"  # a room of the whole city hall, no department
KOHO = f"@koho:{SERVER}"  # announcer (role config), member of ROOM
HISHO = f"@hisho:{SERVER}"  # may publish to the group 全庁, not an announcer
ADMIN = f"@admin:{SERVER}"  # administrator
TANAKA = f"@tanaka:{SERVER}"
SUZUKI = f"@suzuki:{SERVER}"
YAMADA = f"@yamada:{SERVER}"
KACHO = f"@kacho:{SERVER}"  # lead of 総務課, member of ROOM
BUCHO = f"@bucho:{SERVER}"  # lead of 建設課, member of ROOM_B only
CATALOG = Catalog.load()

# Wednesday 25 November 2026, 10:00 in Tokyo
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)
BODY = "窓口は **12月29日** から休みです。\n\n- 本庁舎\n- 支所"


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
class Redaction:
    room_id: str
    target: str
    reason: str
    key: str


@dataclass
class FakeMessenger:
    """Records what would happen in Matrix; a repeated key is not sent again (the ledger).

    `pinned` is each room's pinned list (m.room.pinned_events), others' pins included;
    `pin_refused` are rooms where the bot lacks the power level to change it."""

    room_members: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    pin_refused: set[str] = field(default_factory=set)
    pinned: dict[str, list[str]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    redactions: list[Redaction] = field(default_factory=list)
    unpins: list[tuple[str, str]] = field(default_factory=list)
    ledger: dict[str, str] = field(default_factory=dict)
    #: what else happens while a pin request is in flight (the sync loop runs meanwhile)
    during_pin: Callable[[str, str], Awaitable[None]] | None = None
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
        if self.during_pin is not None:
            await self.during_pin(room_id, event_id)
        if room_id in self.pin_refused:
            return False
        pins = self.pinned.setdefault(room_id, [])
        if event_id not in pins:
            pins.append(event_id)
        return True

    async def unpin(self, room_id: str, event_id: str) -> bool:
        if room_id in self.pin_refused:
            return False
        self.unpins.append((room_id, event_id))
        pins = self.pinned.setdefault(room_id, [])
        if event_id in pins:
            pins.remove(event_id)
        return True

    async def upload(
        self, room_id: str, data: bytes, filename: str, mimetype: str, key: str
    ) -> str | None:
        event_id, _ = self._event_id(key)
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
        return len(self.room_members.get(room_id, []))

    def room_name(self, room_id: str) -> str:
        return self.names.get(room_id, room_id)

    def display_name(self, room_id: str, user_id: str) -> str:
        return user_id.split(":")[0].lstrip("@")

    # -- views

    def sent_with(self, prefix: str) -> list[Sent]:
        return [s for s in self.sent if s.key.startswith(prefix)]


def make_config(tmp_path: Path, **announcements: Any) -> Config:
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "bots": {
            "announce": {
                "user_id": BOT,
                "password": "secret",
                "pickle_key": "0123456789abcdef",
                "features": ["announcements"],
            },
            "tasks": {
                "user_id": OTHER_BOT,
                "password": "secret",
                "pickle_key": "0123456789abcdef",
                "features": ["tasks"],
            },
        },
        "departments": [
            {"id": "soumu", "name": {"ja": "総務課"}, "rooms": [ROOM], "leads": [KACHO]},
            {"id": "kensetsu", "name": {"ja": "建設課"}, "rooms": [ROOM_B], "leads": [BUCHO]},
        ],
        "roles": {"announcer": {"users": [KOHO]}, "admin": {"users": [ADMIN]}},
        "announcements": {
            "groups": [
                {
                    "id": "zenchou",
                    "name": {"ja": "全庁", "en": "all"},
                    "departments": ["soumu", "kensetsu"],
                    "rooms": [ROOM_C],
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
class World:
    service: AnnouncementService
    messenger: FakeMessenger
    store: AnnouncementStore
    config: Config
    db: Database


Factory = Callable[..., World]


@pytest.fixture
def make_world(db: Database, tmp_path: Path) -> Factory:
    def make(*, pin_refused: Sequence[str] = (), **announcements: Any) -> World:
        config = make_config(tmp_path, **announcements)
        messenger = FakeMessenger(
            room_members={
                ROOM: [BOT, OTHER_BOT, KOHO, TANAKA, SUZUKI, YAMADA, KACHO],
                ROOM_B: [BOT, TANAKA, BUCHO],
                ROOM_C: [BOT, HISHO, TANAKA, SUZUKI],
            },
            names={ROOM: "総務課", ROOM_B: "建設課", ROOM_C: "庁内ひろば"},
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
        return World(service, messenger, store, config, db)

    return make


@pytest.fixture
def world(make_world: Factory) -> World:
    return make_world()


async def announce(
    w: World,
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


async def reload(w: World, ann: Announcement) -> Announcement:
    fresh = await w.store.get(ann.id)
    assert fresh is not None
    return fresh


async def count_rows(w: World, table: str) -> int:
    row = await w.db.fetchone(f"SELECT COUNT(*) FROM {table}")
    assert row is not None
    return int(row[0])


async def copy_event(w: World, ann: Announcement, room: str) -> str:
    for copy in await w.store.copies(ann.id):
        if copy.room_id == room:
            assert copy.event_id is not None
            return copy.event_id
    raise AssertionError(f"no copy in {room}")


def mentioned(content: dict[str, Any]) -> list[str]:
    return list(content["m.mentions"].get("user_ids", []))


# --- create ----------------------------------------------------------------------------


async def test_announcer_publishes_to_the_room_and_pins(world: World) -> None:
    result = await announce(world)
    ann = result.announcement
    assert result.rooms == 1
    assert result.not_pinned == ()
    assert ann.state is State.PUBLISHED
    assert ann.target == "room"
    assert ann.author == KOHO
    assert ann.origin_room == ROOM
    assert ann.next_reminder_at is None  # no acknowledgement asked for

    [message] = world.messenger.sent
    assert message.room_id == ROOM
    assert message.key == f"announce:{ann.id}:{ROOM}"
    assert message.content["msgtype"] == "m.text"
    assert message.content["m.mentions"] == {}  # not important: nobody is notified
    assert f"No.{ann.id}: 年末年始の窓口業務" in message.content["body"]
    assert "**12月29日**" in message.content["body"]  # the plain body is the Markdown
    html = message.content["formatted_body"]
    assert message.content["format"] == "org.matrix.custom.html"
    assert "<strong>12月29日</strong>" in html
    assert "<li>本庁舎</li>" in html

    [copy] = await world.store.copies(ann.id)
    assert copy.event_id == message.event_id
    assert copy.pinned
    assert world.messenger.pinned[ROOM] == ["$someone-elses-pin", message.event_id]


async def test_important_announcement_notifies_the_room(world: World) -> None:
    await announce(world, important=True)
    [message] = world.messenger.sent
    assert message.content["m.mentions"] == {"room": True}


async def test_raw_html_in_the_body_and_title_is_escaped(world: World) -> None:
    await announce(
        world,
        title="<b>見出し</b>",
        body='<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">',
    )
    [message] = world.messenger.sent
    html = message.content["formatted_body"]
    assert "<script>" not in html
    assert "<img" not in html
    assert "<b>見出し</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;見出し&lt;/b&gt;" in html


async def test_acknowledgement_hint_and_expiry_in_the_message(world: World) -> None:
    await announce(world, ack=True, expires_at=NOW + timedelta(days=2))
    [message] = world.messenger.sent
    assert "了解" in message.content["body"]
    assert "掲載期限: 11月27日(金) 10:00" in message.content["body"]


async def test_non_announcer_may_not_announce(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await announce(world, TANAKA)
    assert info.value.key == "error.permission"
    assert info.value.params == {"role": "お知らせ発信者"}
    assert await count_rows(world, "announcements") == 0
    assert await count_rows(world, "announcement_copies") == 0
    assert world.messenger.sent == []
    assert world.messenger.pinned[ROOM] == ["$someone-elses-pin"]


async def test_group_announcer_alone_may_not_announce_to_the_room(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await announce(world, HISHO)
    assert info.value.key == "error.permission"


async def test_admin_may_announce(world: World) -> None:
    result = await announce(world, ADMIN)
    assert result.announcement.state is State.PUBLISHED
    assert len(world.messenger.sent) == 1


async def test_group_announcement_sends_one_copy_per_room(world: World) -> None:
    result = await announce(world, HISHO, room=ROOM_C, group="全庁")
    ann = result.announcement
    assert result.rooms == 3
    assert result.not_pinned == ()
    assert ann.target == "zenchou"
    assert ann.state is State.PUBLISHED

    sent = world.messenger.sent
    assert sorted(s.room_id for s in sent) == sorted([ROOM, ROOM_B, ROOM_C])
    assert len({s.key for s in sent}) == 3
    assert {s.key for s in sent} == {f"announce:{ann.id}:{r}" for r in (ROOM, ROOM_B, ROOM_C)}
    copies = await world.store.copies(ann.id)
    assert len(copies) == 3
    for copy in copies:
        assert copy.pinned
        assert copy.event_id in world.messenger.pinned[copy.room_id]


@pytest.mark.parametrize("name", ["zenchou", "全庁", "ALL", "全職員", "ＺＥＮＣＨＯＵ"])
async def test_group_found_by_id_names_and_aliases(world: World, name: str) -> None:
    result = await announce(world, HISHO, room=ROOM_C, group=name)
    assert result.announcement.target == "zenchou"


async def test_admin_may_announce_to_any_group(world: World) -> None:
    result = await announce(world, ADMIN, room=ROOM, group="全庁")
    assert result.rooms == 3


async def test_room_announcer_not_listed_for_the_group_is_refused(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await announce(world, KOHO, group="全庁")
    assert info.value.key == "announce.error.group_permission"
    assert info.value.params == {"group": "全庁"}
    assert await count_rows(world, "announcements") == 0
    assert world.messenger.sent == []


async def test_staff_may_not_announce_to_a_group(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await announce(world, TANAKA, room=ROOM_C, group="zenchou")
    assert info.value.key == "announce.error.group_permission"


async def test_unknown_group(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await announce(world, HISHO, group="市議会")
    assert info.value.key == "announce.error.unknown_group"
    assert info.value.params["name"] == "市議会"
    assert "全庁" in info.value.params["known"]
    assert await count_rows(world, "announcements") == 0
    assert world.messenger.sent == []


async def test_group_without_rooms(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await announce(world, HISHO, group="空")
    assert info.value.key == "announce.error.no_rooms"
    assert await count_rows(world, "announcements") == 0


async def test_room_refusing_the_pin_is_reported_and_the_rest_published(
    make_world: Factory,
) -> None:
    w = make_world(pin_refused=[ROOM_B])
    result = await announce(w, HISHO, room=ROOM_C, group="全庁")
    ann = result.announcement
    assert result.not_pinned == (ROOM_B,)
    assert ann.state is State.PUBLISHED
    assert len(w.messenger.sent) == 3
    pinned = {c.room_id: c.pinned for c in await w.store.copies(ann.id)}
    assert pinned == {ROOM: True, ROOM_B: False, ROOM_C: True}
    assert ROOM_B not in w.messenger.pinned


async def test_max_pins_unpins_the_oldest_announcement_and_keeps_others_pins(
    make_world: Factory,
) -> None:
    w = make_world(max_pins=2)
    first = (await announce(w, title="一", now=NOW)).announcement
    second = (await announce(w, title="二", now=NOW + timedelta(minutes=1))).announcement
    ev1, ev2 = await copy_event(w, first, ROOM), await copy_event(w, second, ROOM)
    assert w.messenger.pinned[ROOM] == ["$someone-elses-pin", ev1, ev2]
    assert w.messenger.unpins == []

    third = (await announce(w, title="三", now=NOW + timedelta(minutes=2))).announcement
    ev3 = await copy_event(w, third, ROOM)
    assert w.messenger.unpins == [(ROOM, ev1)]
    assert w.messenger.pinned[ROOM] == ["$someone-elses-pin", ev2, ev3]
    assert [c.announcement_id for c in await w.store.pinned_in_room(ROOM)] == [
        second.id,
        third.id,
    ]
    [copy] = await w.store.copies(first.id)
    assert not copy.pinned


async def test_max_pins_counts_per_room(make_world: Factory) -> None:
    w = make_world(max_pins=1)
    await announce(w, room=ROOM)
    await announce(w, ADMIN, room=ROOM_B)
    assert w.messenger.unpins == []


# --- scheduled, expiry -------------------------------------------------------------------


async def test_scheduled_announcement_is_sent_once_when_due(world: World) -> None:
    publish_at = NOW + timedelta(days=1)
    result = await announce(world, publish_at=publish_at)
    ann = result.announcement
    assert ann.state is State.SCHEDULED
    assert result.rooms == 1
    assert world.messenger.sent == []
    [copy] = await world.store.copies(ann.id)
    assert copy.event_id is None

    assert await world.service.run_due(publish_at - timedelta(minutes=1)) == 0
    assert world.messenger.sent == []

    assert await world.service.run_due(publish_at) == 1
    [message] = world.messenger.sent
    assert message.room_id == ROOM
    assert (await reload(world, ann)).state is State.PUBLISHED
    assert world.messenger.pinned[ROOM][-1] == message.event_id

    assert await world.service.run_due(publish_at + timedelta(minutes=1)) == 0
    assert await world.service.run_due(publish_at + timedelta(minutes=1)) == 0
    assert len(world.messenger.sent) == 1


async def test_scheduled_group_announcement_sends_every_copy(world: World) -> None:
    publish_at = NOW + timedelta(hours=3)
    result = await announce(world, HISHO, room=ROOM_C, group="全庁", publish_at=publish_at)
    assert result.rooms == 3
    assert world.messenger.sent == []
    await world.service.run_due(publish_at + timedelta(hours=1))
    await world.service.run_due(publish_at + timedelta(hours=2))
    assert sorted(s.room_id for s in world.messenger.sent) == sorted([ROOM, ROOM_B, ROOM_C])


async def test_expiry_unpins_and_marks_expired(world: World) -> None:
    expires_at = NOW + timedelta(hours=2)
    ann = (await announce(world, expires_at=expires_at)).announcement
    event_id = await copy_event(world, ann, ROOM)
    assert event_id in world.messenger.pinned[ROOM]

    assert await world.service.run_due(expires_at - timedelta(seconds=1)) == 0
    assert (await reload(world, ann)).state is State.PUBLISHED

    assert await world.service.run_due(expires_at) == 1
    assert (await reload(world, ann)).state is State.EXPIRED
    assert world.messenger.unpins == [(ROOM, event_id)]
    assert world.messenger.pinned[ROOM] == ["$someone-elses-pin"]
    [copy] = await world.store.copies(ann.id)
    assert not copy.pinned
    assert world.messenger.redactions == []  # expired, not retracted: the message stays

    assert await world.service.run_due(expires_at + timedelta(hours=1)) == 0
    assert await world.store.active_in_room(ROOM) == []


async def test_expired_announcement_is_neither_edited_nor_acknowledged(world: World) -> None:
    expires_at = NOW + timedelta(hours=2)
    ann = (await announce(world, ack=True, expires_at=expires_at)).announcement
    event_id = await copy_event(world, ann, ROOM)
    await world.service.run_due(expires_at)
    with pytest.raises(CommandError) as info:
        await world.service.edit(KOHO, ROOM, await reload(world, ann), "新", "新本文", NOW)
    assert info.value.key == "announce.error.not_active"
    assert await world.service.on_reaction(ROOM, TANAKA, event_id, "✅", expires_at) is None
    assert await world.store.acknowledged_by(ann.id) == set()


# --- edit, retract -------------------------------------------------------------------------


async def test_edit_replaces_every_copy_with_a_key_per_version(world: World) -> None:
    ann = (await announce(world, HISHO, room=ROOM_C, group="全庁")).announcement
    copies = {c.room_id: c.event_id for c in await world.store.copies(ann.id)}

    edited = await world.service.edit(HISHO, ROOM_C, ann, "変更後の題", "新しい本文", NOW)
    assert edited.version == 1
    assert edited.title == "変更後の題"
    assert len(world.messenger.edits) == 3
    assert {(e.room_id, e.target) for e in world.messenger.edits} == set(copies.items())
    for e in world.messenger.edits:
        assert "変更後の題" in e.content["body"]
        assert "新しい本文" in e.content["body"]
        assert e.key == f"announce-edit:{ann.id}:1:{e.room_id}"

    again = await world.service.edit(HISHO, ROOM_C, edited, "三度目", "本文3", NOW)
    assert again.version == 2
    assert len(world.messenger.edits) == 6
    assert len({e.key for e in world.messenger.edits}) == 6
    assert {e.target for e in world.messenger.edits[3:]} == set(copies.values())
    assert len(world.messenger.sent) == 3  # an edit is no new message


async def test_edit_of_a_scheduled_announcement_changes_what_is_sent(world: World) -> None:
    publish_at = NOW + timedelta(hours=1)
    ann = (await announce(world, publish_at=publish_at)).announcement
    await world.service.edit(KOHO, ROOM, ann, "直した題", "直した本文", NOW)
    assert world.messenger.edits == []
    await world.service.run_due(publish_at)
    [message] = world.messenger.sent
    assert "直した題" in message.content["body"]


async def test_edit_by_someone_else_is_refused_and_admin_may(world: World) -> None:
    ann = (await announce(world)).announcement
    with pytest.raises(CommandError) as info:
        await world.service.edit(TANAKA, ROOM, ann, "乗っ取り", "本文", NOW)
    assert info.value.key == "announce.error.not_yours"
    assert info.value.params == {"number": ann.id}
    assert world.messenger.edits == []
    assert (await reload(world, ann)).title == "年末年始の窓口業務"

    edited = await world.service.edit(ADMIN, ROOM, ann, "管理者の修正", "本文", NOW)
    assert edited.title == "管理者の修正"
    assert len(world.messenger.edits) == 1


async def test_retract_redacts_and_unpins_every_copy(world: World) -> None:
    ann = (await announce(world, HISHO, room=ROOM_C, group="全庁", ack=True)).announcement
    copies = {c.room_id: c.event_id for c in await world.store.copies(ann.id)}

    assert await world.service.retract(HISHO, ROOM_C, ann, NOW) == 3
    fresh = await reload(world, ann)
    assert fresh.state is State.RETRACTED
    assert fresh.next_reminder_at is None
    assert {(r.room_id, r.target) for r in world.messenger.redactions} == set(copies.items())
    assert len({r.key for r in world.messenger.redactions}) == 3
    assert all(f"No.{ann.id}" in r.reason for r in world.messenger.redactions)
    assert sorted(world.messenger.unpins) == sorted(copies.items())
    assert world.messenger.pinned[ROOM] == ["$someone-elses-pin"]
    assert world.messenger.pinned[ROOM_B] == []
    assert not any(c.pinned for c in await world.store.copies(ann.id))

    # no reminders for it, and no second retraction
    assert await world.service.run_due(NOW + timedelta(days=3)) == 0
    with pytest.raises(CommandError) as info:
        await world.service.retract(HISHO, ROOM_C, fresh, NOW)
    assert info.value.key == "announce.error.not_active"
    assert len(world.messenger.redactions) == 3


async def test_retract_only_by_author_or_admin(world: World) -> None:
    ann = (await announce(world)).announcement
    for user in (TANAKA, KACHO, HISHO):
        with pytest.raises(CommandError) as info:
            await world.service.retract(user, ROOM, ann, NOW)
        assert info.value.key == "announce.error.not_yours"
    assert world.messenger.redactions == []
    assert (await reload(world, ann)).state is State.PUBLISHED

    assert await world.service.retract(ADMIN, ROOM, ann, NOW) == 1
    assert (await reload(world, ann)).state is State.RETRACTED


async def test_retracted_announcement_is_not_edited_nor_acknowledged(world: World) -> None:
    ann = (await announce(world, ack=True)).announcement
    event_id = await copy_event(world, ann, ROOM)
    await world.service.retract(KOHO, ROOM, ann, NOW)
    with pytest.raises(CommandError) as info:
        await world.service.edit(KOHO, ROOM, await reload(world, ann), "新", "本文", NOW)
    assert info.value.key == "announce.error.not_active"
    assert world.messenger.edits == []
    assert await world.service.on_reply(ROOM, TANAKA, event_id, "了解", NOW) is None


async def test_retracted_scheduled_announcement_is_never_sent(world: World) -> None:
    publish_at = NOW + timedelta(hours=1)
    ann = (await announce(world, publish_at=publish_at)).announcement
    assert await world.service.retract(KOHO, ROOM, ann, NOW) == 0
    assert await world.service.run_due(publish_at) == 0
    assert world.messenger.sent == []


async def test_get_unknown_number(world: World) -> None:
    with pytest.raises(CommandError) as info:
        await world.service.get(99)
    assert info.value.key == "announce.error.not_found"
    assert info.value.params == {"number": 99}


# --- acknowledgements --------------------------------------------------------------------


@pytest.mark.parametrize("key", ["✅", "✔️", "👍"])
async def test_acknowledge_by_reaction(world: World, key: str) -> None:
    ann = (await announce(world, ack=True)).announcement
    event_id = await copy_event(world, ann, ROOM)
    found = await world.service.on_reaction(ROOM, TANAKA, event_id, key, NOW)
    assert found is not None and found.id == ann.id
    assert await world.store.acknowledged_by(ann.id) == {TANAKA}


async def test_other_reactions_do_not_acknowledge(world: World) -> None:
    ann = (await announce(world, ack=True)).announcement
    event_id = await copy_event(world, ann, ROOM)
    assert await world.service.on_reaction(ROOM, TANAKA, event_id, "🎉", NOW) is None
    assert await world.store.acknowledged_by(ann.id) == set()


@pytest.mark.parametrize(
    "text", ["了解", "確認しました", "OK", "ok", "了解しました。", "了解！", "ＯＫ", " Ack "]
)
async def test_acknowledge_by_reply(world: World, text: str) -> None:
    ann = (await announce(world, ack=True)).announcement
    event_id = await copy_event(world, ann, ROOM)
    found = await world.service.on_reply(ROOM, SUZUKI, event_id, text, NOW)
    assert found is not None and found.id == ann.id
    assert await world.store.acknowledged_by(ann.id) == {SUZUKI}


@pytest.mark.parametrize("text", ["了解できません", "質問です", "OKですか?", ""])
async def test_other_replies_do_not_acknowledge(world: World, text: str) -> None:
    ann = (await announce(world, ack=True)).announcement
    event_id = await copy_event(world, ann, ROOM)
    assert await world.service.on_reply(ROOM, SUZUKI, event_id, text, NOW) is None
    assert await world.store.acknowledged_by(ann.id) == set()


async def test_acknowledge_by_number(world: World) -> None:
    ann = (await announce(world, HISHO, room=ROOM_C, group="全庁", ack=True)).announcement
    found = await world.service.acknowledge_number(ROOM_B, BUCHO, ann.id, NOW)
    assert found is not None and found.id == ann.id
    assert await world.store.acknowledged_by(ann.id) == {BUCHO}
    # twice is once
    assert await world.service.acknowledge_number(ROOM_B, BUCHO, ann.id, NOW) is not None
    assert await count_rows(world, "announcement_acks") == 1
    # a number that does not exist, or a room the announcement did not go to
    assert await world.service.acknowledge_number(ROOM_B, BUCHO, ann.id + 1, NOW) is None
    other = (await announce(world)).announcement
    assert await world.service.acknowledge_number(ROOM_B, BUCHO, other.id, NOW) is None


async def test_ack_of_another_rooms_copy_is_ignored(world: World) -> None:
    ann = (await announce(world, HISHO, room=ROOM_C, group="全庁", ack=True)).announcement
    in_room = await copy_event(world, ann, ROOM)
    assert await world.service.on_reaction(ROOM_B, BUCHO, in_room, "✅", NOW) is None
    assert await world.service.on_reply(ROOM_B, BUCHO, in_room, "了解", NOW) is None
    assert await world.store.acknowledged_by(ann.id) == set()


async def test_ack_by_the_bots_is_ignored(world: World) -> None:
    ann = (await announce(world, ack=True)).announcement
    event_id = await copy_event(world, ann, ROOM)
    assert await world.service.on_reaction(ROOM, BOT, event_id, "✅", NOW) is None
    assert await world.service.on_reply(ROOM, OTHER_BOT, event_id, "了解", NOW) is None
    assert await world.service.acknowledge_number(ROOM, BOT, ann.id, NOW) is None
    assert await world.store.acknowledged_by(ann.id) == set()


async def test_ack_of_an_unrelated_event_is_ignored(world: World) -> None:
    await announce(world, ack=True)
    assert await world.service.on_reaction(ROOM, TANAKA, "$chat", "✅", NOW) is None
    assert await count_rows(world, "announcement_acks") == 0


async def test_ack_of_a_scheduled_announcement_is_ignored(world: World) -> None:
    ann = (await announce(world, ack=True, publish_at=NOW + timedelta(hours=1))).announcement
    assert await world.service.acknowledge_number(ROOM, TANAKA, ann.id, NOW) is None


# --- reminders -------------------------------------------------------------------------------


async def test_reminders_mention_only_those_who_have_not_acknowledged(world: World) -> None:
    ann = (await announce(world, ack=True)).announcement
    event_id = await copy_event(world, ann, ROOM)
    assert ann.next_reminder_at == NOW + timedelta(days=1)
    await world.service.on_reaction(ROOM, TANAKA, event_id, "✅", NOW)
    await world.service.on_reply(ROOM, YAMADA, event_id, "了解", NOW)

    assert await world.service.run_due(NOW + timedelta(hours=23)) == 0
    assert world.messenger.sent_with("announce-remind:") == []

    assert await world.service.run_due(NOW + timedelta(days=1)) == 1
    [reminder] = world.messenger.sent_with("announce-remind:")
    assert reminder.room_id == ROOM
    assert reminder.key == f"announce-remind:{ann.id}:1:{ROOM}"
    # not the author, not the bots, not those who acknowledged
    assert mentioned(reminder.content) == sorted([SUZUKI, KACHO])
    assert reminder.content["m.relates_to"] == {"m.in_reply_to": {"event_id": event_id}}
    assert "suzuki" in reminder.content["body"]
    assert "tanaka" not in reminder.content["body"]
    assert world.messenger.sent_with("announce-lead:") == []  # not yet
    fresh = await reload(world, ann)
    assert fresh.reminders_sent == 1
    assert fresh.next_reminder_at == NOW + timedelta(days=2)

    # the same round is not repeated
    assert await world.service.run_due(NOW + timedelta(days=1, hours=1)) == 0
    assert len(world.messenger.sent_with("announce-remind:")) == 1


async def test_after_enough_rounds_the_leads_are_told(world: World) -> None:
    ann = (await announce(world, HISHO, room=ROOM_C, group="全庁", ack=True)).announcement
    for room in (ROOM, ROOM_C):
        await world.service.on_reaction(room, TANAKA, await copy_event(world, ann, room), "✅", NOW)
    await world.service.run_due(NOW + timedelta(days=1))
    assert world.messenger.sent_with("announce-lead:") == []
    round_1 = {s.room_id: mentioned(s.content) for s in world.messenger.sent_with("announce-")}
    assert round_1 == {
        ROOM: sorted([SUZUKI, YAMADA, KACHO, KOHO]),
        ROOM_B: [BUCHO],  # TANAKA acknowledged (in another room: one person, one ack)
        ROOM_C: [SUZUKI],
    }

    await world.service.run_due(NOW + timedelta(days=2))
    leads = {s.room_id: s for s in world.messenger.sent_with("announce-lead:")}
    # ROOM_C belongs to no department and no lead is a member of it
    assert set(leads) == {ROOM, ROOM_B}
    assert mentioned(leads[ROOM].content) == [KACHO]  # BUCHO is no member of ROOM
    assert mentioned(leads[ROOM_B].content) == [BUCHO]
    assert leads[ROOM].key == f"announce-lead:{ann.id}:2:{ROOM}"
    assert "suzuki" in leads[ROOM].content["body"]
    assert "2" in leads[ROOM].content["body"]
    assert len(world.messenger.sent_with(f"announce-remind:{ann.id}:2:")) == 3


async def test_reminders_before_lead_is_configurable(make_world: Factory) -> None:
    w = make_world(reminders_before_lead=1, remind_every="2h")
    ann = (await announce(w, ack=True)).announcement
    assert ann.next_reminder_at == NOW + timedelta(hours=2)
    await w.service.run_due(NOW + timedelta(hours=2))
    [lead] = w.messenger.sent_with("announce-lead:")
    assert mentioned(lead.content) == [KACHO]


async def test_no_reminders_when_everyone_acknowledged(world: World) -> None:
    ann = (await announce(world, ack=True)).announcement
    event_id = await copy_event(world, ann, ROOM)
    for user in (TANAKA, SUZUKI, YAMADA, KACHO):
        await world.service.on_reaction(ROOM, user, event_id, "✅", NOW)
    await world.service.run_due(NOW + timedelta(days=1))
    await world.service.run_due(NOW + timedelta(days=2))
    assert world.messenger.sent_with("announce-remind:") == []
    assert world.messenger.sent_with("announce-lead:") == []


async def test_no_reminders_without_ack_required(world: World) -> None:
    await announce(world)
    assert await world.service.run_due(NOW + timedelta(days=3)) == 0
    assert len(world.messenger.sent) == 1


# --- read positions and status -----------------------------------------------------------


async def test_status_acknowledged_seen_and_neither(world: World) -> None:
    service = world.service
    earlier = (await announce(world, title="先のお知らせ")).announcement
    await service.on_timeline(ROOM, await copy_event(world, earlier, ROOM))
    await service.on_timeline(ROOM, "$chat-before")
    ann = (await announce(world, ack=True, now=NOW + timedelta(minutes=5))).announcement
    copy = await copy_event(world, ann, ROOM)
    await service.on_timeline(ROOM, copy)  # the bot sees its own copy in the timeline
    await service.on_timeline(ROOM, "$chat-after")

    await service.on_receipt(ROOM, SUZUKI, "$chat-before")  # read only up to before it
    await service.on_receipt(ROOM, YAMADA, copy)  # read exactly up to it
    await service.on_receipt(ROOM, KACHO, "$chat-after")  # read past it
    await service.on_receipt(ROOM, TANAKA, "$chat-after")
    await service.on_reaction(ROOM, TANAKA, copy, "✅", NOW)  # and acknowledged
    await service.on_receipt(ROOM, KOHO, "$chat-after")  # the author: not the audience
    await service.on_receipt(ROOM, OTHER_BOT, "$chat-after")

    [room] = await service.status(ann)
    assert room.room_id == ROOM
    assert room.acknowledged == (TANAKA,)
    assert set(room.seen) == {YAMADA, KACHO}
    assert room.neither == (SUZUKI,)
    everyone = {*room.acknowledged, *room.seen, *room.neither}
    assert not everyone & {BOT, OTHER_BOT, KOHO}

    # the earlier announcement: all three who read at or past "$chat-before" saw it
    [before] = await service.status(earlier)
    assert set(before.seen) == {SUZUKI, YAMADA, KACHO, TANAKA}


async def test_copy_synced_back_during_a_scheduled_publication_is_placed(world: World) -> None:
    """run_due runs beside the sync loop: the copy's own event comes back in a sync while
    the bot is still pinning it. Its place in the timeline must be kept, or no receipt can
    ever count as having seen the announcement."""
    publish_at = NOW + timedelta(hours=1)
    ann = (await announce(world, ack=True, publish_at=publish_at)).announcement

    async def sync_delivers(room_id: str, event_id: str) -> None:
        await world.service.on_timeline(room_id, event_id)

    world.messenger.during_pin = sync_delivers
    await world.service.run_due(publish_at)
    world.messenger.during_pin = None
    await world.service.on_timeline(ROOM, "$chat-after")
    await world.service.on_receipt(ROOM, SUZUKI, "$chat-after")

    [room] = await world.service.status(ann)
    assert room.seen == (SUZUKI,)


async def test_receipts_never_move_back(world: World) -> None:
    service = world.service
    ann = (await announce(world, ack=True)).announcement
    copy = await copy_event(world, ann, ROOM)
    await service.on_timeline(ROOM, copy)
    await service.on_timeline(ROOM, "$later")
    await service.on_receipt(ROOM, SUZUKI, "$later")
    await service.on_receipt(ROOM, SUZUKI, "$unknown")  # never seen: tells nothing
    [room] = await service.status(ann)
    assert SUZUKI in room.seen


async def test_positions_are_kept_only_in_rooms_with_announcements(world: World) -> None:
    await world.service.on_timeline(ROOM_B, "$chat")
    await world.service.on_receipt(ROOM_B, BUCHO, "$chat")
    assert await count_rows(world, "room_positions") == 0
    ann = (await announce(world)).announcement
    await world.service.on_timeline(ROOM, await copy_event(world, ann, ROOM))
    await world.service.on_timeline(ROOM_B, "$chat-2")
    assert await count_rows(world, "room_positions") == 1


async def test_status_of_a_group_announcement_per_room(world: World) -> None:
    ann = (await announce(world, HISHO, room=ROOM_C, group="全庁", ack=True)).announcement
    await world.service.on_reaction(ROOM_B, BUCHO, await copy_event(world, ann, ROOM_B), "✅", NOW)
    statuses = {s.room_id: s for s in await world.service.status(ann)}
    assert set(statuses) == {ROOM, ROOM_B, ROOM_C}
    assert statuses[ROOM_B].acknowledged == (BUCHO,)
    assert statuses[ROOM_B].neither == (TANAKA,)
    assert HISHO not in statuses[ROOM_C].neither  # the author
    assert statuses[ROOM_C].neither == (TANAKA, SUZUKI)
    assert statuses[ROOM].neither == (KOHO, TANAKA, SUZUKI, YAMADA, KACHO)
    assert world.service.rooms_of(list(statuses.values())) == sorted([ROOM, ROOM_B, ROOM_C])


async def test_status_text_names_rooms_departments_missing_and_the_private_note(
    world: World,
) -> None:
    service = world.service
    ann = (await announce(world, HISHO, room=ROOM_C, group="全庁", ack=True)).announcement
    copy = await copy_event(world, ann, ROOM)
    await service.on_timeline(ROOM, copy)
    await service.on_receipt(ROOM, YAMADA, copy)
    await service.on_reaction(ROOM, KACHO, copy, "✅", NOW)

    text = await service.status_text(ann, "ja")
    lines = text.split("\n")
    assert lines[0] == f"お知らせ No.{ann.id} の状況(了解 / 既読のみ / 未読)"
    assert "総務課: 了解 1 / 既読のみ 1 / 未読 3" in lines
    assert "建設課: 了解 0 / 既読のみ 0 / 未読 2" in lines
    assert "庁内ひろば: 了解 0 / 既読のみ 0 / 未読 2" in lines
    assert "総務課 計: 了解 1 / 既読のみ 1 / 未読 3" in lines
    assert "建設課 計: 了解 0 / 既読のみ 0 / 未読 2" in lines
    missing = next(line for line in lines if line.startswith("未了解: "))
    for name in ("yamada", "koho", "suzuki", "tanaka", "bucho"):
        assert name in missing
    for name in ("kacho", "hisho", "announce"):
        assert name not in missing
    assert lines[-1] == CATALOG.t("ja", "announce.status.private")

    english = await service.status_text(ann, "en")
    assert "private read receipts" in english
    assert "総務課: acknowledged 1 / read only 1 / not read 3" in english
