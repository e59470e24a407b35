"""AnnouncementService over time and read state: scheduled publication, expiry, reminders,
read positions and status; against a real store and a recording Messenger."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.announcements.model import State
from bots.commands.errors import CommandError
from bots.store.database import Database
from tests.unit.fakes import ANNOUNCE_BOT as BOT
from tests.unit.fakes import ANNOUNCE_ROOM_C as ROOM_C
from tests.unit.fakes import (
    BUCHO,
    CATALOG,
    HISHO,
    KACHO,
    KOHO,
    NOW,
    OTHER_BOT,
    ROOM,
    ROOM_B,
    SUZUKI,
    TANAKA,
    YAMADA,
    announce,
    announcements_world,
    copy_event,
    count_rows,
)
from tests.unit.fakes import AnnouncementsFactory as Factory
from tests.unit.fakes import AnnouncementsWorld as World
from tests.unit.fakes import mentions as mentioned
from tests.unit.fakes import reload_announcement as reload

pytestmark = pytest.mark.postgresql


@pytest.fixture
def make_world(db: Database, tmp_path: Path) -> Factory:
    def make(**options: Any) -> World:
        return announcements_world(db, tmp_path, **options)

    return make


@pytest.fixture
def world(make_world: Factory) -> World:
    return make_world()


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
