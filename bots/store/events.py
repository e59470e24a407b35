"""Which events have been handled, and by whom (exactly-once command handling)."""

from __future__ import annotations

from bots.store.database import Database


class EventStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def is_handled(self, bot: str, event_id: str) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM handled_events WHERE bot = ? AND event_id = ?", (bot, event_id)
        )
        return row is not None

    async def mark_handled(self, bot: str, event_id: str, at_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO handled_events (bot, event_id, handled_at) VALUES (?, ?, ?)"
            " ON CONFLICT (bot, event_id) DO NOTHING",
            (bot, event_id, at_ms),
        )

    async def prune(self, bot: str, before_ms: int) -> int:
        """Forget the bot's events handled before then; the number forgotten."""
        return await self._db.execute(
            "DELETE FROM handled_events WHERE bot = ? AND handled_at < ?", (bot, before_ms)
        )

    async def claim(self, event_id: str, purpose: str, bot: str) -> bool:
        """True if `bot` is the one to do `purpose` for this event (first claim wins).

        A bot that claimed before a crash gets its claim back, so the work is redone by
        the same bot and its send ledger keeps the reply single.
        """
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO event_claims (event_id, purpose, bot) VALUES (?, ?, ?)"
                " ON CONFLICT (event_id, purpose) DO NOTHING",
                (event_id, purpose, bot),
            )
            row = await tx.fetchone(
                "SELECT bot FROM event_claims WHERE event_id = ? AND purpose = ?",
                (event_id, purpose),
            )
        return row is not None and row[0] == bot
