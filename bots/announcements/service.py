"""The announcement workflow: publish (now or later) to rooms, pin, edit, retract, collect
acknowledgements and read positions, remind. Matrix only through the Messenger port."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bots.announcements.model import Announcement, Copy, RoomStatus, State
from bots.announcements.render import announcement_content
from bots.announcements.store import AnnouncementStore
from bots.commands.errors import CommandError
from bots.commands.router import Role
from bots.config import Config
from bots.config_announcements import AnnouncementGroup, AnnouncementSettings
from bots.i18n import Catalog
from bots.matrix import content as mc
from bots.messenger import Messenger

log = logging.getLogger(__name__)

RoleCheck = Callable[[str, str, Role], Awaitable[bool]]
GroupRooms = Callable[[AnnouncementGroup], Awaitable[list[str]]]
#: rooms published to at the same time
PUBLISH_CONCURRENCY = 8
ACK_REACTIONS = frozenset({"✅", "✔️", "✔", "☑️", "☑", "👍", "🙆"})
ACK_WORDS = frozenset(
    {
        "了解",
        "了解です",
        "了解しました",
        "りょうかい",
        "承知しました",
        "確認しました",
        "ack",
        "ok",
        "okay",
        "acknowledged",
        "roger",
    }
)


@dataclass(frozen=True)
class Published:
    announcement: Announcement
    rooms: int
    not_pinned: tuple[str, ...]  # rooms where the bot may not pin


class AnnouncementService:
    def __init__(
        self,
        store: AnnouncementStore,
        messenger: Messenger,
        catalog: Catalog,
        config: Config,
        role_check: RoleCheck,
        group_rooms: GroupRooms,
        is_own_user: Callable[[str], bool],
        room_names: Callable[[str], Awaitable[frozenset[str]]] | None = None,
    ) -> None:
        self.store = store
        self._messenger = messenger
        self._catalog = catalog
        self._config = config
        self._settings = config.announcements
        self._role_check = role_check
        self._group_rooms = group_rooms
        self._own = is_own_user
        self._rooms_with_copies: set[str] | None = None
        # one change at a time: the scheduler's run_due and a command may otherwise both
        # publish (the ledger keeps messages single, but pins are read-modify-write)
        self._lock = asyncio.Lock()
        self._room_names = room_names or _only_id

    @property
    def settings(self) -> AnnouncementSettings:
        return self._settings

    def timezone_for(self, user: str) -> ZoneInfo:
        return self._config.timezone_for(user)

    # --- who may ------------------------------------------------------------------------

    def find_group(self, name: str) -> AnnouncementGroup:
        wanted = unicodedata.normalize("NFKC", name).casefold()
        for group in self._settings.groups:
            names = {group.id, group.name.ja, group.name.en or "", *group.aliases}
            if wanted in {unicodedata.normalize("NFKC", n).casefold() for n in names if n}:
                return group
        known = "、".join(g.name.ja for g in self._settings.groups) or "-"
        raise CommandError("announce.error.unknown_group", name=name, known=known)

    async def _may_announce(self, user: str, room_id: str, group: AnnouncementGroup | None) -> None:
        if await self._role_check(user, room_id, Role.ADMIN):
            return
        if group is not None:
            if user not in group.announcers:
                raise CommandError("announce.error.group_permission", group=group.name.ja)
            return
        if not await self._role_check(user, room_id, Role.ANNOUNCER):
            raise CommandError(
                "error.permission",
                role=self._catalog.t(self._config.language_for(user), "role.announcer"),
            )

    async def require_author_or_admin(self, user: str, room_id: str, ann: Announcement) -> None:
        await self._may_change(user, ann, room_id)

    async def _may_change(self, user: str, ann: Announcement, room_id: str) -> None:
        if user == ann.author or await self._role_check(user, room_id, Role.ADMIN):
            return
        raise CommandError("announce.error.not_yours", number=ann.id)

    # --- publishing ---------------------------------------------------------------------

    async def create(
        self,
        author: str,
        origin_room: str,
        group_name: str | None,
        title: str,
        body: str,
        important: bool,
        ack_required: bool,
        publish_at: datetime | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> Published:
        group = self.find_group(group_name) if group_name else None
        await self._may_announce(author, origin_room, group)
        rooms = await self._group_rooms(group) if group else [origin_room]
        if not rooms:
            raise CommandError("announce.error.no_rooms", group=group.name.ja if group else "")
        ann = await self.store.create(
            origin_room,
            author,
            group.id if group else "room",
            title,
            body,
            important,
            ack_required,
            publish_at or now,
            expires_at,
            rooms,
            now,
        )
        self._rooms_with_copies = None
        if ann.publish_at <= now:
            async with self._lock:
                return await self._publish(ann, now)
        return Published(ann, len(rooms), ())

    async def _publish(self, ann: Announcement, now: datetime) -> Published:
        """Send each copy once (keys per announcement and room), pin, then mark published."""
        not_pinned = []
        self._rooms_with_copies = None  # the copies' own places must be recorded
        copies = await self.store.copies(ann.id)
        content = announcement_content(ann, self._catalog, self._config.language, self._config.zone)
        # rooms are independent: several at a time; every copy is sent before any pinning,
        # so that people see the announcement as early as possible
        gate = asyncio.Semaphore(PUBLISH_CONCURRENCY)

        async def send(copy: Copy) -> Copy:
            if copy.event_id is not None:
                return copy
            async with gate:
                event_id = await self._messenger.send(
                    copy.room_id, content, f"announce:{ann.id}:{copy.room_id}"
                )
            if event_id is None:
                return copy  # queued in the ledger; the next run links it
            await self.store.mark_copy_sent(ann.id, copy.room_id, event_id, now)
            return Copy(copy.announcement_id, copy.room_id, event_id, copy.pinned)

        async def pin(copy: Copy) -> None:
            if copy.event_id is None or copy.pinned:
                return
            async with gate:
                pinned = await self._pin(ann.id, copy.room_id, copy.event_id)
            if pinned:
                await self.store.set_pinned(ann.id, copy.room_id, True)
            else:
                not_pinned.append(copy.room_id)

        sent = await asyncio.gather(*(send(copy) for copy in copies))
        await asyncio.gather(*(pin(copy) for copy in sent))
        if all(c.event_id for c in await self.store.copies(ann.id)):
            next_reminder = now + self._settings.remind_every if ann.ack_required else None
            await self.store.set_state(ann.id, State.PUBLISHED, next_reminder)
        self._rooms_with_copies = None
        fresh = await self.store.get(ann.id)
        assert fresh is not None
        return Published(fresh, len(copies), tuple(not_pinned))

    async def _pin(self, ann_id: int, room_id: str, event_id: str) -> bool:
        """Pin, keeping other people's pins and at most `max_pins` announcement pins."""
        pinned = [
            c for c in await self.store.pinned_in_room(room_id) if c.announcement_id != ann_id
        ]
        for old in pinned[: max(0, len(pinned) - self._settings.max_pins + 1)]:
            if old.event_id and await self._messenger.unpin(room_id, old.event_id):
                await self.store.set_pinned(old.announcement_id, room_id, False)
        return await self._messenger.pin(room_id, event_id)

    async def edit(
        self, user: str, room_id: str, ann: Announcement, title: str, body: str, now: datetime
    ) -> Announcement:
        await self._may_change(user, ann, room_id)
        if ann.state in (State.RETRACTED, State.EXPIRED):
            raise CommandError("announce.error.not_active", number=ann.id)
        async with self._lock:
            return await self._edit(ann, title, body)

    async def _edit(self, ann: Announcement, title: str, body: str) -> Announcement:
        ann = await self.store.edit(ann.id, title, body)
        content = announcement_content(ann, self._catalog, self._config.language, self._config.zone)
        for copy in await self.store.copies(ann.id):
            if copy.event_id:
                await self._messenger.edit(
                    copy.room_id,
                    copy.event_id,
                    content,
                    f"announce-edit:{ann.id}:{ann.version}:{copy.room_id}",
                )
        return ann

    async def retract(self, user: str, room_id: str, ann: Announcement, now: datetime) -> int:
        """Redact and unpin every copy; returns how many copies were redacted."""
        await self._may_change(user, ann, room_id)
        if ann.state is State.RETRACTED:
            raise CommandError("announce.error.not_active", number=ann.id)
        async with self._lock:
            return await self._retract(ann)

    async def _retract(self, ann: Announcement) -> int:
        await self.store.set_state(ann.id, State.RETRACTED)
        redacted = 0
        for copy in await self.store.copies(ann.id):
            if copy.event_id is None:
                continue
            if copy.pinned and await self._messenger.unpin(copy.room_id, copy.event_id):
                await self.store.set_pinned(ann.id, copy.room_id, False)
            reason = self._catalog.t(self._config.language, "announce.retracted", number=ann.id)
            if await self._messenger.redact(
                copy.room_id, copy.event_id, reason, f"announce-redact:{ann.id}:{copy.room_id}"
            ):
                redacted += 1
        return redacted

    async def get(self, number: int) -> Announcement:
        ann = await self.store.get(number)
        if ann is None:
            raise CommandError("announce.error.not_found", number=number)
        return ann

    # --- acknowledgements ---------------------------------------------------------------

    async def acknowledge_event(
        self, room_id: str, user: str, target: str, how: str, now: datetime
    ) -> Announcement | None:
        """An acknowledgement aimed at a copy's event (reaction, reply, thread reply)."""
        found = await self.store.get_by_copy(target)
        if found is None:
            return None
        ann, copy = found
        if copy.room_id != room_id or ann.state is not State.PUBLISHED or self._own(user):
            return None
        await self.store.acknowledge(ann.id, user, room_id, how, now)
        return ann

    async def acknowledge_number(
        self, room_id: str, user: str, number: int, now: datetime
    ) -> Announcement | None:
        """`!ack 12` in one of the rooms the announcement went to."""
        for copy in await self.store.copies(number):
            if copy.room_id == room_id and copy.event_id:
                return await self.acknowledge_event(room_id, user, copy.event_id, "command", now)
        return None

    async def on_reaction(
        self, room_id: str, user: str, target: str, key: str, now: datetime
    ) -> Announcement | None:
        if key not in ACK_REACTIONS:
            return None
        return await self.acknowledge_event(room_id, user, target, "reaction", now)

    async def on_reply(
        self, room_id: str, user: str, target: str, text: str, now: datetime
    ) -> Announcement | None:
        word = unicodedata.normalize("NFKC", text).strip().strip("。!！.").casefold()
        if word not in ACK_WORDS:
            return None
        return await self.acknowledge_event(room_id, user, target, "reply", now)

    async def on_timeline(self, room_id: str, event_id: str) -> None:
        if self._rooms_with_copies is None:
            self._rooms_with_copies = await self.store.rooms_with_copies()
        if room_id in self._rooms_with_copies:
            await self.store.record_position(room_id, event_id)

    async def on_receipt(self, room_id: str, user: str, event_id: str) -> None:
        if self._rooms_with_copies is None:
            self._rooms_with_copies = await self.store.rooms_with_copies()
        if room_id in self._rooms_with_copies:
            await self.store.record_receipt(room_id, user, event_id)

    # --- status ---------------------------------------------------------------------------

    def _audience(self, room_id: str, author: str) -> list[str]:
        return [u for u in self._messenger.members(room_id) if not self._own(u) and u != author]

    async def status(self, ann: Announcement) -> list[RoomStatus]:
        acked = await self.store.acknowledged_by(ann.id)
        result = []
        for copy in await self.store.copies(ann.id):
            audience = self._audience(copy.room_id, ann.author)
            seen = (
                await self.store.readers_past(copy.room_id, copy.event_id)
                if copy.event_id
                else set()
            )
            result.append(
                RoomStatus(
                    copy.room_id,
                    tuple(u for u in audience if u in acked),
                    tuple(u for u in audience if u not in acked and u in seen),
                    tuple(u for u in audience if u not in acked and u not in seen),
                )
            )
        return result

    async def status_text(self, ann: Announcement, lang: str) -> str:
        """Per room and per department: acknowledged / read only / neither; who is missing."""
        t = self._catalog.t
        lines = [t(lang, "announce.status.header", number=ann.id)]
        totals: dict[str, list[int]] = {}
        missing: list[str] = []
        for room in await self.status(ann):
            name = self._messenger.room_name(room.room_id)
            counts = [len(room.acknowledged), len(room.seen), len(room.neither)]
            lines.append(
                t(
                    lang,
                    "announce.status.room",
                    room=name,
                    acked=counts[0],
                    seen=counts[1],
                    neither=counts[2],
                )
            )
            department = await self._department_of(room.room_id, lang)
            if department:
                total = totals.setdefault(department, [0, 0, 0])
                for i, n in enumerate(counts):
                    total[i] += n
            missing += [
                self._messenger.display_name(room.room_id, u) for u in (*room.seen, *room.neither)
            ]
        for department, (acked, seen, neither) in totals.items():
            lines.append(
                t(
                    lang,
                    "announce.status.department",
                    department=department,
                    acked=acked,
                    seen=seen,
                    neither=neither,
                )
            )
        if missing:
            names = "、".join(dict.fromkeys(missing))  # once each, whatever their rooms
            lines.append(t(lang, "announce.status.missing", names=names))
        lines.append(t(lang, "announce.status.private"))
        return "\n".join(lines)

    async def _department_of(self, room_id: str, lang: str) -> str | None:
        names = await self._room_names(room_id)
        for department in self._config.departments:
            if names & set(department.rooms):
                return department.name.get(lang)
        return None

    # --- what is due ------------------------------------------------------------------------

    async def run_due(self, now: datetime) -> int:
        """Publish what is due, expire what ended, remind; the store decides (restart-safe)."""
        async with self._lock:
            return await self._run_due(now)

    async def _run_due(self, now: datetime) -> int:
        done = 0
        for ann in await self.store.due_for_publication(now):
            await self._publish(ann, now)
            done += 1
        for ann in await self.store.due_for_expiry(now):
            for copy in await self.store.copies(ann.id):
                if (
                    copy.pinned
                    and copy.event_id
                    and await self._messenger.unpin(copy.room_id, copy.event_id)
                ):
                    await self.store.set_pinned(ann.id, copy.room_id, False)
            await self.store.set_state(ann.id, State.EXPIRED)
            self._rooms_with_copies = None
            done += 1
        for ann in await self.store.due_for_reminder(now):
            await self._remind(ann, now)
            done += 1
        return done

    async def _remind(self, ann: Announcement, now: datetime) -> None:
        round_no = ann.reminders_sent + 1
        lang = self._config.language
        for room in await self.status(ann):
            missing = [*room.seen, *room.neither]
            if not missing:
                continue
            copy_event = next(
                (c.event_id for c in await self.store.copies(ann.id) if c.room_id == room.room_id),
                None,
            )
            names = "、".join(self._messenger.display_name(room.room_id, u) for u in missing)
            text = self._catalog.t(
                lang, "announce.reminder", number=ann.id, title=ann.title, names=names
            )
            await self._messenger.send(
                room.room_id,
                mc.message(text, msgtype="m.text", mention_users=missing, reply_to=copy_event),
                f"announce-remind:{ann.id}:{round_no}:{room.room_id}",
            )
            if round_no >= self._settings.reminders_before_lead:
                leads = await self._leads_for(room.room_id)
                if leads:
                    text = self._catalog.t(
                        lang,
                        "announce.lead_notice",
                        number=ann.id,
                        title=ann.title,
                        names=names,
                        count=round_no,
                    )
                    await self._messenger.send(
                        room.room_id,
                        mc.message(
                            text, msgtype="m.text", mention_users=leads, reply_to=copy_event
                        ),
                        f"announce-lead:{ann.id}:{round_no}:{room.room_id}",
                    )
        await self.store.reminded(ann.id, now + self._settings.remind_every)

    async def _leads_for(self, room_id: str) -> list[str]:
        """The leads of the department(s) this room belongs to, if they are in it."""
        names = await self._room_names(room_id)
        return sorted(
            {
                lead
                for d in self._config.departments
                if names & set(d.rooms)
                for lead in d.leads
                if self._messenger.is_member(room_id, lead)
            }
        )

    def rooms_of(self, statuses: Sequence[RoomStatus]) -> list[str]:
        return [s.room_id for s in statuses]


async def _only_id(room_id: str) -> frozenset[str]:
    return frozenset({room_id})
