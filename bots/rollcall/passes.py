"""What a roll call does over time, one pass at a time: holds that end, questions and
re-sends, receipts, leads told and the gateway, the tally message, retention.

Each pass reads what is due from the store and marks what it did there; every message is
keyed in the send ledger, so a pass cut short by a crash is simply done again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from datetime import datetime

from bots.config import Config
from bots.i18n import Catalog
from bots.messenger import Messenger
from bots.provision.roster import StaffStore
from bots.rollcall import render
from bots.rollcall.base import RollCallBase, answer_of
from bots.rollcall.model import RollCall, State, Target
from bots.rollcall.store import RollCallStore

#: people asked at the same time (each may need a new direct room first)
SEND_CONCURRENCY = 8
#: how often to look whether a new direct room is ready
READY_POLL_S = 0.25


class DuePasses(RollCallBase):
    def __init__(
        self,
        store: RollCallStore,
        messenger: Messenger,
        catalog: Catalog,
        config: Config,
        staff: StaffStore,
        *,
        ready_wait_s: float = 0.0,
        status_every_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(store, messenger, catalog, config, staff)
        #: how long one question waits for a new direct room to be ready
        self.ready_wait_s = ready_wait_s
        #: the least time between two edits of a tally (answers arriving together are
        #: shown in one edit)
        self.status_every_s = status_every_s
        self._monotonic = monotonic
        self._status_at: dict[int, float] = {}
        self._pump = asyncio.Lock()  # one pass at a time
        #: people (and tallies) the last pass could not serve yet: a pass again soon
        self.waiting = 0

    async def run(self, now: datetime) -> int:
        """Holds that are over, questions and re-sends, leads to tell, the tally message,
        answers past retention. Safe to call at any time, as often as wanted."""
        async with self._pump:
            done = 0
            for call_id in await self.store.holds_over(now):
                done += await self.store.set_state(call_id, State.RUNNING, now, "hold")
            done += await self._ask(now)
            done += await self._receipts()
            done += await self._escalate(now)
            done += await self._refresh_status()
            done += await self.store.purge(now - self._settings.retention, now)
            return done

    async def _ask(self, now: datetime) -> int:
        due = await self.store.due(now)
        calls = {c.id: c for c in await self.store.open_calls()}
        gate = asyncio.Semaphore(SEND_CONCURRENCY)
        waiting = 0

        async def one(target: Target) -> int:
            nonlocal waiting
            call = calls.get(target.rollcall_id)
            if call is None:
                return 0
            async with gate:
                room = await self._ready_room(target.user_id)
                if room is None:
                    waiting += 1
                    return 0
                round_ = target.rounds + 1
                lang = self._config.language_for(target.user_id)
                level = self.level(call)
                content = render.question(
                    call,
                    target.user_id,
                    round_,
                    self._t(lang),
                    level.name.get(lang) if level else "",
                    level.report_to.get(lang) if level else "",
                )
                key = f"rollcall:{call.id}:ask:{call.kind.value}:{target.user_id}:{round_}"
                event_id = await self._messenger.send(room, content, key, render.POLL_START)
            if event_id is None:
                return 0  # kept by the ledger and retried; asked again with the same key
            last = round_ > self._settings.resend_times
            next_due = None if last else now + self._settings.resend_every
            await self.store.record_question(target, room, event_id, round_, next_due)
            return 1

        results = await asyncio.gather(*(one(target) for target in due))
        self.waiting = waiting
        return sum(results)

    async def _receipts(self) -> int:
        """Tell each person who answered what was recorded (the latest answer only)."""
        owed = await self.store.receipts_owed()
        calls = {c.id: c for c in await self.store.open_calls()}
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def one(target: Target, answer_event: str) -> int:
            call = calls.get(target.rollcall_id) or await self.store.get(target.rollcall_id)
            if call is None or target.room_id is None:
                return 0
            t = self._t(self._config.language_for(target.user_id))
            text = render.receipt(call, answer_of(target), t)
            async with gate:
                await self._say(
                    target.room_id,
                    text,
                    f"rollcall:answer:{answer_event}",
                    answer_event,
                    target.user_id,
                )
            await self.store.receipt_sent(target.rollcall_id, target.user_id, answer_event)
            return 1

        return sum(await asyncio.gather(*(one(x, e) for x, e in owed)))

    async def _ready_room(self, user_id: str) -> str | None:
        """The person's direct room; a room just made is waited for (it is ready once the
        next sync shows it), so that the first questions go out while others' rooms are
        still being made."""
        room = await self._messenger.direct_room(user_id)
        waited = 0.0
        while room is None and waited < self.ready_wait_s:
            await asyncio.sleep(READY_POLL_S)
            waited += READY_POLL_S
            room = await self._messenger.direct_room(user_id)
        return room

    async def _escalate(self, now: datetime) -> int:
        rounds = 1 + self._settings.escalate_after
        pending = await self.store.to_escalate(rounds)
        done = 0
        groups: dict[tuple[int, str], list[Target]] = {}
        for target in pending:
            groups.setdefault((target.rollcall_id, target.department), []).append(target)
        for (call_id, department_id), people in groups.items():
            call = await self.store.get(call_id)
            if call is None:
                continue
            if await self._tell_leads(call, department_id, people):
                events = []
                if self._settings.gateway and not call.drill:
                    events = [(p.user_id, self._gateway_payload(call, p)) for p in people]
                await self.store.mark_escalated(call_id, [p.user_id for p in people], events, now)
                done += len(people)
        return done

    async def _tell_leads(self, call: RollCall, department_id: str, people: list[Target]) -> bool:
        department = self._config.department(department_id)
        configured = department.leads if department else ()
        # the config's leads and the staff list's (yakuba provision)
        leads = list(dict.fromkeys([*configured, *await self._staff.leads_of(department_id)]))
        users = sorted(p.user_id for p in people)
        # the same people, the same key (in every process: not Python's salted hash())
        batch = hashlib.sha256("\n".join(users).encode()).hexdigest()[:16]
        for lead in leads:
            room = await self._messenger.direct_room(lead)
            if room is None:
                return False  # not ready yet: the whole department next pass
            lang = self._config.language_for(lead)
            named = [f"{self._messenger.display_name(call.status_room, u)} ({u})" for u in users]
            name = department.name.get(lang) if department else ""
            content = render.lead_notice(call, name, named, people[0].rounds, self._t(lang))
            key = f"rollcall:{call.id}:lead:{department_id}:{lead}:{batch}"
            await self._messenger.send(room, content, key)
        return True

    def _gateway_payload(self, call: RollCall, target: Target) -> dict[str, object]:
        lang = self._config.language_for(target.user_id)
        level = self.level(call)
        question = render.question(
            call,
            target.user_id,
            target.rounds,
            self._t(lang),
            level.name.get(lang) if level else "",
            level.report_to.get(lang) if level else "",
        )
        return {
            "type": f"{call.kind.value}.question",
            "rollcall": call.id,
            "user_id": target.user_id,
            "department": target.department,
            "language": lang,
            "text": question["body"],
        }

    async def _refresh_status(self) -> int:
        done = 0
        lang = self._config.language
        t = self._t(lang)
        postponed = 0
        for call, version in await self.store.stale_status():
            last = self._status_at.get(call.id)
            if last is not None and self._monotonic() - last < self.status_every_s:
                postponed += 1  # shown by a pass a moment later, with what came meanwhile
                continue
            self._status_at[call.id] = self._monotonic()
            targets = await self.store.targets(call.id)
            level = self.level(call)
            content = render.status(
                call,
                targets,
                self.department_names(lang),
                t,
                lang,
                self._config.zone,
                level.name.get(lang) if level else "",
                max(0, await self.store.alert_count(call.id) - 1),
            )
            if call.status_event is None:
                event_id = await self._messenger.send(
                    call.status_room, content, f"rollcall:{call.id}:status"
                )
            else:
                await self._messenger.edit(
                    call.status_room,
                    call.status_event,
                    content,
                    f"rollcall:{call.id}:status:{version}",
                )
                event_id = call.status_event
            if event_id is not None:
                await self.store.status_shown(call.id, event_id, version)
                done += 1
        self.waiting += postponed
        return done
