"""Tasks as files: CSV for approval files (稟議・決裁) and iCalendar VTODOs for calendars.

Both functions are pure: tasks in, bytes out. Reading the store and sending the file to
the room are the caller's business.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from types import MappingProxyType
from zoneinfo import ZoneInfo

from icalendar import Calendar, Todo

from bots.spreadsheet import csv_bytes, guard
from bots.tasks.model import Priority, Status, Task

#: catalog keys of the CSV columns, in order (the texts are in bots/locales)
CSV_COLUMNS = (
    "number",
    "title",
    "status",
    "priority",
    "assignees",
    "due",
    "tags",
    "creator",
    "created_at",
    "done_at",
    "done_by",
)

LIST_SEPARATOR = "; "
TIME_FORMAT = "%Y-%m-%d %H:%M"

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
# The full-width forms are included because Japanese Excel normalises them on input.

_ICS_STATUS: Mapping[Status, str] = MappingProxyType(
    {Status.OPEN: "NEEDS-ACTION", Status.DONE: "COMPLETED", Status.DELETED: "CANCELLED"}
)
_ICS_PRIORITY: Mapping[Priority, int] = MappingProxyType(
    {Priority.HIGH: 1, Priority.NORMAL: 5, Priority.LOW: 9}
)
# icalendar 6.1+ generates VTIMEZONE components from the zoneinfo database; with an older
# version DUE is written in UTC instead, which every client understands.
_CAN_GENERATE_VTIMEZONE = hasattr(Calendar, "add_missing_timezones")
# The default range of a generated VTIMEZONE; widened to cover every due date.
_VTIMEZONE_FIRST = date(1970, 1, 1)
_VTIMEZONE_LAST = date(2038, 1, 1)


# --- CSV -------------------------------------------------------------------------------


def tasks_to_csv(
    tasks: Sequence[Task],
    tz: ZoneInfo,
    t: Callable[[str], str],
    names: Mapping[str, str] | None = None,
) -> bytes:
    """A CSV of `tasks` for Excel: UTF-8 with BOM, CRLF, headers and values translated by
    `t` (a catalog lookup in the reader's language).

    Times are `YYYY-MM-DD HH:MM` in `tz`. People are shown as `name (@user:server)`, the
    name from `names` (user ID -> display name) or, failing that, the ID's localpart.
    Free text (titles, tags, names) that a spreadsheet would run as a formula is prefixed
    with an apostrophe; the user IDs are never altered.
    """
    names = names or {}
    rows = [
        (
            str(task.number),
            guard(task.title),
            t(f"task.status.{task.status.value}"),
            t(f"task.priority.{task.priority.value}"),
            LIST_SEPARATOR.join(_person(user, names) for user in task.assignees),
            _local_time(task.due, tz),
            LIST_SEPARATOR.join(guard(tag) for tag in task.tags),
            _person(task.creator, names),
            _local_time(task.created_at, tz),
            _local_time(task.done_at, tz),
            _person(task.done_by, names) if task.done_by else "",
        )
        for task in tasks
    ]
    return csv_bytes([t(f"task.csv.{column}") for column in CSV_COLUMNS], rows)


def _person(user_id: str, names: Mapping[str, str]) -> str:
    name = names.get(user_id) or _localpart(user_id)
    return f"{guard(name)} ({user_id})"


def _localpart(user_id: str) -> str:
    return user_id.removeprefix("@").partition(":")[0] or user_id


def _local_time(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return ""
    return _aware(moment).astimezone(tz).strftime(TIME_FORMAT)


def _aware(moment: datetime) -> datetime:
    # The store keeps aware UTC times; a naive one can only be UTC too.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- iCalendar -------------------------------------------------------------------------


def tasks_to_ics(
    tasks: Sequence[Task],
    tz: ZoneInfo,
    prodid: str = "-//yakuba//tasks//JA",
    calendar_name: str | None = None,
) -> bytes:
    """An iCalendar (RFC 5545) VCALENDAR with one VTODO per task.

    DUE is in `tz` with a VTIMEZONE when the icalendar package can generate one (and in
    UTC otherwise); DTSTAMP, CREATED and COMPLETED are UTC as RFC 5545 requires. UIDs are
    stable, so re-importing an export updates the to-dos instead of duplicating them.
    """
    if _CAN_GENERATE_VTIMEZONE:
        cal = _calendar(tasks, tz, prodid, calendar_name)
        dues = [_aware(t.due).astimezone(tz).date() for t in tasks if t.due is not None]
        cal.add_missing_timezones(
            first_date=min([_VTIMEZONE_FIRST, *(d - timedelta(days=1) for d in dues)]),
            last_date=max([_VTIMEZONE_LAST, *(d + timedelta(days=366) for d in dues)]),
        )
        if not cal.get_missing_tzids():
            return bytes(cal.to_ical())
    # No VTIMEZONE could be made for tz (old icalendar, or a zone without a key): UTC.
    return bytes(_calendar(tasks, UTC, prodid, calendar_name).to_ical())


def task_uid(task: Task) -> str:
    """The task's iCalendar UID: the same in every export, unique across rooms and servers."""
    room = hashlib.sha256(task.room_id.encode("utf-8")).hexdigest()[:16]
    return f"yakuba-task-{task.id}-{room}@yakuba"


def _calendar(
    tasks: Sequence[Task], due_zone: tzinfo, prodid: str, calendar_name: str | None
) -> Calendar:
    cal = Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if calendar_name:
        cal.add("x-wr-calname", calendar_name)
    for task in tasks:
        cal.add_component(_todo(task, due_zone))
    return cal


def _todo(task: Task, due_zone: tzinfo) -> Todo:
    todo = Todo()
    todo.add("uid", task_uid(task))
    todo.add("dtstamp", _utc(task.updated_at))
    todo.add("created", _utc(task.created_at))
    todo.add("last-modified", _utc(task.updated_at))
    todo.add("summary", task.title)
    todo.add("status", _ICS_STATUS[task.status])
    todo.add("priority", _ICS_PRIORITY[task.priority])
    if task.due is not None:
        todo.add("due", _aware(task.due).astimezone(due_zone))
    if task.status is Status.DONE and task.done_at is not None:
        todo.add("completed", _utc(task.done_at))
    if task.tags:
        todo.add("categories", list(task.tags))
    return todo


def _utc(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC)
