"""The alert workflow: state per thread (update edits, cancel withdraws, lifting unpins),
routing to rooms by config, and a fan-out that resumes after a crash, exactly once.

Matrix only through the Messenger port of the alerts bot (it encrypts for encrypted
rooms). Alerts arrive from the appservice's webhooks, from feeds and from `!alert`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bots.alerts.levels import Severity
from bots.alerts.model import Alert, CapKey, JmaKey, MsgType, Origin, Status
from bots.alerts.parse import parse_alert_document
from bots.alerts.render import alert_content
from bots.alerts.routing import LEVELS, Concern, concern, is_drill
from bots.alerts.store import AlertStore, RoomMessage, Thread
from bots.config import Config
from bots.config_alerts import AlertRoute
from bots.i18n import Catalog, format_datetime
from bots.messenger import Messenger

log = logging.getLogger(__name__)

Resolve = Callable[[str], Awaitable[str | None]]
#: told of every alert taken in (drills too, whether shown or dropped): the roll call
AlertListener = Callable[[Alert, datetime], Awaitable[None]]
_ANY = AlertRoute(room="!any", areas="any")
#: rooms an alert goes to at the same time
FAN_OUT_CONCURRENCY = 8


@dataclass(frozen=True)
class Outcome:
    """What became of one alert: delivered to rooms, a duplicate, ignored (and why)."""

    result: str  # "routed", "duplicate", "ignored", "not-an-alert", "cancelled-early"
    rooms: int = 0
    reason: str = ""


def cap_key(key: CapKey) -> str:
    return f"cap:{key.sender}|{key.identifier}"


class AlertService:
    def __init__(
        self,
        store: AlertStore,
        messenger: Messenger,
        catalog: Catalog,
        config: Config,
        resolve_room: Resolve,
    ) -> None:
        self.store = store
        self._messenger = messenger
        self._catalog = catalog
        self._config = config
        self._settings = config.alerts
        self._resolve = resolve_room
        self._lock = asyncio.Lock()  # one ingest or fan-out at a time (pins, threads)
        self.listeners: list[AlertListener] = []

    # --- ingesting ------------------------------------------------------------------------

    async def ingest_document(self, data: bytes, now: datetime) -> list[Outcome]:
        """Parse (safely) and ingest every alert of a CAP / EDXL-DE / JMA document."""
        alerts = parse_alert_document(data)
        return [await self.ingest(alert, data, index, now) for index, alert in enumerate(alerts)]

    async def ingest(self, alert: Alert, document: bytes, index: int, now: datetime) -> Outcome:
        if not alert.msg_type.is_alert:
            return Outcome("not-an-alert", reason=f"CAP msgType {alert.msg_type.value}")
        if alert.status in (Status.SYSTEM, Status.DRAFT):
            return Outcome("ignored", reason=f"status {alert.status.value}")
        if alert.msg_type is not MsgType.CANCEL and alert.is_expired(now):
            return Outcome("ignored", reason="it had expired before it arrived")
        for listener in self.listeners:
            try:
                await listener(alert, now)
            except Exception:  # the alert itself must still reach its rooms
                log.exception("an alert listener failed on %s", message_id(alert))
        if is_drill(alert) and self._settings.drills.mode == "drop":
            return Outcome("ignored", reason=f"{alert.status.value} message (drills: drop)")
        async with self._lock:
            outcome = await self._record(alert, document, index, now)
            await self._deliver_pending(now)
        return outcome

    async def _record(self, alert: Alert, document: bytes, index: int, now: datetime) -> Outcome:
        keys, thread, withdraw, tombstones, state, shows = await self._thread_for(alert)
        early = state == "cancelled-early"  # kept, withdrawn, never shown
        rooms: list[str] = []
        if shows and not early:
            rooms = [room for room, _ in await self._routes_for(alert)]
        for other in [] if early else [thread, *withdraw]:
            rooms += [m.room_id for m in await self.store.thread_rooms(other)]
        alert_id = await self.store.record(
            message_id=message_id(alert),
            thread=thread,
            keys=keys,
            origin=alert.origin.value,
            status=alert.status.value,
            msg_type=alert.msg_type.value,
            severity=int(alert.severity),
            title=alert.title,
            sent=alert.sent,
            expires=alert.expires,
            document=document,
            doc_index=index,
            thread_state="withdrawn" if early else state,
            shows=shows,
            rooms=list(dict.fromkeys(rooms)),
            tombstones=tombstones,
            withdraw=withdraw,
            now=now,
        )
        if alert_id is None:
            return Outcome("duplicate")
        if early:
            return Outcome("cancelled-early", reason="a Cancel for it arrived first")
        return Outcome("routed", rooms=len(set(rooms)))

    async def _thread_for(
        self, alert: Alert
    ) -> tuple[list[str], str, list[str], list[str], str, bool]:
        """(keys, thread, other threads withdrawn, tombstones, thread state, shows)."""
        if isinstance(alert.key, CapKey):
            own = cap_key(alert.key)
            refs = [cap_key(r.key) for r in alert.references]
            if alert.msg_type is MsgType.CANCEL:
                threads: list[str] = []
                missing: list[str] = []
                for ref in refs:
                    found = await self.store.thread_of(ref)
                    (threads if found else missing).append(found or ref)
                thread = threads[0] if threads else own
                return [own], thread, threads[1:], missing, "withdrawn", False
            if await self.store.is_tombstoned(own):
                return [own], own, [], [], "cancelled-early", True
            for ref in refs if alert.msg_type is MsgType.UPDATE else []:
                found = await self.store.thread_of(ref)
                if found:
                    return [own], found, [], [], "active", True
            return [own], own, [], [], "active", True
        assert isinstance(alert.key, JmaKey)
        series = alert.key.series
        own = f"jma:{series.title}|{series.editorial_office}|{series.event_id}"
        thread = await self.store.thread_of(own) or own
        if alert.msg_type is MsgType.CANCEL:
            if await self.store.thread_of(own) is None:
                return [own], own, [], [own], "withdrawn", False
            return [own], thread, [], [], "withdrawn", False
        cancelled_at = await self.store.tombstone_time(own)
        if cancelled_at is not None and alert.sent <= cancelled_at:
            return [own], own, [], [], "cancelled-early", True
        lifted = (
            alert.jma is not None
            and bool(alert.jma.warnings)
            and not any(w.active_kinds for w in alert.jma.warnings)
        )
        return [own], thread, [], [], "lifted" if lifted else "active", True

    async def _routes_for(self, alert: Alert) -> list[tuple[str, Concern]]:
        """(room id, concern) for every room the alert reaches."""
        if is_drill(alert):
            drill_room = self._settings.drills.room
            found = concern(alert, _ANY, self._settings)
            room_id = await self._resolve(drill_room) if drill_room else None
            return [(room_id, found)] if room_id and found else []
        out: list[tuple[str, Concern]] = []
        for route in self._settings.routes:
            found = concern(alert, route, self._settings)
            if found is None:
                continue
            room_id = await self._resolve(route.room)
            if room_id is None:
                log.warning("alert route room %s not found", route.room)
                continue
            if room_id not in [r for r, _ in out]:
                out.append((room_id, found))
        return out

    # --- fan-out ----------------------------------------------------------------------------

    async def _deliver_pending(self, now: datetime) -> int:
        """Each alert's rooms several at a time (rooms are independent; alerts in order)."""
        pending = await self.store.pending_deliveries()
        gate = asyncio.Semaphore(FAN_OUT_CONCURRENCY)

        async def one(alert_id: int, room_id: str) -> int:
            async with gate:
                try:
                    await self._deliver(alert_id, room_id)
                except Exception:
                    log.exception("alert %d to %s failed; it is retried", alert_id, room_id)
                    return 0
            await self.store.mark_delivered(alert_id, room_id, now)
            return 1

        done = 0
        for alert_id in dict.fromkeys(a for a, _ in pending):
            rooms = [room for a, room in pending if a == alert_id]
            done += sum(await asyncio.gather(*(one(alert_id, room) for room in rooms)))
        return done

    async def _deliver(self, alert_id: int, room_id: str) -> None:
        stored = await self.store.get_alert(alert_id)
        assert stored is not None
        threads = [stored.thread]
        alert = parse_alert_document(stored.document)[stored.doc_index]
        if alert.msg_type is MsgType.CANCEL:  # a Cancel may withdraw several threads
            for ref in alert.references:
                found = await self.store.thread_of(cap_key(ref.key))
                if found and found not in threads:
                    threads.append(found)
        for name in threads:
            thread = await self.store.get_thread(name)
            if thread is None:
                continue
            messages = {m.room_id: m for m in await self.store.thread_rooms(name)}
            if alert.msg_type is MsgType.CANCEL and room_id not in messages:
                continue  # nothing of that alert was shown here: nothing to withdraw
            shown = await self._shown_alert(thread)
            await self._show(
                thread, shown, room_id, messages.get(room_id), f"alert:{alert_id}:{name}"
            )

    async def _shown_alert(self, thread: Thread) -> Alert:
        latest = await self.store.get_alert(thread.latest_alert)
        assert latest is not None
        return parse_alert_document(latest.document)[latest.doc_index]

    async def _show(
        self,
        thread: Thread,
        alert: Alert,
        room_id: str,
        message: RoomMessage | None,
        purpose: str,
    ) -> None:
        """Post the thread's message in the room, or edit it; pin while severe and active."""
        found = await self._concern_in(alert, room_id)
        pin_level = LEVELS[self._settings.pin_level]
        # drills never notify everyone or stay pinned: they must not look like the real thing
        severe = found.severity >= pin_level and thread.state == "active" and not is_drill(alert)
        content = alert_content(
            alert,
            found,
            thread.state,
            self._catalog,
            self._config.language,
            self._config.zone,
            notify_room=severe,
        )
        event_id = message.event_id if message else None
        pinned = message.pinned if message else False
        shown = f"{thread.latest_alert}:{thread.state}"
        if message is not None and message.shown == shown:
            return  # the room already shows this (a fan-out resumed after a crash)
        if event_id is None:
            event_id = await self._messenger.send(
                room_id, content, f"alert:{thread.thread}:{room_id}"
            )
            if event_id is None:
                raise RuntimeError("queued; delivered on a later run")
        else:
            await self._messenger.edit(room_id, event_id, content, f"{purpose}:{room_id}")
        if severe and not pinned:
            pinned = await self._messenger.pin(room_id, event_id)
        elif not severe and pinned and await self._messenger.unpin(room_id, event_id):
            pinned = False
        await self.store.set_message(thread.thread, room_id, event_id, pinned, shown)

    async def _concern_in(self, alert: Alert, room_id: str) -> Concern:
        for route in self._settings.routes:
            if await self._resolve(route.room) == room_id:
                found = concern(alert, route, self._settings)
                if found is not None:
                    return found
        return concern(alert, _ANY, self._settings) or Concern(Severity.INFO, None, ())

    async def active_lines(self, lang: str) -> list[str]:
        """One line per active alert: its title and when it was issued."""
        lines = []
        for thread in await self.store.active_threads():
            alert = await self._shown_alert(thread)
            when = format_datetime(alert.sent, lang, self._config.zone)
            lines.append(f"• {alert.title}({when})")
        return lines

    # --- time -------------------------------------------------------------------------------

    async def run_due(self, now: datetime) -> int:
        """Finish fan-outs a crash interrupted; end expired alerts (edit, unpin)."""
        async with self._lock:
            done = await self._deliver_pending(now)
            for thread in await self.store.expired_threads(now):
                await self.store.set_thread_state(thread.thread, "expired")
                ended = Thread(thread.thread, "expired", thread.latest_alert, thread.expires)
                alert = await self._shown_alert(ended)
                for message in await self.store.thread_rooms(thread.thread):
                    await self._show(
                        ended, alert, message.room_id, message, f"alert-expired:{thread.thread}"
                    )
                done += 1
        return done


def message_id(alert: Alert) -> str:
    if isinstance(alert.key, CapKey):
        return f"{cap_key(alert.key)}|{alert.sent.isoformat()}"
    return f"jma:{alert.key.message_id}" if alert.origin is Origin.JMA else str(alert.key)
