"""Messages a bot could not decrypt: wait a little for the room key (it often arrives in
the next sync), then answer politely and ask for the key, once per message.

The wait is counted in time *and* in syncs: under load one sync can take longer than the
grace period, and Synapse hands out at most 100 to-device messages (room keys) per sync,
so a key may come a sync or two after its message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient, MegolmEvent

from bots.config import Config
from bots.i18n import Catalog
from bots.matrix import content as mc
from bots.matrix.outbox import Outbox
from bots.store.events import EventStore

log = logging.getLogger(__name__)


#: syncs to wait for a key at least, however long they take
MIN_SYNCS = 3


@dataclass
class _Waiting:
    event: MegolmEvent
    room_id: str
    deadline: float
    min_syncs: int
    syncs: int = 0


class UndecryptableMessages:
    def __init__(
        self,
        bot: str,
        client: AsyncClient,
        events: EventStore,
        outbox: Outbox,
        catalog: Catalog,
        config: Config,
        clock: Callable[[], float],
    ) -> None:
        self._bot = bot
        self._client = client
        self._events = events
        self._outbox = outbox
        self._catalog = catalog
        self._config = config
        self._clock = clock
        self._waiting: list[_Waiting] = []

    def wait_for_key(
        self, event: MegolmEvent, room_id: str, grace_s: float, min_syncs: int = MIN_SYNCS
    ) -> None:
        self._waiting.append(_Waiting(event, room_id, self._clock() + grace_s, min_syncs))

    async def retry(self, handle: Callable[[str, Any], Awaitable[None]]) -> None:
        """Decrypt what now can be (and `handle` it); apologise for what timed out."""
        waiting, self._waiting = self._waiting, []
        now = self._clock()
        for item in waiting:
            try:
                decrypted = self._client.decrypt_event(item.event)
            except Exception:
                decrypted = None
            item.syncs += 1
            if decrypted is not None:
                await handle(item.room_id, decrypted)
            elif now < item.deadline or item.syncs < item.min_syncs:
                self._waiting.append(item)
            else:
                await self._apologise(item)

    async def _apologise(self, item: _Waiting) -> None:
        event = item.event
        if await self._events.is_handled(self._bot, event.event_id):
            return
        # only one bot of a room apologises for a message none of us could read
        if await self._events.claim(event.event_id, "undecryptable", self._bot):
            log.warning(
                "bot %s: cannot decrypt %s in %s from %s (session %s)",
                self._bot,
                event.event_id,
                item.room_id,
                event.sender,
                event.session_id,
            )
            lang = self._config.language_for(event.sender)
            text = self._catalog.t(lang, "error.undecryptable")
            await self._outbox.send(
                item.room_id,
                mc.message(text, reply_to=event.event_id),
                f"undecryptable:{event.event_id}",
            )
            try:
                await self._client.request_room_key(event)
            except Exception:  # a key request already pending is fine
                log.debug("room key request for %s not sent", event.event_id)
        await self._events.mark_handled(self._bot, event.event_id, int(self._clock() * 1000))
