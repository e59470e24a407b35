"""AnnouncementService, publishing: who may announce where, the message, groups and pins;
against a real store and a recording Messenger (pins tracked per room)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.announcements.model import State
from bots.commands.errors import CommandError
from bots.store.database import Database
from tests.unit.fakes import (
    ADMIN,
    HISHO,
    KOHO,
    NOW,
    ROOM,
    ROOM_B,
    TANAKA,
    announce,
    announcements_world,
    copy_event,
    count_rows,
)
from tests.unit.fakes import ANNOUNCE_ROOM_C as ROOM_C
from tests.unit.fakes import AnnouncementsFactory as Factory
from tests.unit.fakes import AnnouncementsWorld as World

pytestmark = pytest.mark.postgresql


@pytest.fixture
def make_world(db: Database, tmp_path: Path) -> Factory:
    def make(**options: Any) -> World:
        return announcements_world(db, tmp_path, **options)

    return make


@pytest.fixture
def world(make_world: Factory) -> World:
    return make_world()


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
