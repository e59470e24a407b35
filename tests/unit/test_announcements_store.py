"""AnnouncementStore against a real migrated SQLite database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bots.announcements.model import Announcement, Copy, State
from bots.announcements.store import AnnouncementStore
from bots.store.database import Database

pytestmark = pytest.mark.postgresql

TOKYO = ZoneInfo("Asia/Tokyo")
SERVER = "city.example.jp"
ROOM = f"!soumu:{SERVER}"
ROOM_B = f"!kensetsu:{SERVER}"
ROOM_C = f"!kikaku:{SERVER}"
KOHO = f"@koho:{SERVER}"
TANAKA = f"@tanaka:{SERVER}"
SUZUKI = f"@suzuki:{SERVER}"
YAMADA = f"@yamada:{SERVER}"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)


@pytest.fixture
def store(db: Database) -> AnnouncementStore:
    return AnnouncementStore(db)


async def create(
    store: AnnouncementStore,
    rooms: Sequence[str] = (ROOM,),
    *,
    title: str = "年末年始の窓口業務",
    publish_at: datetime = NOW,
    expires_at: datetime | None = None,
    ack: bool = False,
    important: bool = False,
    now: datetime = NOW,
) -> Announcement:
    return await store.create(
        ROOM,
        KOHO,
        "room" if list(rooms) == [ROOM] else "zenchou",
        title,
        "本文\n\n- 一\n- 二",
        important,
        ack,
        publish_at,
        expires_at,
        rooms,
        now,
    )


async def publish(store: AnnouncementStore, ann: Announcement, now: datetime = NOW) -> None:
    """What the service does: every copy sent, then the state."""
    for n, copy in enumerate(await store.copies(ann.id)):
        await store.mark_copy_sent(ann.id, copy.room_id, f"$a{ann.id}-{n}", now)
    next_reminder = now + timedelta(days=1) if ann.ack_required else None
    await store.set_state(ann.id, State.PUBLISHED, next_reminder)


# --- announcements and copies --------------------------------------------------------------


async def test_create_stores_every_field(store: AnnouncementStore) -> None:
    expires = NOW + timedelta(days=2)
    ann = await create(
        store, publish_at=NOW + timedelta(hours=1), expires_at=expires, ack=True, important=True
    )
    assert ann == Announcement(
        id=ann.id,
        origin_room=ROOM,
        author=KOHO,
        target="room",
        title="年末年始の窓口業務",
        body="本文\n\n- 一\n- 二",
        important=True,
        ack_required=True,
        publish_at=NOW + timedelta(hours=1),
        expires_at=expires,
        state=State.SCHEDULED,
        version=0,
        created_at=NOW,
        reminders_sent=0,
        next_reminder_at=None,
    )
    assert ann.publish_at.tzinfo is not None
    assert await store.get(ann.id) == ann
    assert await store.get(ann.id + 1) is None


async def test_numbers_count_up(store: AnnouncementStore) -> None:
    first = await create(store)
    second = await create(store)
    assert second.id == first.id + 1


async def test_one_pending_copy_per_room_without_repeats(store: AnnouncementStore) -> None:
    ann = await create(store, [ROOM_B, ROOM, ROOM_B, ROOM_C, ROOM])
    copies = await store.copies(ann.id)
    assert copies == [Copy(ann.id, room, None, False) for room in sorted([ROOM, ROOM_B, ROOM_C])]
    assert await store.copies(ann.id + 1) == []


async def test_copy_sent_and_pinned(store: AnnouncementStore) -> None:
    ann = await create(store, [ROOM, ROOM_B])
    await store.mark_copy_sent(ann.id, ROOM, "$one", NOW)
    await store.set_pinned(ann.id, ROOM, True)
    copies = {c.room_id: c for c in await store.copies(ann.id)}
    assert copies[ROOM] == Copy(ann.id, ROOM, "$one", True)
    assert copies[ROOM_B] == Copy(ann.id, ROOM_B, None, False)

    found = await store.get_by_copy("$one")
    assert found is not None
    assert found[0].id == ann.id
    assert found[1] == Copy(ann.id, ROOM, "$one", True)
    assert await store.get_by_copy("$other") is None

    await store.set_pinned(ann.id, ROOM, False)
    assert not any(c.pinned for c in await store.copies(ann.id))


async def test_states(store: AnnouncementStore) -> None:
    ann = await create(store, ack=True)
    assert ann.state is State.SCHEDULED
    await store.set_state(ann.id, State.PUBLISHED, NOW + timedelta(days=1))
    published = await store.get(ann.id)
    assert published is not None
    assert published.state is State.PUBLISHED
    assert published.next_reminder_at == NOW + timedelta(days=1)
    await store.set_state(ann.id, State.EXPIRED)
    expired = await store.get(ann.id)
    assert expired is not None
    assert expired.state is State.EXPIRED
    assert expired.next_reminder_at is None
    await store.set_state(ann.id, State.RETRACTED)
    retracted = await store.get(ann.id)
    assert retracted is not None and retracted.state is State.RETRACTED


async def test_edit_counts_versions(store: AnnouncementStore) -> None:
    ann = await create(store)
    once = await store.edit(ann.id, "新しい題", "新しい本文")
    assert (once.title, once.body, once.version) == ("新しい題", "新しい本文", 1)
    twice = await store.edit(ann.id, "三", "3")
    assert twice.version == 2
    assert twice.publish_at == ann.publish_at


async def test_reminded_counts_rounds(store: AnnouncementStore) -> None:
    ann = await create(store, ack=True)
    await publish(store, ann)
    await store.reminded(ann.id, NOW + timedelta(days=2))
    await store.reminded(ann.id, NOW + timedelta(days=3))
    fresh = await store.get(ann.id)
    assert fresh is not None
    assert fresh.reminders_sent == 2
    assert fresh.next_reminder_at == NOW + timedelta(days=3)


async def test_active_in_room_and_rooms_with_copies(store: AnnouncementStore) -> None:
    scheduled = await create(store, [ROOM], publish_at=NOW + timedelta(hours=2))
    published = await create(store, [ROOM, ROOM_B])
    await publish(store, published)
    expired = await create(store, [ROOM, ROOM_C])
    await publish(store, expired)
    await store.set_state(expired.id, State.EXPIRED)

    # published first (earlier publish_at), then the scheduled one
    assert [a.id for a in await store.active_in_room(ROOM)] == [published.id, scheduled.id]
    assert [a.id for a in await store.active_in_room(ROOM_B)] == [published.id]
    assert await store.active_in_room(ROOM_C) == []
    assert await store.rooms_with_copies() == {ROOM, ROOM_B}


async def test_pinned_in_room_oldest_first(store: AnnouncementStore) -> None:
    anns = [await create(store, [ROOM, ROOM_B], title=f"No{i}") for i in range(3)]
    # sent in the order 2, 0, 1
    for minutes, ann in zip((5, 10, 1), anns, strict=True):
        for room in (ROOM, ROOM_B):
            await store.mark_copy_sent(
                ann.id, room, f"${ann.id}{room}", NOW + timedelta(minutes=minutes)
            )
            await store.set_pinned(ann.id, room, True)
    await store.set_pinned(anns[0].id, ROOM_B, False)
    pinned = await store.pinned_in_room(ROOM)
    assert [c.announcement_id for c in pinned] == [anns[2].id, anns[0].id, anns[1].id]
    assert all(c.pinned and c.room_id == ROOM for c in pinned)
    assert [c.announcement_id for c in await store.pinned_in_room(ROOM_B)] == [
        anns[2].id,
        anns[1].id,
    ]
    assert await store.pinned_in_room(ROOM_C) == []


# --- due queries -----------------------------------------------------------------------------


async def test_due_for_publication(store: AnnouncementStore) -> None:
    later = await create(store, publish_at=NOW + timedelta(hours=2))
    sooner = await create(store, publish_at=NOW + timedelta(hours=1))
    already = await create(store, publish_at=NOW)
    await publish(store, already)
    gone = await create(store, publish_at=NOW + timedelta(minutes=30))
    await store.set_state(gone.id, State.RETRACTED)

    assert await store.due_for_publication(NOW + timedelta(minutes=59)) == []
    assert [a.id for a in await store.due_for_publication(NOW + timedelta(hours=1))] == [sooner.id]
    assert [a.id for a in await store.due_for_publication(NOW + timedelta(days=1))] == [
        sooner.id,
        later.id,
    ]


async def test_due_for_expiry(store: AnnouncementStore) -> None:
    never = await create(store)
    await publish(store, never)
    soon = await create(store, expires_at=NOW + timedelta(hours=1))
    await publish(store, soon)
    scheduled = await create(
        store, publish_at=NOW + timedelta(minutes=10), expires_at=NOW + timedelta(minutes=30)
    )
    retracted = await create(store, expires_at=NOW + timedelta(minutes=30))
    await publish(store, retracted)
    await store.set_state(retracted.id, State.RETRACTED)

    assert await store.due_for_expiry(NOW + timedelta(minutes=59)) == []
    due = await store.due_for_expiry(NOW + timedelta(hours=1))
    assert [a.id for a in due] == [soon.id]
    assert scheduled.id not in [a.id for a in await store.due_for_expiry(NOW + timedelta(days=9))]
    await store.set_state(soon.id, State.EXPIRED)
    assert await store.due_for_expiry(NOW + timedelta(days=9)) == []


async def test_due_for_reminder(store: AnnouncementStore) -> None:
    asked = await create(store, ack=True)
    await publish(store, asked)  # next reminder at NOW + 1 day
    not_asked = await create(store, ack=False)
    await publish(store, not_asked)
    await store.set_state(not_asked.id, State.PUBLISHED, NOW)  # a stray time: still not due
    scheduled = await create(store, ack=True, publish_at=NOW + timedelta(hours=1))

    assert await store.due_for_reminder(NOW + timedelta(hours=23)) == []
    assert [a.id for a in await store.due_for_reminder(NOW + timedelta(days=1))] == [asked.id]
    await store.reminded(asked.id, NOW + timedelta(days=2))
    assert await store.due_for_reminder(NOW + timedelta(days=1, hours=1)) == []
    assert [a.id for a in await store.due_for_reminder(NOW + timedelta(days=2))] == [asked.id]
    await store.set_state(asked.id, State.EXPIRED)
    assert await store.due_for_reminder(NOW + timedelta(days=9)) == []
    assert scheduled.id not in [a.id for a in await store.due_for_reminder(NOW + timedelta(days=9))]


async def test_times_round_trip_across_zones(store: AnnouncementStore) -> None:
    at = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    ann = await create(store, publish_at=at)
    assert [a.id for a in await store.due_for_publication(at.astimezone(TOKYO))] == [ann.id]
    assert (await store.due_for_publication(at - timedelta(milliseconds=1))) == []


# --- acknowledgements --------------------------------------------------------------------------


async def test_acknowledge_once(store: AnnouncementStore) -> None:
    ann = await create(store, [ROOM, ROOM_B], ack=True)
    await publish(store, ann)
    assert await store.acknowledge(ann.id, TANAKA, ROOM, "reaction", NOW) is True
    assert await store.acknowledge(ann.id, TANAKA, ROOM, "reply", NOW) is False
    assert await store.acknowledge(ann.id, TANAKA, ROOM_B, "command", NOW) is False
    assert await store.acknowledge(ann.id, SUZUKI, ROOM_B, "command", NOW) is True
    assert await store.acknowledged_by(ann.id) == {TANAKA, SUZUKI}

    other = await create(store, ack=True)
    assert await store.acknowledged_by(other.id) == set()
    assert await store.acknowledge(other.id, TANAKA, ROOM, "reaction", NOW) is True


async def test_first_acknowledgement_is_kept(store: AnnouncementStore, db: Database) -> None:
    ann = await create(store, ack=True)
    await store.acknowledge(ann.id, TANAKA, ROOM, "reaction", NOW)
    await store.acknowledge(ann.id, TANAKA, ROOM, "reply", NOW + timedelta(hours=1))
    row = await db.fetchone(
        "SELECT how, at FROM announcement_acks WHERE announcement_id = ? AND user_id = ?",
        (ann.id, TANAKA),
    )
    assert row is not None
    assert row[0] == "reaction"


# --- read positions ----------------------------------------------------------------------------


async def test_readers_past_an_event(store: AnnouncementStore) -> None:
    for event_id in ("$e1", "$copy", "$e3", "$e4"):
        await store.record_position(ROOM, event_id)
    await store.record_receipt(ROOM, TANAKA, "$e1")  # before the copy
    await store.record_receipt(ROOM, SUZUKI, "$copy")  # exactly at it
    await store.record_receipt(ROOM, YAMADA, "$e4")  # after it

    assert await store.readers_past(ROOM, "$copy") == {SUZUKI, YAMADA}
    assert await store.readers_past(ROOM, "$e1") == {TANAKA, SUZUKI, YAMADA}
    assert await store.readers_past(ROOM, "$e4") == {YAMADA}
    assert await store.readers_past(ROOM, "$never-seen") == set()
    assert await store.readers_past(ROOM_B, "$copy") == set()


async def test_positions_are_per_room_and_recorded_once(
    store: AnnouncementStore, db: Database
) -> None:
    await store.record_position(ROOM, "$a")
    await store.record_position(ROOM, "$b")
    await store.record_position(ROOM, "$a")  # seen again (a gap filled twice): same place
    await store.record_position(ROOM_B, "$x")
    rows = await db.fetchall(
        "SELECT room_id, event_id, seq FROM room_positions ORDER BY room_id, seq"
    )
    assert [tuple(r) for r in rows] == [(ROOM_B, "$x", 1), (ROOM, "$a", 1), (ROOM, "$b", 2)]


async def test_receipts_only_move_forward(store: AnnouncementStore) -> None:
    for event_id in ("$e1", "$copy", "$e3"):
        await store.record_position(ROOM, event_id)
    await store.record_receipt(ROOM, TANAKA, "$e3")
    await store.record_receipt(ROOM, TANAKA, "$e1")  # an older receipt arriving late
    assert await store.readers_past(ROOM, "$copy") == {TANAKA}

    await store.record_receipt(ROOM, SUZUKI, "$e1")
    assert await store.readers_past(ROOM, "$copy") == {TANAKA}
    await store.record_receipt(ROOM, SUZUKI, "$e3")
    assert await store.readers_past(ROOM, "$copy") == {TANAKA, SUZUKI}


async def test_receipt_for_an_unknown_event_is_ignored(
    store: AnnouncementStore, db: Database
) -> None:
    await store.record_position(ROOM, "$copy")
    await store.record_receipt(ROOM, TANAKA, "$unknown")
    await store.record_receipt(ROOM_B, TANAKA, "$copy")  # that event is in another room
    row = await db.fetchone("SELECT COUNT(*) FROM read_receipts")
    assert row is not None and row[0] == 0
    assert await store.readers_past(ROOM, "$copy") == set()


async def test_receipts_are_per_room(store: AnnouncementStore) -> None:
    await store.record_position(ROOM, "$copy")
    await store.record_position(ROOM_B, "$copy-b")
    await store.record_position(ROOM_B, "$later-b")
    await store.record_receipt(ROOM_B, TANAKA, "$later-b")
    assert await store.readers_past(ROOM, "$copy") == set()
    assert await store.readers_past(ROOM_B, "$copy-b") == {TANAKA}
