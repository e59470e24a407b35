"""AnnouncementService after publishing: edit, retract and acknowledgements; against a real
store and a recording Messenger (edits and redactions tracked per room)."""

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
    BUCHO,
    HISHO,
    KACHO,
    KOHO,
    NOW,
    OTHER_BOT,
    ROOM,
    ROOM_B,
    SUZUKI,
    TANAKA,
    announce,
    announcements_world,
    copy_event,
    count_rows,
)
from tests.unit.fakes import ANNOUNCE_BOT as BOT
from tests.unit.fakes import ANNOUNCE_ROOM_C as ROOM_C
from tests.unit.fakes import AnnouncementsFactory as Factory
from tests.unit.fakes import AnnouncementsWorld as World
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
