"""What tasks look like in a room: plain and HTML bodies from the catalog (pure)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bots.i18n import Catalog, format_datetime
from bots.matrix import content as mc
from bots.tasks.model import Task

NameOf = Callable[[str], str]


@dataclass(frozen=True)
class Renderer:
    catalog: Catalog
    lang: str
    tz: ZoneInfo
    name_of: NameOf

    def t(self, key: str, /, **params: Any) -> str:
        return self.catalog.t(self.lang, key, **params)

    def when(self, value: datetime) -> str:
        return format_datetime(value, self.lang, self.tz)

    def names(self, users: Sequence[str]) -> str:
        if not users:
            return self.t("task.unassigned")
        return (
            "、".join(self.name_of(u) for u in users)
            if self.lang == "ja"
            else ", ".join(self.name_of(u) for u in users)
        )

    def fields(self, task: Task, now: datetime) -> list[str]:
        parts = [self.t("task.field.assignees", names=self.names(task.assignees))]
        if task.due is not None:
            due = self.when(task.due)
            if task.is_open and task.due < now:
                due += f" ⚠️{self.t('task.overdue_mark')}"
            parts.append(self.t("task.field.due", due=due))
        if task.priority.value != "normal":
            parts.append(
                self.t("task.field.priority", priority=self.t(f"task.priority.{task.priority}"))
            )
        if task.tags:
            parts.append(self.t("task.field.tags", tags=" ".join(f"#{t}" for t in task.tags)))
        return parts

    def line(self, task: Task, now: datetime) -> str:
        head = self.t("task.line", number=task.number, title=task.title)
        return f"{head} — {' / '.join(self.fields(task, now))}"

    def task_message(self, task: Task, now: datetime) -> dict[str, Any]:
        """The task's own message; mentions its assignees so that it reaches them."""
        title = self.t("task.line", number=task.number, title=task.title)
        fields = " / ".join(self.fields(task, now))
        if task.is_open:
            footer = self.t("task.message.hint")
            head_html = f"<b>📋 {html.escape(title)}</b>"
        else:
            at = self.when(task.done_at) if task.done_at else ""
            footer = self.t("task.message.done", name=self.name_of(task.done_by or ""), at=at)
            head_html = f"<del>📋 {html.escape(title)}</del>"
        body = f"📋 {title}\n{fields}\n{footer}"
        html_body = f"{head_html}<br>{html.escape(fields)}<br><i>{html.escape(footer)}</i>"
        return mc.message(body, html_body=html_body, msgtype="m.text", mention_users=task.assignees)

    def board(self, tasks: Sequence[Task], total: int, now: datetime) -> dict[str, Any]:
        title = self.t("task.board.title")
        lines = [self.line(t, now) for t in tasks]
        count = self.t("task.board.count", count=total)
        updated = self.t("task.board.updated", at=self.when(now))
        if not lines:
            lines_text, lines_html = self.t("task.board.empty"), ""
        else:
            lines_text = "\n".join(f"• {line}" for line in lines)
            lines_html = "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"
        if total > len(tasks):
            more = self.t("task.list.more", more=total - len(tasks))
            lines_text += f"\n{more}"
            lines_html += f"<p>{html.escape(more)}</p>"
        body = f"{title}({count})\n{lines_text}\n{updated}"
        html_body = (
            f"<h4>{html.escape(title)}({html.escape(count)})</h4>{lines_html or ''}"
            f"{'' if lines else html.escape(lines_text)}<p><i>{html.escape(updated)}</i></p>"
        )
        return mc.message(body, html_body=html_body, msgtype="m.notice")

    def listing(self, scope: str, tasks: Sequence[Task], total: int, now: datetime) -> str:
        if not tasks:
            return self.t("task.list.empty", scope=scope)
        lines = [self.t("task.list.header", scope=scope, total=total)]
        lines += [f"• {self.line(t, now)}" for t in tasks]
        if total > len(tasks):
            lines.append(self.t("task.list.more", more=total - len(tasks)))
        return "\n".join(lines)

    def left(self, delta: timedelta) -> str:
        minutes = max(1, round(delta.total_seconds() / 60))
        if minutes >= 24 * 60 and minutes % (24 * 60) == 0:
            return self.t("task.left.days", n=minutes // (24 * 60))
        if minutes >= 60 and minutes % 60 == 0:
            return self.t("task.left.hours", n=minutes // 60)
        return self.t("task.left.minutes", n=minutes)
