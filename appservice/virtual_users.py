"""Virtual users: one per configured internal system, registered and joined on demand.

Their sends go through the send ledger under their own user ID, with transaction ids
derived from the sender and the message's purpose: Synapse deduplicates appservice sends
per appservice (not per user) and only for 30 minutes, so the ledger is what keeps a
retry single.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from appservice.api import AppserviceApi
from bots.config import Config
from bots.config_bridge import AppserviceSettings, System
from bots.matrix.http import MatrixHttpError
from bots.store.database import Database
from bots.store.ledger import SendLedger, derive_txn_id

log = logging.getLogger(__name__)


class VirtualUsers:
    def __init__(
        self,
        api: AppserviceApi,
        db: Database,
        config: Config,
        settings: AppserviceSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._db = db
        self._config = config
        self._settings = settings
        self._ledger = SendLedger(db)
        self._clock = clock
        self._systems = {s.id: s for s in config.systems}

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def user_id(self, system: System) -> str:
        return f"@{self._settings.user_prefix}{system.id}:{self._config.homeserver.server_name}"

    @property
    def sender_id(self) -> str:
        return f"@{self._settings.sender_localpart}:{self._config.homeserver.server_name}"

    def system_for(self, user_id: str) -> System | None:
        for system in self._systems.values():
            if self.user_id(system) == user_id:
                return system
        return None

    def owns(self, user_id: str) -> bool:
        """True for the appservice's own users (its sender and every virtual user)."""
        prefix = f"@{self._settings.user_prefix}"
        return user_id == self.sender_id or user_id.startswith(prefix)

    async def ensure(self, system: System) -> str:
        """Registered, with the configured display name and avatar (set once per change)."""
        user_id = self.user_id(system)
        row = await self._db.fetchone(
            "SELECT display_name, avatar_url FROM virtual_users WHERE user_id = ?", (user_id,)
        )
        if row is not None and row == (system.display_name, system.avatar_url):
            return user_id
        if row is None:
            await self._api.register(f"{self._settings.user_prefix}{system.id}")
        await self._api.set_profile(user_id, system.display_name, system.avatar_url)
        await self._db.execute(
            "INSERT INTO virtual_users (user_id, display_name, avatar_url, registered_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
            " display_name = excluded.display_name, avatar_url = excluded.avatar_url",
            (user_id, system.display_name, system.avatar_url, self._now_ms()),
        )
        log.info("virtual user %s ready (%s)", user_id, system.id)
        return user_id

    async def ensure_in_room(
        self,
        system: System,
        room_id: str,
        invite: Callable[[str, str], Any] | None = None,
    ) -> None:
        """Joined to the room; if the room is invite-only, `invite(room, user)` (a yakuba bot
        in the room) invites it first."""
        user_id = await self.ensure(system)
        row = await self._db.fetchone(
            "SELECT 1 FROM virtual_user_rooms WHERE user_id = ? AND room_id = ?",
            (user_id, room_id),
        )
        if row is not None:
            return
        try:
            await self._api.join(room_id, user_id)
        except MatrixHttpError as exc:
            if exc.status != 403 or invite is None or not await invite(room_id, user_id):
                raise
            await self._api.join(room_id, user_id)
        await self._db.execute(
            "INSERT INTO virtual_user_rooms (user_id, room_id, joined_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, room_id) DO NOTHING",
            (user_id, room_id, self._now_ms()),
        )

    async def send(
        self, system: System, room_id: str, content: dict[str, Any], key: str
    ) -> str | None:
        """Send as the system once; None if it failed and waits in the ledger for a retry."""
        sender = self.user_id(system)
        txn_id = derive_txn_id(sender, key)
        entry = await self._ledger.record(
            txn_id, sender, room_id, "m.room.message", content, self._now_ms()
        )
        if entry.event_id is not None:
            return entry.event_id
        return await self._deliver(sender, entry.room_id, entry.txn_id, entry.content)

    async def _deliver(
        self, sender: str, room_id: str, txn_id: str, content: dict[str, Any]
    ) -> str | None:
        try:
            event_id = await self._api.send(room_id, "m.room.message", txn_id, content, sender)
        except Exception as exc:
            log.warning("send %s as %s to %s failed: %r", txn_id, sender, room_id, exc)
            await self._ledger.mark_failed(txn_id, repr(exc))
            return None
        await self._ledger.mark_sent(txn_id, event_id, self._now_ms())
        return event_id

    async def retry_pending(self) -> int:
        """Send again what the virtual users recorded but Synapse has not accepted."""
        remaining = 0
        for system in self._systems.values():
            for entry in await self._ledger.get_pending_for_sender(self.user_id(system)):
                if (
                    await self._deliver(entry.sender, entry.room_id, entry.txn_id, entry.content)
                    is None
                ):
                    remaining += 1
        return remaining
