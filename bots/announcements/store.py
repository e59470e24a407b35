"""Announcements in the store: each change one transaction; copies, acks, read positions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bots.announcements.model import Announcement, Copy, State
from bots.store.database import Database, Row
from bots.store.times import from_ms, to_ms

_COLUMNS = (
    "id, origin_room, author, target, title, body, important, ack_required, publish_at,"
    " expires_at, status, version, created_at, reminders_sent, next_reminder_at"
)


class AnnouncementStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        origin_room: str,
        author: str,
        target: str,
        title: str,
        body: str,
        important: bool,
        ack_required: bool,
        publish_at: datetime,
        expires_at: datetime | None,
        rooms: Sequence[str],
        now: datetime,
    ) -> Announcement:
        """The announcement and one pending copy per room, together."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO announcements (origin_room, author, target, title, body, important,"
                " ack_required, publish_at, expires_at, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    origin_room,
                    author,
                    target,
                    title,
                    body,
                    int(important),
                    int(ack_required),
                    to_ms(publish_at),
                    to_ms(expires_at) if expires_at else None,
                    State.SCHEDULED.value,
                    to_ms(now),
                ),
            )
            row = await tx.fetchone("SELECT MAX(id) FROM announcements")
            assert row is not None
            ann_id = int(row[0])
            for room in dict.fromkeys(rooms):
                await tx.execute(
                    "INSERT INTO announcement_copies (announcement_id, room_id) VALUES (?, ?)",
                    (ann_id, room),
                )
        found = await self.get(ann_id)
        assert found is not None
        return found

    async def get(self, ann_id: int) -> Announcement | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM announcements WHERE id = ?", (ann_id,)
        )
        return _announcement(row) if row else None

    async def get_by_copy(self, event_id: str) -> tuple[Announcement, Copy] | None:
        row = await self._db.fetchone(
            "SELECT announcement_id, room_id, event_id, pinned FROM announcement_copies"
            " WHERE event_id = ?",
            (event_id,),
        )
        if row is None:
            return None
        ann = await self.get(int(row[0]))
        return (ann, Copy(int(row[0]), str(row[1]), row[2], bool(row[3]))) if ann else None

    async def copies(self, ann_id: int) -> list[Copy]:
        rows = await self._db.fetchall(
            "SELECT announcement_id, room_id, event_id, pinned FROM announcement_copies"
            " WHERE announcement_id = ? ORDER BY room_id",
            (ann_id,),
        )
        return [Copy(int(r[0]), str(r[1]), r[2], bool(r[3])) for r in rows]

    async def active_in_room(self, room_id: str) -> list[Announcement]:
        rows = await self._db.fetchall(
            f"SELECT {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))}"
            " FROM announcements a JOIN announcement_copies c ON c.announcement_id = a.id"
            " WHERE c.room_id = ? AND a.status IN (?, ?) ORDER BY a.publish_at, a.id",
            (room_id, State.SCHEDULED.value, State.PUBLISHED.value),
        )
        return [_announcement(r) for r in rows]

    async def pinned_in_room(self, room_id: str) -> list[Copy]:
        """Announcement copies pinned in the room, oldest first."""
        rows = await self._db.fetchall(
            "SELECT announcement_id, room_id, event_id, pinned FROM announcement_copies"
            " WHERE room_id = ? AND pinned = 1 ORDER BY sent_at, announcement_id",
            (room_id,),
        )
        return [Copy(int(r[0]), str(r[1]), r[2], True) for r in rows]

    async def rooms_with_copies(self) -> set[str]:
        """Rooms of announcements that are (or are about to be) out: their timeline order
        and read receipts matter."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT c.room_id FROM announcement_copies c JOIN announcements a"
            " ON a.id = c.announcement_id WHERE a.status IN (?, ?)",
            (State.SCHEDULED.value, State.PUBLISHED.value),
        )
        return {str(r[0]) for r in rows}

    async def due_for_publication(self, now: datetime) -> list[Announcement]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM announcements WHERE status = ? AND publish_at <= ?"
            " ORDER BY publish_at, id",
            (State.SCHEDULED.value, to_ms(now)),
        )
        return [_announcement(r) for r in rows]

    async def due_for_expiry(self, now: datetime) -> list[Announcement]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM announcements WHERE status = ? AND expires_at IS NOT NULL"
            " AND expires_at <= ? ORDER BY expires_at, id",
            (State.PUBLISHED.value, to_ms(now)),
        )
        return [_announcement(r) for r in rows]

    async def due_for_reminder(self, now: datetime) -> list[Announcement]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM announcements WHERE status = ? AND ack_required = 1"
            " AND next_reminder_at IS NOT NULL AND next_reminder_at <= ? ORDER BY id",
            (State.PUBLISHED.value, to_ms(now)),
        )
        return [_announcement(r) for r in rows]

    async def mark_copy_sent(self, ann_id: int, room_id: str, event_id: str, now: datetime) -> None:
        await self._db.execute(
            "UPDATE announcement_copies SET event_id = ?, sent_at = ?"
            " WHERE announcement_id = ? AND room_id = ?",
            (event_id, to_ms(now), ann_id, room_id),
        )

    async def set_pinned(self, ann_id: int, room_id: str, pinned: bool) -> None:
        await self._db.execute(
            "UPDATE announcement_copies SET pinned = ? WHERE announcement_id = ? AND room_id = ?",
            (int(pinned), ann_id, room_id),
        )

    async def set_state(
        self, ann_id: int, state: State, next_reminder_at: datetime | None = None
    ) -> None:
        await self._db.execute(
            "UPDATE announcements SET status = ?, next_reminder_at = ? WHERE id = ?",
            (state.value, to_ms(next_reminder_at) if next_reminder_at else None, ann_id),
        )

    async def edit(self, ann_id: int, title: str, body: str) -> Announcement:
        await self._db.execute(
            "UPDATE announcements SET title = ?, body = ?, version = version + 1 WHERE id = ?",
            (title, body, ann_id),
        )
        found = await self.get(ann_id)
        assert found is not None
        return found

    async def reminded(self, ann_id: int, next_at: datetime) -> None:
        await self._db.execute(
            "UPDATE announcements SET reminders_sent = reminders_sent + 1, next_reminder_at = ?"
            " WHERE id = ?",
            (to_ms(next_at), ann_id),
        )

    # --- acknowledgements and reading ----------------------------------------------------

    async def acknowledge(
        self, ann_id: int, user_id: str, room_id: str, how: str, now: datetime
    ) -> bool:
        """False if the user had acknowledged before."""
        changed = await self._db.execute(
            "INSERT INTO announcement_acks (announcement_id, user_id, room_id, how, at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (announcement_id, user_id) DO NOTHING",
            (ann_id, user_id, room_id, how, to_ms(now)),
        )
        return changed > 0

    async def acknowledged_by(self, ann_id: int) -> set[str]:
        rows = await self._db.fetchall(
            "SELECT user_id FROM announcement_acks WHERE announcement_id = ?", (ann_id,)
        )
        return {str(r[0]) for r in rows}

    async def record_position(self, room_id: str, event_id: str) -> None:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM room_positions WHERE room_id = ?",
                (room_id,),
            )
            await tx.execute(
                "INSERT INTO room_positions (room_id, event_id, seq) VALUES (?, ?, ?)"
                " ON CONFLICT (room_id, event_id) DO NOTHING",
                (room_id, event_id, int(row[0]) if row else 1),
            )

    async def record_receipt(self, room_id: str, user_id: str, event_id: str) -> None:
        """A public read receipt: keep the furthest position read."""
        row = await self._db.fetchone(
            "SELECT seq FROM room_positions WHERE room_id = ? AND event_id = ?",
            (room_id, event_id),
        )
        if row is None:
            return  # an event the bot did not place: tells nothing about announcements
        await self._db.execute(
            "INSERT INTO read_receipts (room_id, user_id, event_id, seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = excluded.event_id,"
            " seq = excluded.seq WHERE excluded.seq > read_receipts.seq",
            (room_id, user_id, event_id, int(row[0])),
        )

    async def readers_past(self, room_id: str, event_id: str) -> set[str]:
        """Users whose public read receipt is at or after `event_id` in the room."""
        rows = await self._db.fetchall(
            "SELECT r.user_id FROM read_receipts r JOIN room_positions p"
            " ON p.room_id = r.room_id AND p.event_id = ?"
            " WHERE r.room_id = ? AND r.seq >= p.seq",
            (event_id, room_id),
        )
        return {str(r[0]) for r in rows}


def _announcement(row: Row) -> Announcement:
    (
        ann_id,
        origin_room,
        author,
        target,
        title,
        body,
        important,
        ack_required,
        publish_at,
        expires_at,
        status,
        version,
        created_at,
        reminders_sent,
        next_reminder_at,
    ) = row
    published = from_ms(publish_at)
    created = from_ms(created_at)
    assert published is not None and created is not None
    return Announcement(
        id=int(ann_id),
        origin_room=str(origin_room),
        author=str(author),
        target=str(target),
        title=str(title),
        body=str(body),
        important=bool(important),
        ack_required=bool(ack_required),
        publish_at=published,
        expires_at=from_ms(expires_at),
        state=State(status),
        version=int(version),
        created_at=created,
        reminders_sent=int(reminders_sent),
        next_reminder_at=from_ms(next_reminder_at),
    )
