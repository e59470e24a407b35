"""Tasks in the store. Each change is one transaction together with its event row (for
internal systems) and its reminder rows, so nothing is half done."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bots.store.database import Database, Row, Transaction
from bots.store.times import from_ms, to_ms
from bots.tasks.model import Comment, Priority, Status, Task

_COLUMNS = (
    "id, number, room_id, title, creator, due_at, priority, status, created_at, updated_at,"
    " done_at, done_by, event_id"
)


@dataclass(frozen=True)
class TaskFilter:
    room_id: str | None = None
    assignee: str | None = None
    statuses: tuple[Status, ...] = (Status.OPEN,)
    due_before: datetime | None = None  # due strictly before
    due_from: datetime | None = None  # due at or after
    tag: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class DueReminder:
    task: Task
    kind: str  # "before:<seconds>", "due" or "overdue"
    due_at: datetime
    planned_at: datetime  # when it was planned: a re-planned reminder is a new message


@dataclass(frozen=True)
class ReminderPlan:
    """When reminders go out relative to a task's due time."""

    before: tuple[timedelta, ...] = (timedelta(days=1), timedelta(hours=1))
    overdue_after: timedelta = timedelta(hours=1)

    def rows(self, due: datetime, now: datetime) -> list[tuple[str, datetime]]:
        rows = [
            (f"before:{int(offset.total_seconds())}", due - offset)
            for offset in self.before
            if due - offset > now
        ]
        rows.append(("due", due))
        rows.append(("overdue", due + self.overdue_after))
        return rows


class TaskStore:
    def __init__(self, db: Database, reminders: ReminderPlan) -> None:
        self._db = db
        self._plan = reminders

    # --- reading ---------------------------------------------------------------------

    async def get_task(self, task_id: int) -> Task | None:
        tasks = await self._load(f"SELECT {_COLUMNS} FROM tasks WHERE id = ?", (task_id,))
        return tasks[0] if tasks else None

    async def get_task_by_number(self, room_id: str, number: int) -> Task | None:
        tasks = await self._load(
            f"SELECT {_COLUMNS} FROM tasks WHERE room_id = ? AND number = ? AND status != ?",
            (room_id, number, Status.DELETED.value),
        )
        return tasks[0] if tasks else None

    async def get_task_by_event(self, event_id: str) -> Task | None:
        tasks = await self._load(
            f"SELECT {_COLUMNS} FROM tasks WHERE event_id = ? AND status != ?",
            (event_id, Status.DELETED.value),
        )
        return tasks[0] if tasks else None

    async def find_tasks(self, f: TaskFilter) -> tuple[list[Task], int]:
        """Matching tasks (due first, then number), at most `f.limit`, and the total count."""
        marks = ", ".join("?" * len(f.statuses))
        where: list[str] = [f"status IN ({marks})"]
        params: list[Any] = [s.value for s in f.statuses]
        if f.room_id is not None:
            where.append("room_id = ?")
            params.append(f.room_id)
        if f.assignee is not None:
            where.append("id IN (SELECT task_id FROM task_assignees WHERE user_id = ?)")
            params.append(f.assignee)
        if f.tag is not None:
            where.append("id IN (SELECT task_id FROM task_tags WHERE tag = ?)")
            params.append(f.tag)
        if f.due_before is not None:
            where.append("due_at IS NOT NULL AND due_at < ?")
            params.append(to_ms(f.due_before))
        if f.due_from is not None:
            where.append("due_at IS NOT NULL AND due_at >= ?")
            params.append(to_ms(f.due_from))
        clause = " AND ".join(where)
        count_row = await self._db.fetchone(f"SELECT COUNT(*) FROM tasks WHERE {clause}", params)
        tasks = await self._load(
            f"SELECT {_COLUMNS} FROM tasks WHERE {clause}"
            " ORDER BY CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, room_id, number"
            " LIMIT ?",
            [*params, f.limit],
        )
        return tasks, int(count_row[0]) if count_row else 0

    async def get_comments(self, task_id: int) -> list[Comment]:
        rows = await self._db.fetchall(
            "SELECT task_id, author, text, at, event_id FROM task_comments"
            " WHERE task_id = ? ORDER BY at, id",
            (task_id,),
        )
        return [Comment(r[0], r[1], r[2], from_ms(r[3]) or datetime.min, r[4]) for r in rows]

    async def get_open_tasks_without_message(self, limit: int = 100) -> list[Task]:
        """Open tasks whose message was queued, not yet accepted by the homeserver."""
        return await self._load(
            f"SELECT {_COLUMNS} FROM tasks WHERE event_id IS NULL AND status = ? LIMIT ?",
            (Status.OPEN.value, limit),
        )

    async def rooms_with_open_tasks(self) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT DISTINCT room_id FROM tasks WHERE status = ? ORDER BY room_id",
            (Status.OPEN.value,),
        )
        return [str(r[0]) for r in rows]

    async def _load(self, sql: str, params: Iterable[Any]) -> list[Task]:
        rows = await self._db.fetchall(sql, params)
        if not rows:
            return []
        ids = [int(r[0]) for r in rows]
        marks = ", ".join("?" * len(ids))
        assignees: dict[int, list[str]] = {i: [] for i in ids}
        for task_id, user in await self._db.fetchall(
            f"SELECT task_id, user_id FROM task_assignees WHERE task_id IN ({marks})"
            " ORDER BY user_id",
            ids,
        ):
            assignees[int(task_id)].append(str(user))
        tags: dict[int, list[str]] = {i: [] for i in ids}
        for task_id, tag in await self._db.fetchall(
            f"SELECT task_id, tag FROM task_tags WHERE task_id IN ({marks}) ORDER BY tag", ids
        ):
            tags[int(task_id)].append(str(tag))
        return [_task(r, assignees[int(r[0])], tags[int(r[0])]) for r in rows]

    # --- changing --------------------------------------------------------------------

    async def create_task(
        self,
        room_id: str,
        title: str,
        creator: str,
        assignees: Sequence[str],
        due: datetime | None,
        priority: Priority,
        tags: Sequence[str],
        now: datetime,
        also: Callable[[Transaction], Awaitable[object]] | None = None,
    ) -> Task:
        """`also` runs in the same transaction (e.g. recording the webhook that asked)."""
        async with self._db.transaction() as tx:
            if also is not None:
                await also(tx)
            row = await tx.fetchone(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM tasks WHERE room_id = ?", (room_id,)
            )
            number = int(row[0]) if row else 1
            await tx.execute(
                "INSERT INTO tasks (room_id, number, title, creator, due_at, priority, status,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    room_id,
                    number,
                    title,
                    creator,
                    to_ms(due) if due else None,
                    priority.value,
                    Status.OPEN.value,
                    to_ms(now),
                    to_ms(now),
                ),
            )
            id_row = await tx.fetchone(
                "SELECT id FROM tasks WHERE room_id = ? AND number = ?", (room_id, number)
            )
            assert id_row is not None
            task_id = int(id_row[0])
            for user in dict.fromkeys(assignees):
                await tx.execute(
                    "INSERT INTO task_assignees (task_id, user_id) VALUES (?, ?)", (task_id, user)
                )
            for tag in dict.fromkeys(tags):
                await tx.execute(
                    "INSERT INTO task_tags (task_id, tag) VALUES (?, ?)", (task_id, tag)
                )
            if due is not None:
                await self._plan_reminders(tx, task_id, due, now)
            await _event(
                tx,
                task_id,
                "created",
                creator,
                now,
                {
                    "room_id": room_id,
                    "number": number,
                    "title": title,
                    "assignees": list(dict.fromkeys(assignees)),
                    "due": due.isoformat() if due else None,
                    "priority": priority.value,
                    "tags": list(dict.fromkeys(tags)),
                },
            )
        task = await self.get_task(task_id)
        assert task is not None
        return task

    async def set_event_id(self, task_id: int, event_id: str) -> None:
        await self._db.execute("UPDATE tasks SET event_id = ? WHERE id = ?", (event_id, task_id))

    async def set_status(self, task: Task, status: Status, actor: str, now: datetime) -> Task:
        kind = {Status.DONE: "done", Status.OPEN: "reopened", Status.DELETED: "deleted"}[status]
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE tasks SET status = ?, updated_at = ?, done_at = ?, done_by = ?"
                " WHERE id = ?",
                (
                    status.value,
                    to_ms(now),
                    to_ms(now) if status is Status.DONE else None,
                    actor if status is Status.DONE else None,
                    task.id,
                ),
            )
            await tx.execute(
                "DELETE FROM task_reminders WHERE task_id = ? AND sent_at IS NULL", (task.id,)
            )
            if status is Status.OPEN and task.due is not None:
                await self._plan_reminders(tx, task.id, task.due, now)
            await _event(tx, task.id, kind, actor, now, {"number": task.number})
        return await self._reload(task)

    async def set_due(self, task: Task, due: datetime | None, actor: str, now: datetime) -> Task:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE tasks SET due_at = ?, updated_at = ? WHERE id = ?",
                (to_ms(due) if due else None, to_ms(now), task.id),
            )
            await tx.execute(
                "DELETE FROM task_reminders WHERE task_id = ? AND sent_at IS NULL", (task.id,)
            )
            if due is not None:
                await self._plan_reminders(tx, task.id, due, now)
            await _event(
                tx,
                task.id,
                "due_changed",
                actor,
                now,
                {
                    "number": task.number,
                    "due": due.isoformat() if due else None,
                },
            )
        return await self._reload(task)

    async def rename(self, task: Task, title: str, actor: str, now: datetime) -> Task:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE tasks SET title = ?, updated_at = ? WHERE id = ?",
                (title, to_ms(now), task.id),
            )
            await _event(
                tx, task.id, "renamed", actor, now, {"number": task.number, "title": title}
            )
        return await self._reload(task)

    async def set_assignees(
        self, task: Task, add: Sequence[str], remove: Sequence[str], actor: str, now: datetime
    ) -> Task:
        async with self._db.transaction() as tx:
            for user in add:
                await tx.execute(
                    "INSERT INTO task_assignees (task_id, user_id) VALUES (?, ?)"
                    " ON CONFLICT (task_id, user_id) DO NOTHING",
                    (task.id, user),
                )
            for user in remove:
                await tx.execute(
                    "DELETE FROM task_assignees WHERE task_id = ? AND user_id = ?", (task.id, user)
                )
            await tx.execute("UPDATE tasks SET updated_at = ? WHERE id = ?", (to_ms(now), task.id))
            await _event(
                tx,
                task.id,
                "assigned",
                actor,
                now,
                {
                    "number": task.number,
                    "added": list(add),
                    "removed": list(remove),
                },
            )
        return await self._reload(task)

    async def add_comment(
        self, task: Task, author: str, text: str, now: datetime, event_id: str | None
    ) -> bool:
        """False if this comment (by its event id) was stored before."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "INSERT INTO task_comments (task_id, author, text, at, event_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                (task.id, author, text, to_ms(now), event_id),
            )
            if changed:
                await _event(
                    tx,
                    task.id,
                    "commented",
                    author,
                    now,
                    {
                        "number": task.number,
                        "text": text,
                    },
                )
        return bool(changed)

    async def _reload(self, task: Task) -> Task:
        fresh = await self.get_task(task.id)
        assert fresh is not None
        return fresh

    async def _plan_reminders(
        self, tx: Transaction, task_id: int, due: datetime, now: datetime
    ) -> None:
        for kind, at in self._plan.rows(due, now):
            await tx.execute(
                "INSERT INTO task_reminders (task_id, kind, due_at, planned_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (task_id, kind) DO UPDATE SET"
                " due_at = excluded.due_at, planned_at = excluded.planned_at, sent_at = NULL",
                (task_id, kind, to_ms(at), to_ms(now)),
            )

    # --- reminders, boards, digests ----------------------------------------------------

    async def get_due_reminders(self, now: datetime, limit: int = 500) -> list[DueReminder]:
        rows = await self._db.fetchall(
            "SELECT r.task_id, r.kind, r.due_at, r.planned_at FROM task_reminders r JOIN tasks t"
            " ON t.id = r.task_id WHERE r.sent_at IS NULL AND r.due_at <= ? AND t.status = ?"
            " ORDER BY r.due_at LIMIT ?",
            (to_ms(now), Status.OPEN.value, limit),
        )
        found = []
        for task_id, kind, due_at, planned_at in rows:
            task = await self.get_task(int(task_id))
            if task is not None:
                found.append(
                    DueReminder(task, str(kind), from_ms(due_at) or now, from_ms(planned_at) or now)
                )
        return found

    async def next_reminder_at(self) -> datetime | None:
        row = await self._db.fetchone(
            "SELECT MIN(r.due_at) FROM task_reminders r JOIN tasks t ON t.id = r.task_id"
            " WHERE r.sent_at IS NULL AND t.status = ?",
            (Status.OPEN.value,),
        )
        return from_ms(row[0]) if row and row[0] is not None else None

    async def mark_reminder_sent(self, task_id: int, kind: str, now: datetime) -> None:
        await self._db.execute(
            "UPDATE task_reminders SET sent_at = ? WHERE task_id = ? AND kind = ?",
            (to_ms(now), task_id, kind),
        )

    async def get_board(self, room_id: str) -> tuple[str, int] | None:
        row = await self._db.fetchone(
            "SELECT event_id, version FROM task_boards WHERE room_id = ?", (room_id,)
        )
        return (str(row[0]), int(row[1])) if row else None

    async def save_board(self, room_id: str, event_id: str) -> None:
        await self._db.execute(
            "INSERT INTO task_boards (room_id, event_id, version) VALUES (?, ?, 0)"
            " ON CONFLICT (room_id) DO UPDATE SET event_id = excluded.event_id, version = 0",
            (room_id, event_id),
        )

    async def next_board_version(self, room_id: str) -> int:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE task_boards SET version = version + 1 WHERE room_id = ?", (room_id,)
            )
            row = await tx.fetchone("SELECT version FROM task_boards WHERE room_id = ?", (room_id,))
        return int(row[0]) if row else 0

    async def digest_sent(self, room_id: str, day: str) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM task_digests WHERE room_id = ? AND day = ?", (room_id, day)
        )
        return row is not None

    async def mark_digest_sent(self, room_id: str, day: str, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO task_digests (room_id, day, sent_at) VALUES (?, ?, ?)"
            " ON CONFLICT (room_id, day) DO NOTHING",
            (room_id, day, to_ms(now)),
        )

    async def get_events(self, task_id: int) -> list[tuple[str, str, dict[str, Any]]]:
        rows = await self._db.fetchall(
            "SELECT kind, actor, payload FROM task_events WHERE task_id = ? ORDER BY id",
            (task_id,),
        )
        return [(str(r[0]), str(r[1]), json.loads(r[2])) for r in rows]


async def _event(
    tx: Transaction, task_id: int, kind: str, actor: str, now: datetime, payload: dict[str, Any]
) -> None:
    await tx.execute(
        "INSERT INTO task_events (task_id, kind, actor, payload, at) VALUES (?, ?, ?, ?, ?)",
        (task_id, kind, actor, json.dumps({"task_id": task_id, **payload}), to_ms(now)),
    )


def _task(row: Row, assignees: list[str], tags: list[str]) -> Task:
    (
        task_id,
        number,
        room_id,
        title,
        creator,
        due_at,
        priority,
        status,
        created_at,
        updated_at,
        done_at,
        done_by,
        event_id,
    ) = row
    return Task(
        id=int(task_id),
        number=int(number),
        room_id=str(room_id),
        title=str(title),
        creator=str(creator),
        assignees=tuple(assignees),
        due=from_ms(due_at),
        priority=Priority(priority),
        tags=tuple(tags),
        status=Status(status),
        created_at=from_ms(created_at) or datetime.min.replace(tzinfo=UTC),
        updated_at=from_ms(updated_at) or datetime.min.replace(tzinfo=UTC),
        done_at=from_ms(done_at),
        done_by=done_by,
        event_id=event_id,
    )
