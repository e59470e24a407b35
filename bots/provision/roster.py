"""The provisioned staff in the store (the roll-call roster follows it) and the personnel
notices that the tasks bot delivers to the leads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bots.provision.model import (
    Notify,
    Person,
    PersonnelNotice,
    RosterAdd,
    RosterEntry,
    RosterRemove,
    RosterUpdate,
    StoreAction,
)
from bots.store.database import Database, Row
from bots.store.times import from_ms, to_ms

_STAFF = "employee_number, name, kana, department, roles, user_id, active, updated_at"
_NOTICE = "id, user_id, name, from_department, to_department, created_at, done_at"


def _entry(row: Row) -> RosterEntry:
    person = Person(
        employee_number=str(row[0]),
        name=str(row[1]),
        kana=str(row[2]),
        department=str(row[3]),
        roles=tuple(r for r in str(row[4]).split(",") if r),
        user_id=str(row[5]),
    )
    return RosterEntry(person, bool(row[6]), from_ms(row[7]))


def _notice(row: Row) -> PersonnelNotice:
    return PersonnelNotice(
        id=int(row[0]),
        user_id=str(row[1]),
        name=str(row[2]),
        from_department=str(row[3]),
        to_department=row[4],
        created_at=from_ms(row[5]) or datetime.fromtimestamp(0, UTC),
        done_at=from_ms(row[6]),
    )


class StaffStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- the roster ----------------------------------------------------------------------

    async def entries(self) -> list[RosterEntry]:
        """Everyone provisioning has recorded, leavers included."""
        rows = await self._db.fetchall(f"SELECT {_STAFF} FROM staff ORDER BY employee_number")
        return [_entry(r) for r in rows]

    async def active(self) -> list[Person]:
        """The staff on the current list, by department then employee number."""
        rows = await self._db.fetchall(
            f"SELECT {_STAFF} FROM staff WHERE active = ? ORDER BY department, employee_number",
            (1,),
        )
        return [_entry(r).person for r in rows]

    async def leads_of(self, department: str) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT user_id, roles FROM staff WHERE active = ? AND department = ?"
            " ORDER BY employee_number",
            (1, department),
        )
        return [str(r[0]) for r in rows if "lead" in str(r[1]).split(",")]

    async def record(self, actions: Sequence[StoreAction], now: datetime) -> None:
        """The roster changes and notices of one provisioning, in one transaction."""
        at = to_ms(now)
        async with self._db.transaction() as tx:
            for action in actions:
                match action:
                    case RosterAdd(person=p) | RosterUpdate(person=p):
                        await tx.execute(
                            f"INSERT INTO staff ({_STAFF}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                            " ON CONFLICT (employee_number) DO UPDATE SET name = excluded.name,"
                            " kana = excluded.kana, department = excluded.department,"
                            " roles = excluded.roles, user_id = excluded.user_id,"
                            " active = excluded.active, updated_at = excluded.updated_at",
                            (
                                p.employee_number,
                                p.name,
                                p.kana,
                                p.department,
                                ",".join(p.roles),
                                p.user_id,
                                1,
                                at,
                            ),
                        )
                    case RosterRemove(person=p):
                        await tx.execute(
                            "UPDATE staff SET active = ?, updated_at = ? WHERE employee_number = ?",
                            (0, at, p.employee_number),
                        )
                    case Notify():
                        await tx.execute(
                            "INSERT INTO personnel_notices (user_id, name, from_department,"
                            " to_department, created_at) VALUES (?, ?, ?, ?, ?)",
                            (
                                action.person.user_id,
                                action.person.name,
                                action.from_department,
                                action.to_department,
                                at,
                            ),
                        )

    # --- notices -------------------------------------------------------------------------

    async def pending_notices(self, limit: int = 100) -> list[PersonnelNotice]:
        rows = await self._db.fetchall(
            f"SELECT {_NOTICE} FROM personnel_notices WHERE done_at IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return [_notice(r) for r in rows]

    async def notices(self) -> list[PersonnelNotice]:
        rows = await self._db.fetchall(f"SELECT {_NOTICE} FROM personnel_notices ORDER BY id")
        return [_notice(r) for r in rows]

    async def notice_done(self, notice_id: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE personnel_notices SET done_at = ? WHERE id = ? AND done_at IS NULL",
            (to_ms(now), notice_id),
        )
