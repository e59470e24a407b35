"""Personnel moves told to the leads: a person who moved (or left) has open tasks, and
both departments' leads get the list in a direct message from the tasks bot. Nothing is
reassigned: the leads decide.

`yakuba provision` records the notices (it cannot speak as the tasks bot, whose encrypted
device is in use); this runs with the tasks workflow's `run_due`. Each message is keyed
in the send ledger by notice and lead, so a lead is told once, also across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bots.config import Config
from bots.i18n import Catalog, format_datetime
from bots.matrix import content as mc
from bots.messenger import Messenger
from bots.provision.model import PersonnelNotice
from bots.provision.roster import StaffStore
from bots.tasks.model import Task
from bots.tasks.store import TaskFilter, TaskStore

log = logging.getLogger(__name__)

#: tasks listed in one notice at most (the rest counted)
LIST_LIMIT = 30


class MoveNotices:
    def __init__(
        self,
        staff: StaffStore,
        tasks: TaskStore,
        messenger: Messenger,
        catalog: Catalog,
        config: Config,
    ) -> None:
        self._staff = staff
        self._tasks = tasks
        self._messenger = messenger
        self._catalog = catalog
        self._config = config

    async def run_due(self, now: datetime) -> int:
        """Deliver the notices not yet delivered; how many were."""
        done = 0
        for notice in await self._staff.pending_notices():
            if await self._deliver(notice, now):
                await self._staff.notice_done(notice.id, now)
                done += 1
        return done

    async def leads(self, notice: PersonnelNotice) -> list[str]:
        """The leads of the old and the new department (config and roster), not the
        person themselves."""
        found: list[str] = []
        for department_id in (notice.from_department, notice.to_department):
            if department_id is None:
                continue
            department = self._config.department(department_id)
            if department is not None:
                found += department.leads
            found += await self._staff.leads_of(department_id)
        return [lead for lead in dict.fromkeys(found) if lead != notice.user_id]

    async def _deliver(self, notice: PersonnelNotice, now: datetime) -> bool:
        tasks, total = await self._tasks.find_tasks(
            TaskFilter(assignee=notice.user_id, limit=LIST_LIMIT)
        )
        if total == 0:
            return True  # nothing open: nothing to tell
        leads = await self.leads(notice)
        if not leads:
            log.warning("notice %d: no lead to tell of %s's open tasks", notice.id, notice.user_id)
            return True
        for lead in leads:
            room = await self._messenger.direct_room(lead)
            if room is None:
                return False  # not ready yet: next pass (those told are not told again)
            content = self._content(notice, tasks, total, lead)
            await self._messenger.send(room, content, f"personnel-notice:{notice.id}:{lead}")
        return True

    def _content(
        self, notice: PersonnelNotice, tasks: Sequence[Task], total: int, lead: str
    ) -> dict[str, Any]:
        lang = self._config.language_for(lead)
        zone = self._config.timezone_for(lead)

        def t(key: str, /, **params: Any) -> str:
            return self._catalog.t(lang, key, **params)

        def department(department_id: str | None) -> str:
            found = self._config.department(department_id or "")
            return found.name.get(lang) if found else department_id or ""

        who = f"{notice.name} ({notice.user_id})"
        if notice.to_department is None:
            header = t(
                "provision.notice.leave",
                who=who,
                source=department(notice.from_department),
                count=total,
            )
        else:
            header = t(
                "provision.notice.move",
                who=who,
                source=department(notice.from_department),
                target=department(notice.to_department),
                count=total,
            )
        lines = [
            t(
                "provision.notice.task",
                room=self._messenger.room_name(task.room_id),
                number=task.number,
                title=task.title,
                due=t("provision.notice.due", due=format_datetime(task.due, lang, zone))
                if task.due
                else "",
            )
            for task in tasks
        ]
        if total > len(tasks):
            lines.append(t("provision.notice.more", more=total - len(tasks)))
        hint = t("provision.notice.hint")
        body = "\n".join([header, *(f"• {line}" for line in lines), hint])
        return mc.message(body, html_body=mc.lines_to_html(header, lines, hint), msgtype="m.text")
