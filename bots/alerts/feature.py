"""The alert workflow plugged into the alerts bot: its commands, its time, and alerts
posted as Matrix events by the senders `alerts.matrix_sources` lists."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bots.alerts.commands import alert_commands
from bots.alerts.matrixsource import Verdict, decide, sources_of_type
from bots.alerts.officers import ManualAlerts
from bots.alerts.service import AlertService, Resolve
from bots.alerts.xmlsafe import AlertParseError
from bots.config_alerts import MESSAGE_EVENT_TYPE, MatrixSource
from bots.features import FeatureBase, RelatedMessage, RoomEvent

log = logging.getLogger(__name__)


async def _room_ids_only(ref: str) -> str | None:
    return ref if ref.startswith("!") else None


class AlertFeature(FeatureBase):
    name = "alerts"

    def __init__(
        self,
        service: AlertService,
        manual: ManualAlerts,
        clock: Callable[[], float],
        *,
        matrix_sources: Sequence[MatrixSource] = (),
        resolve_room: Resolve = _room_ids_only,
    ) -> None:
        super().__init__(clock)
        self.service = service
        self.manual = manual
        self.commands = alert_commands(manual, service, self.now)
        self._sources = tuple(matrix_sources)
        self._resolve = resolve_room

    async def run_due(self) -> int:
        now = self.now()
        return await self.manual.resume(now) + await self.service.run_due(now)

    # --- alerts from Matrix rooms ---------------------------------------------------------

    async def on_event(self, event: RoomEvent) -> None:
        await self._from_matrix(
            event.room_id, event.event_id, event.sender, event.type, event.content
        )

    async def on_related_message(self, message: RelatedMessage) -> None:
        # the runtime hands over m.text messages that are not commands: as text
        content = {"msgtype": "m.text", "body": message.text}
        await self._from_matrix(
            message.room_id, message.event_id, message.sender, MESSAGE_EVENT_TYPE, content
        )

    async def _from_matrix(
        self,
        room_id: str,
        event_id: str,
        sender: str,
        event_type: str,
        content: Mapping[str, Any],
    ) -> None:
        candidates = sources_of_type(self._sources, event_type)
        if not candidates:
            return  # cheap: no room lookups for events of other types
        sources = [s for s in candidates if await self._resolve(s.room) == room_id]
        decision = decide(sources, sender, event_type, content)
        if decision.verdict is Verdict.NONE:
            return
        if decision.verdict is not Verdict.TAKE:
            log.warning(
                "alert event %s (%s) in %s from %s ignored: %s",
                event_id,
                event_type,
                room_id,
                sender,
                decision.reason,
            )
            return
        try:
            outcomes = await self.service.ingest_document(decision.document, self.now())
        except AlertParseError as exc:
            log.warning("alert event %s in %s from %s refused: %s", event_id, room_id, sender, exc)
            return
        for outcome in outcomes:
            log.info(
                "alert event %s in %s from %s: %s (%d rooms) %s",
                event_id,
                room_id,
                sender,
                outcome.result,
                outcome.rooms,
                outcome.reason,
            )
