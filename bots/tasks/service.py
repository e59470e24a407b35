"""The task workflow: rules and state. It speaks to Matrix only through the Messenger port.

Permissions: anyone may add tasks for themselves and finish their own; assigning to
others, deleting others' tasks and changing their due time need the lead role.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bots.commands.errors import CommandError
from bots.commands.router import Role
from bots.config import Config
from bots.i18n import Catalog
from bots.matrix import content as mc
from bots.messenger import Messenger
from bots.store.database import Transaction
from bots.store.times import to_ms
from bots.tasks.calendar import BusinessCalendar
from bots.tasks.model import Priority, Status, Task
from bots.tasks.render import Renderer
from bots.tasks.store import DueReminder, TaskFilter, TaskStore

log = logging.getLogger(__name__)

RoleCheck = Callable[[str, str, Role], Awaitable[bool]]
DONE_REACTIONS = frozenset({"✅", "✔️", "✔", "☑️", "☑"})
#: a reminder more than this late says so
LATE_AFTER = timedelta(minutes=5)
BOARD_SIZE = 30


@dataclass(frozen=True)
class Actor:
    user_id: str
    room_id: str


class TaskService:
    def __init__(
        self,
        store: TaskStore,
        messenger: Messenger,
        catalog: Catalog,
        config: Config,
        calendar: BusinessCalendar,
        role_check: RoleCheck,
    ) -> None:
        self.store = store
        self._messenger = messenger
        self._catalog = catalog
        self._config = config
        self._calendar = calendar
        self._role_check = role_check
        settings = config.tasks
        self._digest = (
            CronTrigger.from_crontab(settings.digest, timezone=config.zone)
            if settings.digest
            else None
        )

    @property
    def max_title(self) -> int:
        return self._config.tasks.max_title_length

    def is_direct(self, room_id: str) -> bool:
        """A direct chat with the bot: the only place where other rooms' tasks are listed."""
        return self._messenger.member_count(room_id) <= 2

    async def upload(self, room_id: str, data: bytes, filename: str, mime: str, key: str) -> None:
        await self._messenger.upload(room_id, data, filename, mime, key)

    async def describe(self, task: Task, reader: str, now: datetime) -> str:
        r = self.renderer_for(reader, task.room_id)
        lines = [r.t("task.line", number=task.number, title=task.title)]
        lines += r.fields(task, now)
        lines.append(r.t("task.field.status", status=r.t(f"task.status.{task.status}")))
        lines.append(r.t("task.field.creator", name=r.name_of(task.creator)))
        comments = await self.store.get_comments(task.id)
        if comments:
            lines.append(r.t("task.field.comments", count=len(comments)))
            lines += [f"  {r.name_of(c.author)} ({r.when(c.at)}): {c.text}" for c in comments]
        return "\n".join(lines)

    # --- rendering in the room's language (the config default) -----------------------

    def room_renderer(self, room_id: str) -> Renderer:
        return Renderer(
            self._catalog,
            self._config.language,
            self._config.zone,
            lambda user: self._messenger.display_name(room_id, user),
        )

    def renderer_for(self, user_id: str, room_id: str) -> Renderer:
        return Renderer(
            self._catalog,
            self._config.language_for(user_id),
            self._config.timezone_for(user_id),
            lambda user: self._messenger.display_name(room_id, user),
        )

    # --- finding ---------------------------------------------------------------------

    async def get(self, room_id: str, number: int) -> Task:
        task = await self.store.get_task_by_number(room_id, number)
        if task is None:
            raise CommandError("task.error.not_found", number=number)
        return task

    async def _is_lead(self, actor: Actor) -> bool:
        return await self._role_check(actor.user_id, actor.room_id, Role.LEAD)

    async def _require_involved(self, actor: Actor, task: Task) -> None:
        """The creator, an assignee or a lead may change a task."""
        if actor.user_id == task.creator or actor.user_id in task.assignees:
            return
        if not await self._is_lead(actor):
            raise CommandError("task.error.not_yours", number=task.number)

    async def _require_lead_unless_own(self, actor: Actor, task: Task, action: str) -> None:
        own = actor.user_id == task.creator and set(task.assignees) <= {actor.user_id}
        if not own and not await self._is_lead(actor):
            raise CommandError(
                "task.error.lead_only",
                action=self._catalog.t(
                    self._config.language_for(actor.user_id), f"task.action.{action}"
                ),
            )

    def _check_members(self, room_id: str, users: Sequence[str]) -> None:
        for user in users:
            if not self._messenger.is_member(room_id, user):
                raise CommandError("task.error.not_member", user=user)

    # --- commands --------------------------------------------------------------------

    async def add(
        self,
        actor: Actor,
        title: str,
        assignees: Sequence[str],
        due: datetime | None,
        priority: Priority,
        tags: Sequence[str],
        now: datetime,
    ) -> Task:
        people = list(assignees) or [actor.user_id]
        if set(people) != {actor.user_id} and not await self._is_lead(actor):
            raise CommandError("task.error.assign_others")
        self._check_members(actor.room_id, people)
        task = await self.store.create_task(
            actor.room_id,
            title,
            actor.user_id,
            people,
            due.astimezone(UTC) if due else None,
            priority,
            tags,
            now,
        )
        await self._post_task(task, now)
        return task

    async def add_from_system(
        self,
        room_id: str,
        system_user: str,
        title: str,
        assignees: Sequence[str],
        due: datetime | None,
        priority: Priority,
        now: datetime,
        also: Callable[[Transaction], Awaitable[object]] | None = None,
    ) -> Task:
        """A task from an internal system (a signed webhook that IT configured): no role is
        needed, but the assignees must be members of the room."""
        self._check_members(room_id, assignees)
        task = await self.store.create_task(
            room_id,
            title,
            system_user,
            assignees,
            due.astimezone(UTC) if due else None,
            priority,
            (),
            now,
            also,
        )
        await self._post_task(task, now)
        return task

    async def _post_task(self, task: Task, now: datetime) -> None:
        event_id = await self._messenger.send(
            task.room_id,
            self.room_renderer(task.room_id).task_message(task, now),
            f"task-message:{task.id}",
        )
        if event_id is not None:
            await self.store.set_event_id(task.id, event_id)
        await self.refresh_board(task.room_id, now)

    async def complete(self, actor: Actor, task: Task, now: datetime) -> Task:
        if not task.is_open:
            raise CommandError("task.error.not_open", number=task.number)
        await self._require_involved(actor, task)
        task = await self.store.set_status(task, Status.DONE, actor.user_id, now)
        await self._after_change(task, now)
        return task

    async def reopen(self, actor: Actor, task: Task, now: datetime) -> Task:
        if task.status is not Status.DONE:
            raise CommandError("task.error.not_done", number=task.number)
        await self._require_involved(actor, task)
        task = await self.store.set_status(task, Status.OPEN, actor.user_id, now)
        await self._after_change(task, now)
        return task

    async def delete(self, actor: Actor, task: Task, now: datetime) -> Task:
        await self._require_lead_unless_own(actor, task, "delete")
        task = await self.store.set_status(task, Status.DELETED, actor.user_id, now)
        await self._after_change(task, now)
        return task

    async def set_due(self, actor: Actor, task: Task, due: datetime | None, now: datetime) -> Task:
        await self._require_lead_unless_own(actor, task, "due")
        task = await self.store.set_due(
            task, due.astimezone(UTC) if due else None, actor.user_id, now
        )
        await self._after_change(task, now)
        return task

    async def rename(self, actor: Actor, task: Task, title: str, now: datetime) -> Task:
        await self._require_involved(actor, task)
        task = await self.store.rename(task, title, actor.user_id, now)
        await self._after_change(task, now)
        return task

    async def assign(
        self, actor: Actor, task: Task, add: Sequence[str], remove: Sequence[str], now: datetime
    ) -> Task:
        if not add and not remove:
            raise CommandError("task.error.no_assignees")
        changes_others = any(u != actor.user_id for u in [*add, *remove])
        if changes_others and not await self._is_lead(actor):
            raise CommandError("task.error.assign_others")
        if not changes_others and remove:
            await self._require_involved(actor, task)
        self._check_members(task.room_id, add)
        task = await self.store.set_assignees(task, add, remove, actor.user_id, now)
        await self._after_change(task, now)
        return task

    async def comment(
        self, actor: Actor, task: Task, text: str, now: datetime, event_id: str | None
    ) -> bool:
        if not text.strip():
            raise CommandError("task.error.text_missing")
        return await self.store.add_comment(task, actor.user_id, text.strip(), now, event_id)

    async def _after_change(self, task: Task, now: datetime) -> None:
        """Keep the task's message and the board current (edits in place)."""
        if task.event_id:
            content = self.room_renderer(task.room_id).task_message(task, now)
            await self._messenger.edit(
                task.room_id, task.event_id, content, _edit_key(task, content)
            )
        await self.refresh_board(task.room_id, now)

    # --- reactions and thread replies ------------------------------------------------

    async def on_reaction(
        self, room_id: str, sender: str, target: str, key: str, now: datetime
    ) -> Task | None:
        """✅ on a task's message completes it (by the same rules as !task done)."""
        if key not in DONE_REACTIONS:
            return None
        task = await self.store.get_task_by_event(target)
        if task is None or task.room_id != room_id or not task.is_open:
            return None
        try:
            return await self.complete(Actor(sender, room_id), task, now)
        except CommandError:
            log.info("%s may not complete task %s by reaction", sender, task.id)
            return None

    async def on_thread_reply(
        self, room_id: str, sender: str, root: str, text: str, event_id: str, now: datetime
    ) -> bool:
        task = await self.store.get_task_by_event(root)
        if task is None or task.room_id != room_id or not text.strip():
            return False
        return await self.comment(Actor(sender, room_id), task, text, now, event_id)

    # --- board -----------------------------------------------------------------------

    async def post_board(self, room_id: str, now: datetime) -> tuple[str | None, bool]:
        """Post (or refresh) the room's board and pin it; (event id, pinned)."""
        existing = await self.store.get_board(room_id)
        if existing is not None:
            await self.refresh_board(room_id, now)
            return existing[0], await self._messenger.pin(room_id, existing[0])
        tasks, total = await self.store.find_tasks(TaskFilter(room_id=room_id, limit=BOARD_SIZE))
        content = self.room_renderer(room_id).board(tasks, total, now)
        event_id = await self._messenger.send(room_id, content, f"task-board:{room_id}")
        if event_id is None:
            return None, False
        await self.store.save_board(room_id, event_id)
        return event_id, await self._messenger.pin(room_id, event_id)

    async def refresh_board(self, room_id: str, now: datetime) -> None:
        board = await self.store.get_board(room_id)
        if board is None:
            return
        event_id, _ = board
        version = await self.store.next_board_version(room_id)
        tasks, total = await self.store.find_tasks(TaskFilter(room_id=room_id, limit=BOARD_SIZE))
        content = self.room_renderer(room_id).board(tasks, total, now)
        await self._messenger.edit(
            room_id, event_id, content, f"task-board-edit:{event_id}:{version}"
        )

    # --- what is due -----------------------------------------------------------------

    async def run_due(self, now: datetime) -> int:
        """Send every reminder and digest due at `now` that was not sent; returns how many.

        Called by the scheduler; the store decides, so a restart neither doubles nor loses
        one, and what fell due while yakuba was down goes out late, marked late.
        """
        await self._link_queued_messages(now)
        sent = 0
        for reminder in await self.store.get_due_reminders(now):
            await self._send_reminder(reminder, now)
            await self.store.mark_reminder_sent(reminder.task.id, reminder.kind, now)
            sent += 1
        sent += await self._send_digests(now)
        return sent

    async def _link_queued_messages(self, now: datetime) -> None:
        """A task message that was queued (homeserver away) gets its event id once it is
        accepted: asking the ledger again with the same key sends nothing twice."""
        for task in await self.store.get_open_tasks_without_message():
            content = self.room_renderer(task.room_id).task_message(task, now)
            event_id = await self._messenger.send(task.room_id, content, f"task-message:{task.id}")
            if event_id is not None:
                await self.store.set_event_id(task.id, event_id)

    async def _send_reminder(self, reminder: DueReminder, now: datetime) -> None:
        task = reminder.task
        r = self.room_renderer(task.room_id)
        due = r.when(task.due) if task.due else ""
        names = r.names(task.assignees)
        mention: list[str] = list(task.assignees)
        if reminder.kind == "due":
            text = r.t("task.reminder.due", number=task.number, title=task.title, due=due)
        elif reminder.kind == "overdue":
            text = r.t(
                "task.reminder.overdue", number=task.number, title=task.title, due=due, names=names
            )
            mention = await self._escalation_targets(task)
        else:
            left = (task.due - reminder.due_at) if task.due else timedelta(0)
            text = r.t(
                "task.reminder.before",
                number=task.number,
                title=task.title,
                due=due,
                left=r.left(left),
            )
        if now - reminder.due_at > LATE_AFTER:
            text += "\n" + r.t("task.reminder.late", at=r.when(reminder.due_at))
        await self._messenger.send(
            task.room_id,
            mc.message(text, msgtype="m.text", mention_users=mention, reply_to=task.event_id),
            f"task-reminder:{task.id}:{reminder.kind}:{to_ms(reminder.due_at)}"
            f":{to_ms(reminder.planned_at)}",
        )

    async def _escalation_targets(self, task: Task) -> list[str]:
        """The person who assigned it; if they assigned it to themselves, the room's leads."""
        if set(task.assignees) - {task.creator}:
            return [task.creator]
        leads = [
            lead
            for d in self._config.departments
            for lead in d.leads
            if lead != task.creator and self._messenger.is_member(task.room_id, lead)
        ]
        return leads or [task.creator]

    def digest_due(self, now: datetime) -> str | None:
        """Today's date (in the city's time zone) if its digest time has come, else None."""
        if self._digest is None:
            return None
        tz: ZoneInfo = self._config.zone
        local = now.astimezone(tz)
        today = local.date()
        if not self._calendar.is_working_day(today):
            return None
        start = datetime(today.year, today.month, today.day, tzinfo=tz)
        fire = self._digest.get_next_fire_time(None, start)
        if fire is None or fire.date() != today or fire > local:
            return None
        return today.isoformat()

    async def _send_digests(self, now: datetime) -> int:
        day = self.digest_due(now)
        if day is None:
            return 0
        sent = 0
        for room_id in await self.store.rooms_with_open_tasks():
            if await self.store.digest_sent(room_id, day):
                continue
            await self._messenger.send(
                room_id, await self._digest_content(room_id, now), f"task-digest:{room_id}:{day}"
            )
            await self.store.mark_digest_sent(room_id, day, now)
            sent += 1
        return sent

    async def _digest_content(self, room_id: str, now: datetime) -> dict[str, object]:
        r = self.room_renderer(room_id)
        tz = self._config.zone
        local = now.astimezone(tz)
        start = datetime(local.year, local.month, local.day, tzinfo=tz)
        end = start + timedelta(days=1)
        overdue, n_overdue = await self.store.find_tasks(
            TaskFilter(room_id=room_id, due_before=now, limit=20)
        )
        today, n_today = await self.store.find_tasks(
            TaskFilter(room_id=room_id, due_from=now, due_before=end, limit=20)
        )
        _, n_open = await self.store.find_tasks(TaskFilter(room_id=room_id, limit=1))
        date = f"{local.month}/{local.day}"
        lines = [r.t("task.digest.title", date=date), r.t("task.digest.open", count=n_open)]
        if n_overdue:
            lines.append(r.t("task.digest.overdue", count=n_overdue))
            lines += [f"• {r.line(t, now)}" for t in overdue]
        if n_today:
            lines.append(r.t("task.digest.today", count=n_today))
            lines += [f"• {r.line(t, now)}" for t in today]
        people = sorted({u for t in [*overdue, *today] for u in t.assignees})
        return mc.message("\n".join(lines), msgtype="m.text", mention_users=people)


def _edit_key(task: Task, content: dict[str, object]) -> str:
    """One edit per distinct content of a task's message at a given change."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return f"task-edit:{task.id}:{to_ms(task.updated_at)}:{digest}"
