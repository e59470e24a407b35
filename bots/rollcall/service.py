"""The roll-call workflow: starting (from alerts or by hand), asking everyone in a direct
message, taking answers, re-sending, telling leads, the tally message, closing.

Matrix only through the Messenger port of the alerts bot; every message is keyed in the
send ledger, every change is one store transaction, so a restart resumes where it was.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from bots.alerts.model import Alert, CapKey, JmaKey, MsgType
from bots.alerts.routing import is_drill
from bots.alerts.service import cap_key, message_id
from bots.audit import AuditLog
from bots.commands.errors import CommandError
from bots.config import Config
from bots.config_rollcall import StaffingLevel
from bots.i18n import Catalog
from bots.messenger import Messenger
from bots.provision.model import Person
from bots.provision.roster import StaffStore
from bots.rollcall import answers as parse
from bots.rollcall import render
from bots.rollcall.base import RollCallBase, answer_of
from bots.rollcall.model import Answer, Kind, RollCall, State, Target
from bots.rollcall.passes import DuePasses
from bots.rollcall.store import RollCallStore
from bots.rollcall.triggers import first_hit

log = logging.getLogger(__name__)

Resolve = Callable[[str], Awaitable[str | None]]
MANUAL = "manual"


class RollCallService(RollCallBase):
    def __init__(
        self,
        store: RollCallStore,
        messenger: Messenger,
        catalog: Catalog,
        config: Config,
        resolve_room: Resolve,
        audit: AuditLog | None = None,
        staff: StaffStore | None = None,
        *,
        ready_wait_s: float = 0.0,
        status_every_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        staff = staff if staff is not None else StaffStore(store.db)
        super().__init__(store, messenger, catalog, config, staff)
        self._audit = audit
        self._resolve = resolve_room
        self._lock = asyncio.Lock()  # starts, stops and closes one at a time
        #: the passes over what is due (questions, re-sends, receipts, leads, the tally)
        self.passes = DuePasses(
            store,
            messenger,
            catalog,
            config,
            staff,
            ready_wait_s=ready_wait_s,
            status_every_s=status_every_s,
            monotonic=monotonic,
        )

    # --- who is asked -------------------------------------------------------------------

    async def roster(self, level: StaffingLevel | None = None) -> list[tuple[str, str]]:
        """(user, department) of everyone asked: all departments' staff (config's and
        the staff list's that `yakuba provision` keeps; leavers never), or whom the
        staffing level calls in."""
        provisioned = await self._staff.active()
        members: dict[str, list[str]] = {d.id: list(d.staff) for d in self._config.departments}
        for person in provisioned:
            members.setdefault(person.department, []).append(person.user_id)
        people: dict[str, str] = {}
        for department_id, users in members.items():
            if level is None or department_id in level.departments:
                for user in users:
                    people.setdefault(user, department_id)
        for user in level.users if level else ():
            people.setdefault(user, self._department_of(user, provisioned))
        return list(people.items())

    def _department_of(self, user: str, provisioned: list[Person]) -> str:
        for department in self._config.departments:
            if user in department.staff or user in department.leads:
                return department.id
        for person in provisioned:
            if person.user_id == user:
                return person.department
        return ""

    # --- starting -----------------------------------------------------------------------

    async def on_alert(self, alert: Alert, now: datetime) -> None:
        """An alert taken in (drills too): start, join or stop roll calls and staffing."""
        key = message_id(alert)
        if await self.store.alert_seen(key):
            return  # the same message from push and poll
        series = _series(alert)
        if alert.msg_type is MsgType.CANCEL:
            await self._cancelled(alert, now)
            return
        drill = is_drill(alert)
        if drill and not self._settings.drills:
            return
        city = self._config.alerts.city_codes
        async with self._lock:
            hit = first_hit(self._settings.triggers, alert, city)
            if hit is not None:
                await self._start_from_alert(alert, key, series, hit.strength, drill, now)
            for level in reversed(self._config.staffing.levels):
                met = first_hit(level.triggers, alert, city)
                if met is not None:
                    await self._raise(level, "alert", drill, alert.title, now, (key, series))
                    break

    async def _start_from_alert(
        self, alert: Alert, key: str, series: str, strength: int, drill: bool, now: datetime
    ) -> None:
        window = self._settings.aftershock_window
        for call in await self.store.open_calls(Kind.ANPI):
            if call.drill and not drill:
                await self._start_anpi(
                    alert.title, "alert", drill, now, (key, series), strength, call
                )
                return
            if drill and not call.drill:
                log.info("drill alert %s ignored: a real roll call is running", key)
                return
            last = await self.store.last_alert_at(call.id) or call.created_at
            if now - last <= window and strength <= call.strength:
                await self.store.attach_alert(call.id, key, series, now)
                log.info("alert %s joins roll call %d (aftershock)", key, call.id)
                return
            await self._start_anpi(alert.title, "alert", drill, now, (key, series), strength, call)
            return
        await self._start_anpi(alert.title, "alert", drill, now, (key, series), strength, None)

    async def _start_anpi(
        self,
        title: str,
        by: str,
        drill: bool,
        now: datetime,
        alert: tuple[str, str] | None,
        strength: int,
        supersede: RollCall | None,
    ) -> int:
        room = await self._status_room()
        hold = self._settings.hold if by == "alert" else None
        call_id = await self.store.create(
            kind=Kind.ANPI,
            level=None,
            drill=drill,
            title=title,
            area_key="alert" if alert else MANUAL,
            strength=strength,
            started_by=by,
            status_room=room,
            targets=await self.roster(),
            now=now,
            hold_until=now + hold if hold else None,
            alert=alert,
            supersede=supersede.id if supersede else None,
        )
        if alert is not None:  # by hand, the command itself is in the audit log
            await self._record(f"alert:{alert[0]}", "anpi start", room, f"#{call_id} {title}")
        return call_id

    async def _record(self, actor: str, action: str, room: str, detail: str) -> None:
        if self._audit is not None:
            await self._audit.record(actor, action, room, detail)

    async def _status_room(self) -> str:
        ref = self._settings.room or self._config.alerts.office_room
        room = await self._resolve(ref) if ref else None
        if room is None:
            raise CommandError("rollcall.error.no_room", room=ref or "(-)")
        return room

    async def start(self, by: str, title: str, drill: bool, now: datetime) -> int:
        """`!anpi start`: at once, no hold; one roll call at a time."""
        async with self._lock:
            running = await self.store.open_calls(Kind.ANPI)
            if running:
                raise CommandError("rollcall.error.running", number=running[0].id)
            return await self._start_anpi(title, by, drill, now, None, 0, None)

    async def _cancelled(self, alert: Alert, now: datetime) -> None:
        """A 取消 / Cancel of the alert that started a roll call still on hold stops it."""
        if isinstance(alert.key, CapKey):
            series = [cap_key(r.key) for r in alert.references]
        else:
            series = [_series(alert)]
        async with self._lock:
            for one in series:
                for call_id in await self.store.calls_of_series(one):
                    call = await self.store.get(call_id)
                    if call is not None and call.state is State.HELD:
                        await self.store.set_state(call_id, State.STOPPED, now, "alert-cancel")
                        log.info("roll call %d stopped: its alert was cancelled", call_id)
                        await self._record(
                            f"alert:{message_id(alert)}",
                            "anpi stop",
                            call.status_room,
                            f"#{call_id}",
                        )

    # --- staffing levels ----------------------------------------------------------------

    async def raise_level(self, name: str, by: str, drill: bool, now: datetime) -> int:
        level = self._config.staffing.level(name)
        if level is None:
            raise CommandError("staffing.error.level", value=name, levels=self._level_names())
        async with self._lock:
            return await self._raise(level, by, drill, level.name.ja, now, None, manual=True)

    def _level_names(self) -> str:
        return "・".join(level.name.ja for level in self._config.staffing.levels)

    async def _raise(
        self,
        level: StaffingLevel,
        by: str,
        drill: bool,
        title: str,
        now: datetime,
        alert: tuple[str, str] | None,
        manual: bool = False,
    ) -> int:
        rank = self._config.staffing.rank(level.id)
        current = await self.store.open_calls(Kind.STAFFING)
        for call in current:
            known = call.level is not None and self._config.staffing.level(call.level)
            if known and self._config.staffing.rank(known.id) >= rank and call.drill == drill:
                if alert is not None:
                    await self.store.attach_alert(call.id, alert[0], alert[1], now)
                if manual:
                    raise CommandError("staffing.error.already", number=call.id)
                return call.id
        room = await self._status_room()
        call_id = await self.store.create(
            kind=Kind.STAFFING,
            level=level.id,
            drill=drill,
            title=title,
            area_key=level.id,
            strength=rank,
            started_by=by,
            status_room=room,
            targets=await self.roster(level),
            now=now,
            alert=alert,
            supersede=current[0].id if current else None,
        )
        if alert is not None:
            await self._record(
                f"alert:{alert[0]}", "alert level", room, f"#{call_id} {level.id} {title}"
            )
        return call_id

    # --- stopping and closing -----------------------------------------------------------

    async def _the_open(self, kind: Kind, number: int | None) -> RollCall:
        calls = await self.store.open_calls(kind)
        if number is not None:
            calls = [c for c in calls if c.id == number]
        if not calls:
            raise CommandError("rollcall.error.none_open")
        return calls[-1]

    async def stop(self, by: str, now: datetime, number: int | None = None) -> RollCall:
        async with self._lock:
            call = await self._the_open(Kind.ANPI, number)
            await self.store.set_state(call.id, State.STOPPED, now, by)
        return call

    async def close(
        self, by: str, now: datetime, number: int | None = None, kind: Kind = Kind.ANPI
    ) -> RollCall:
        async with self._lock:
            call = await self._the_open(kind, number)
            await self.store.set_state(call.id, State.CLOSED, now, by)
        await self.export(call, call.status_room, now)
        return call

    async def export(self, call: RollCall, room_id: str, now: datetime) -> str | None:
        """The CSV, uploaded to the officers' room or an officer's direct room only."""
        lang = self._config.language
        targets = await self.store.targets(call.id)
        names = {
            x.user_id: self._messenger.display_name(call.status_room, x.user_id) for x in targets
        }
        data = render.to_csv(
            call, targets, self.department_names(lang), names, self._t(lang), self._config.zone
        )
        stamp = now.astimezone(self._config.zone).strftime("%Y%m%d-%H%M")
        name = f"anpi-{call.id}-{stamp}.csv"
        return await self._messenger.upload(
            room_id, data, name, "text/csv", key=f"rollcall:{call.id}:csv:{room_id}:{stamp}"
        )

    async def direct_room(self, user_id: str) -> str | None:
        return await self._messenger.direct_room(user_id)

    # --- answers ------------------------------------------------------------------------

    async def answer(
        self,
        room_id: str,
        sender: str,
        event_id: str,
        now: datetime,
        *,
        text: str | None = None,
        reaction: str | None = None,
        poll: list[str] | None = None,
        relates_to: str | None = None,
    ) -> bool:
        """Take an answer given any way; True if it was one (recorded or refused).

        A roll call and a staffing call may both be asking in one room: the answer goes to
        the oldest running one it answers and the person has not fully answered, else to
        the latest running one it answers; words that answer nothing become the note of
        the latest answered one."""
        asked = await self.store.asked_in(room_id, sender, relates_to)
        if not asked:
            return await self._stranger(room_id, sender, event_id, text, reaction, poll)
        lang = self._config.language_for(sender)
        t = self._t(lang)
        reply_key = f"rollcall:answer:{event_id}"
        running = [(c, x) for c, x in asked if c.state is State.RUNNING]
        readable = [(c, x, a) for c, x in running if (a := _read(c.kind, text, reaction, poll))]
        open_first = [(c, x, a) for c, x, a in readable if not _complete(c.kind, x)]
        candidates = open_first or readable[-1:]
        chosen = candidates[0] if candidates else None
        if chosen is None and text is not None:
            answered = [(c, x) for c, x in running if x.answered]
            if answered:
                call, target = answered[-1]
                chosen = (call, target, Answer(note=text.strip()))
        if chosen is None:
            closed = [c for c, _ in asked if not c.state.is_open]
            if closed and _read(closed[-1].kind, text, reaction, poll):
                text_ = t("rollcall.error.closed", number=closed[-1].id)
                await self._say(room_id, text_, reply_key, event_id, sender)
                return True
            if text is None or not running:
                return False  # an emoji that is no answer, or talk after the roll call
            text_ = render.mark(running[-1][0], t) + t("rollcall.error.unreadable")
            await self._say(room_id, text_, reply_key, event_id, sender)
            return True
        call, target, given = chosen
        merged = parse.merge(answer_of(target), given)
        # the receipt goes out with the next pass (answers arriving together: together)
        await self.store.record_answer(call.id, sender, merged, event_id, now)
        return True

    async def _stranger(
        self,
        room_id: str,
        sender: str,
        event_id: str,
        text: str | None,
        reaction: str | None,
        poll: list[str] | None,
    ) -> bool:
        """Someone who was not asked answers in a direct room with the bot."""
        if self._messenger.member_count(room_id) != 2 or not await self.store.open_calls(Kind.ANPI):
            return False
        if _read(Kind.ANPI, text, reaction, poll) is None:
            return False
        t = self._t(self._config.language_for(sender))
        await self._say(
            room_id,
            t("rollcall.error.not_on_roster"),
            f"rollcall:stranger:{event_id}",
            event_id,
            sender,
        )
        return True

    # --- what is due --------------------------------------------------------------------

    async def run_due(self, now: datetime) -> int:
        """Holds that are over, questions and re-sends, leads to tell, the tally message,
        answers past retention. Safe to call at any time, as often as wanted."""
        return await self.passes.run(now)

    @property
    def waiting(self) -> int:
        """People (and tallies) that the last pass could not serve yet: ask again soon."""
        return self.passes.waiting

    async def missing(self, call: RollCall, lang: str) -> list[str]:
        targets = await self.store.targets(call.id)
        return render.missing_lines(
            targets,
            self.department_names(lang),
            lambda u: f"{self._messenger.display_name(call.status_room, u)} ({u})",
        )


def _series(alert: Alert) -> str:
    if isinstance(alert.key, CapKey):
        return cap_key(alert.key)
    assert isinstance(alert.key, JmaKey)
    return f"jma:{alert.key.series}"


def _read(
    kind: Kind, text: str | None, reaction: str | None, poll: list[str] | None
) -> Answer | None:
    if poll is not None:
        return parse.from_poll(kind, poll)
    if reaction is not None:
        return parse.from_reaction(kind, reaction)
    return parse.from_text(kind, text) if text is not None else None


def _complete(kind: Kind, target: Target) -> bool:
    if kind is Kind.STAFFING:
        return target.attendance is not None
    return target.safety is not None and target.attendance is not None
