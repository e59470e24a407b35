"""Bot logins, sync positions and room joins."""

from __future__ import annotations

from dataclasses import dataclass

from bots.store.database import Database


@dataclass(frozen=True)
class BotSession:
    bot: str
    user_id: str
    device_id: str
    access_token: str
    sync_token: str | None
    last_sync_at: int | None


class SessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_session(self, bot: str) -> BotSession | None:
        row = await self._db.fetchone(
            "SELECT bot, user_id, device_id, access_token, sync_token, last_sync_at"
            " FROM bot_sessions WHERE bot = ?",
            (bot,),
        )
        return BotSession(*row) if row else None

    async def save_login(self, bot: str, user_id: str, device_id: str, access_token: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM bot_sessions WHERE bot = ?", (bot,))
            await tx.execute(
                "INSERT INTO bot_sessions (bot, user_id, device_id, access_token)"
                " VALUES (?, ?, ?, ?)",
                (bot, user_id, device_id, access_token),
            )

    async def forget_login(self, bot: str) -> None:
        await self._db.execute("DELETE FROM bot_sessions WHERE bot = ?", (bot,))

    async def save_sync(self, bot: str, sync_token: str, at_ms: int) -> None:
        await self._db.execute(
            "UPDATE bot_sessions SET sync_token = ?, last_sync_at = ? WHERE bot = ?",
            (sync_token, at_ms, bot),
        )

    async def get_joined_at(self, bot: str, room_id: str) -> int | None:
        row = await self._db.fetchone(
            "SELECT joined_at FROM room_joins WHERE bot = ? AND room_id = ?", (bot, room_id)
        )
        return int(row[0]) if row else None

    async def record_join(self, bot: str, room_id: str, joined_at_ms: int) -> None:
        """Remember the first join only: a later re-join does not reopen old history."""
        await self._db.execute(
            "INSERT INTO room_joins (bot, room_id, joined_at) VALUES (?, ?, ?)"
            " ON CONFLICT (bot, room_id) DO NOTHING",
            (bot, room_id, joined_at_ms),
        )
