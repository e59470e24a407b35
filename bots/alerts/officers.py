"""Manual alerts and their second-officer confirmation (a false alert is worse than a
slow one)."""

from __future__ import annotations

from datetime import datetime

from bots.alerts.manual import manual_cap
from bots.alerts.routing import LEVELS
from bots.alerts.service import AlertService
from bots.commands.errors import CommandError
from bots.config import Config
from bots.store.database import Database
from bots.store.times import from_ms, to_ms


class ManualAlerts:
    def __init__(self, db: Database, service: AlertService, config: Config) -> None:
        self._db = db
        self._service = service
        self._settings = config.alerts

    async def raise_alert(
        self, author: str, room_id: str, level: str, title: str, body: str, now: datetime
    ) -> tuple[int, int | None]:
        """(number, rooms reached) — rooms is None when it waits for confirmation."""
        needs_confirmation = LEVELS[level] >= LEVELS[self._settings.confirm_level]
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO manual_alerts (author, room_id, level, title, body, created_at,"
                " state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    author,
                    room_id,
                    level,
                    title,
                    body,
                    to_ms(now),
                    "pending" if needs_confirmation else "sent",
                ),
            )
            row = await tx.fetchone("SELECT MAX(id) FROM manual_alerts")
        assert row is not None
        number = int(row[0])
        if needs_confirmation:
            return number, None
        return number, await self._send(number, now)

    async def confirm(self, officer: str, number: int, now: datetime) -> int:
        row = await self._db.fetchone(
            "SELECT author, state FROM manual_alerts WHERE id = ?", (number,)
        )
        if row is None:
            raise CommandError("alert.error.not_found", number=number)
        if row[1] != "pending":
            raise CommandError("alert.error.not_pending", number=number)
        if row[0] == officer:
            raise CommandError("alert.error.self_confirm")
        await self._db.execute(
            "UPDATE manual_alerts SET state = 'confirmed', confirmed_by = ? WHERE id = ?",
            (officer, number),
        )
        return await self._send(number, now)

    async def cancel(self, officer: str, number: int, now: datetime) -> None:
        row = await self._db.fetchone(
            "SELECT author, created_at, state FROM manual_alerts WHERE id = ?", (number,)
        )
        if row is None:
            raise CommandError("alert.error.not_found", number=number)
        await self._db.execute(
            "UPDATE manual_alerts SET state = 'cancelled' WHERE id = ?", (number,)
        )
        if row[2] == "sent":
            sent = from_ms(row[1])
            assert sent is not None
            document = manual_cap(
                number, str(row[0]), "info", "", "", now, self._settings.city_codes, cancel_of=sent
            )
            await self._service.ingest_document(document, now)

    async def resume(self, now: datetime) -> int:
        """Send confirmed manual alerts that a crash kept from being recorded."""
        rows = await self._db.fetchall(
            "SELECT id FROM manual_alerts WHERE state = 'confirmed' ORDER BY id"
        )
        for (number,) in rows:
            await self._send(int(number), now)
        return len(rows)

    async def _send(self, number: int, now: datetime) -> int:
        row = await self._db.fetchone(
            "SELECT author, level, title, body, created_at FROM manual_alerts WHERE id = ?",
            (number,),
        )
        assert row is not None
        sent = from_ms(row[4])
        assert sent is not None
        document = manual_cap(
            number,
            str(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            sent,
            self._settings.city_codes,
        )
        outcomes = await self._service.ingest_document(document, now)
        # marked sent only once it is recorded for delivery (the fan-out resumes by itself)
        await self._db.execute("UPDATE manual_alerts SET state = 'sent' WHERE id = ?", (number,))
        return sum(o.rooms for o in outcomes)
