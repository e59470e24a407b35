"""The roll call plugged into the alerts bot: answers by reply, reaction or poll; a
driver that keeps asking while new direct rooms come up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from bots.alerts.model import Alert
from bots.features import FeatureBase, Reaction, RelatedMessage, RoomEvent
from bots.rollcall.commands import rollcall_commands
from bots.rollcall.service import RollCallService

log = logging.getLogger(__name__)

POLL_RESPONSES = ("org.matrix.msc3381.poll.response", "m.poll.response")
#: while direct rooms are still coming up, look again this often
RETRY_S = 0.5


class RollCallFeature(FeatureBase):
    name = "rollcall"

    def __init__(self, service: RollCallService, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self.service = service
        self.commands = rollcall_commands(service, self.now, self.kick)
        self._driver: asyncio.Task[None] | None = None
        self._again = False

    async def on_alert(self, alert: Alert, now: datetime) -> None:
        await self.service.on_alert(alert, now)
        self.kick()

    async def on_reaction(self, reaction: Reaction) -> None:
        if await self.service.answer(
            reaction.room_id,
            reaction.sender,
            reaction.event_id,
            self.now(),
            reaction=reaction.key,
            relates_to=reaction.target,
        ):
            self.kick()

    async def on_related_message(self, message: RelatedMessage) -> None:
        if await self.service.answer(
            message.room_id,
            message.sender,
            message.event_id,
            self.now(),
            text=message.text,
            relates_to=message.in_reply_to or message.thread_root,
        ):
            self.kick()

    async def on_event(self, event: RoomEvent) -> None:
        if event.type not in POLL_RESPONSES:
            return
        relates = event.content.get("m.relates_to") or {}
        body = event.content.get(event.type) or {}
        chosen = body.get("answers") if isinstance(body, dict) else None
        if chosen is None:  # the stable form
            chosen = event.content.get("m.selections")
        if not isinstance(chosen, list) or not isinstance(relates, dict):
            return
        if await self.service.answer(
            event.room_id,
            event.sender,
            event.event_id,
            self.now(),
            poll=[str(c) for c in chosen],
            relates_to=relates.get("event_id"),
        ):
            self.kick()

    async def run_due(self) -> int:
        if self._driver is not None and not self._driver.done():
            self._again = True  # the running driver makes one more pass
            return 0
        return await self.service.run_due(self.now())

    def kick(self) -> None:
        """Do what is due now, in the background; passes asked for meanwhile are merged
        into one more pass (so many answers make few edits of the tally)."""
        self._again = True
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive(), name="rollcall:drive")

    async def _drive(self) -> None:
        for _ in range(1200):  # bounded: ten minutes of direct rooms not coming up
            self._again = False
            try:
                await self.service.run_due(self.now())
            except Exception:
                log.exception("roll call: a pass failed; the scheduler tries again")
                return
            if self.service.waiting:
                await asyncio.sleep(RETRY_S)
            elif not self._again:
                return

    async def close(self) -> None:
        """A pass cut short is safe: what it did is stored, what it sent is in the
        ledger, and the next start carries on."""
        driver, self._driver = self._driver, None
        if driver is not None and not driver.done():
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver

    async def drained(self) -> None:
        """Wait for the background pass (tests)."""
        while self._driver is not None and not self._driver.done():
            await asyncio.shield(self._driver)
