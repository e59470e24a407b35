"""Reading what people type after `!task add` and friends (pure, no I/O).

    !task add 予算資料の作成 @tanaka:city.example.jp 期限:明日17時 優先:高 #予算
    !task add Write the report @smith:city.example.jp due: tomorrow 5pm priority: high #budget
    !タスク 追加 報告書を提出 金曜まで

Mentions become assignees, `#words` tags, `期限:`/`due:` the due time (it may span several
words, up to the next keyword), `優先:`/`priority:` the priority; the rest is the title.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bots.commands.errors import CommandError
from bots.ids import is_user_id
from bots.tasks.dates import DateParseError, parse_when, split_due_suffix
from bots.tasks.model import Priority

_DUE_KEYS = ("期限", "締切", "〆切", "due", "by")
_PRIORITY_KEYS = ("優先", "優先度", "priority", "prio", "p")
_PRIORITIES = {
    "高": Priority.HIGH,
    "high": Priority.HIGH,
    "h": Priority.HIGH,
    "急": Priority.HIGH,
    "中": Priority.NORMAL,
    "普通": Priority.NORMAL,
    "normal": Priority.NORMAL,
    "n": Priority.NORMAL,
    "medium": Priority.NORMAL,
    "低": Priority.LOW,
    "low": Priority.LOW,
    "l": Priority.LOW,
}
_KEY = re.compile(r"^([^\s:]+)[:](.*)$")
_TAG = re.compile(r"^#([^\s#:]{1,50})$")
_NUMBER = re.compile(r"^[#\[]?(\d{1,9})\]?$")


@dataclass
class TaskSpec:
    title: str = ""
    assignees: list[str] = field(default_factory=list)
    due: datetime | None = None
    due_text: str | None = None
    priority: Priority = Priority.NORMAL
    tags: list[str] = field(default_factory=list)


def _key_of(word: str) -> tuple[str, str] | None:
    """('due', rest) for '期限:明日', ('priority', '高') for '優先:高', else None."""
    match = _KEY.match(unicodedata.normalize("NFKC", word))
    if not match:
        return None
    key = match.group(1).casefold()
    if key in _DUE_KEYS:
        return "due", match.group(2)
    if key in _PRIORITY_KEYS:
        return "priority", match.group(2)
    return None


def parse_task_spec(
    words: list[str], now: datetime, tz: ZoneInfo, *, max_title: int, need_title: bool = True
) -> TaskSpec:
    """Raise CommandError (a catalog key) for anything unreadable; never guess a date."""
    spec = TaskSpec()
    title: list[str] = []
    due_words: list[str] | None = None
    priority_text: str | None = None
    i = 0
    while i < len(words):
        word = words[i]
        keyed = _key_of(word)
        if keyed is not None:
            kind, rest = keyed
            values = [rest] if rest else []
            i += 1
            # a due time runs until the next keyword, mention or tag; a priority is one word
            while i < len(words) and not _is_marker(words[i]):
                if kind == "priority" and values:
                    break
                values.append(words[i])
                i += 1
            if kind == "due":
                due_words = values
            else:
                priority_text = " ".join(values)
            continue
        if word.startswith("@"):
            if not is_user_id(word):
                raise CommandError("task.error.bad_user", value=word)
            if word not in spec.assignees:
                spec.assignees.append(word)
        elif (tag := _TAG.match(unicodedata.normalize("NFKC", word))) is not None:
            if tag.group(1) not in spec.tags:
                spec.tags.append(tag.group(1))
        else:
            title.append(word)
        i += 1

    text = " ".join(title).strip()
    if due_words is None and text:
        text, suffix = split_due_suffix(text)
        if suffix is not None:
            due_words = [suffix]
    if due_words is not None:
        due_text = " ".join(due_words).strip()
        if not due_text:
            raise CommandError("task.error.date_missing")
        spec.due = parse_due(due_text, now, tz)
        spec.due_text = due_text
    if priority_text is not None:
        spec.priority = parse_priority(priority_text)
    if need_title and not text:
        raise CommandError("task.error.title_missing")
    if len(text) > max_title:
        raise CommandError("task.error.title_too_long", max=max_title, length=len(text))
    spec.title = text
    return spec


def _is_marker(word: str) -> bool:
    return (
        word.startswith("@")
        or _key_of(word) is not None
        or bool(_TAG.match(unicodedata.normalize("NFKC", word)))
    )


def parse_due(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    try:
        return parse_when(text, now, tz)
    except DateParseError as exc:
        if exc.reason == "past":
            raise CommandError("task.error.date_past", value=text) from None
        raise CommandError("task.error.date", value=text) from None


def parse_priority(text: str) -> Priority:
    value = _PRIORITIES.get(unicodedata.normalize("NFKC", text).strip().casefold())
    if value is None:
        raise CommandError("task.error.priority", value=text)
    return value


def parse_number(word: str) -> int:
    match = _NUMBER.match(unicodedata.normalize("NFKC", word.strip()))
    if not match:
        raise CommandError("task.error.bad_number", value=word)
    return int(match.group(1))
