"""What the roll call says: the question (a poll with a text fallback), the tally, the
note to leads, the answer's receipt, and the officers' CSV (pure)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bots.i18n import format_datetime
from bots.matrix import content as mc
from bots.rollcall.answers import KEYCAPS, OPTIONS
from bots.rollcall.model import Answer, Attendance, Kind, RollCall, Safety, State, Target
from bots.spreadsheet import csv_bytes, guard

T = Callable[..., str]
POLL_START = "org.matrix.msc3381.poll.start"
_KEYCAP = {number: emoji for emoji, number in KEYCAPS.items() if "\ufe0f" in emoji}


def mark(call: RollCall, t: T) -> str:
    return t("rollcall.mark.drill") if call.drill else ""


def heading(call: RollCall, t: T, level_name: str = "") -> str:
    key = "rollcall.heading.staffing" if call.kind is Kind.STAFFING else "rollcall.heading"
    return mark(call, t) + t(key, number=call.id, title=call.title, level=level_name)


def question(
    call: RollCall, user_id: str, round_: int, t: T, level_name: str = "", report_to: str = ""
) -> dict[str, Any]:
    """A poll (answered with one tap in Element) whose fallback text says how to answer
    by reply or reaction in any client."""
    options = OPTIONS[call.kind]
    intro_key = "rollcall.question.staffing" if call.kind is Kind.STAFFING else "rollcall.question"
    intro = t(intro_key, level=level_name, report_to=report_to)
    again = t("rollcall.question.again", round=round_ - 1) if round_ > 1 else ""
    title = heading(call, t, level_name)
    lines = [f"{_KEYCAP.get(o.id, o.id)} {o.id}. {t(o.label)}" for o in options]
    how = t(
        "rollcall.question.how.staffing" if call.kind is Kind.STAFFING else "rollcall.question.how"
    )
    body = "\n".join(x for x in (title, again, intro, *lines, how) if x)
    prompt = "\n".join(x for x in (title, again, intro) if x)
    answers = [{"id": o.id, "org.matrix.msc1767.text": t(o.label)} for o in options]
    return {
        POLL_START: {
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": 1,
            "question": {"org.matrix.msc1767.text": prompt, "body": prompt, "msgtype": "m.text"},
            "answers": answers,
        },
        "org.matrix.msc1767.text": body,
        "body": body,
        "m.mentions": {"user_ids": [user_id]},
    }


def answer_label(kind: Kind, answer: Answer | Target, t: T) -> str:
    parts: list[str] = []
    if answer.safety is not None:
        parts.append(t(f"rollcall.safety.{answer.safety.value}"))
    if answer.attendance is not None:
        key = "staffing" if kind is Kind.STAFFING else "attendance"
        parts.append(t(f"rollcall.{key}.{answer.attendance.value}"))
    return "・".join(parts) or t("rollcall.unanswered")


def receipt(call: RollCall, answer: Answer, t: T) -> str:
    text = t("rollcall.received", number=call.id, answer=answer_label(call.kind, answer, t))
    if call.kind is Kind.ANPI and answer.safety is None:
        text += "\n" + t("rollcall.received.ask_safety")
    elif call.kind is Kind.ANPI and answer.attendance is None:
        text += "\n" + t("rollcall.received.ask_attendance")
    return mark(call, t) + text


@dataclass(frozen=True)
class Tally:
    asked: int = 0
    answered: int = 0
    safe: int = 0
    minor: int = 0
    serious: int = 0
    coming: int = 0
    not_coming: int = 0

    @property
    def missing(self) -> int:
        return self.asked - self.answered


def tally(targets: Sequence[Target]) -> Tally:
    return Tally(
        asked=len(targets),
        answered=sum(1 for x in targets if x.answered),
        safe=sum(1 for x in targets if x.safety is Safety.SAFE),
        minor=sum(1 for x in targets if x.safety is Safety.MINOR),
        serious=sum(1 for x in targets if x.safety is Safety.SERIOUS),
        coming=sum(1 for x in targets if x.attendance is Attendance.YES),
        not_coming=sum(1 for x in targets if x.attendance is Attendance.NO),
    )


def _tally_text(kind: Kind, counts: Tally, t: T) -> str:
    key = "rollcall.tally.staffing" if kind is Kind.STAFFING else "rollcall.tally"
    return t(key, **vars(counts), missing=counts.missing)


def status(
    call: RollCall,
    targets: Sequence[Target],
    departments: Mapping[str, str],
    t: T,
    lang: str,
    tz: tzinfo,
    level_name: str = "",
    aftershocks: int = 0,
) -> dict[str, Any]:
    """The tally message: the whole, then each department (no names, no notes: who is
    injured is for the officers' CSV only)."""
    title = heading(call, t, level_name)
    state = t(f"rollcall.state.{call.state.value}")
    since = call.started_at or call.created_at
    meta = t("rollcall.status.meta", state=state, at=format_datetime(since, lang, tz))
    if call.state is State.HELD and call.hold_until is not None:
        meta += "\n" + t(
            "rollcall.status.held", at=format_datetime(call.hold_until, lang, tz), number=call.id
        )
    if aftershocks:
        meta += "\n" + t("rollcall.status.aftershocks", count=aftershocks)
    whole = _tally_text(call.kind, tally(targets), t)
    rows: list[tuple[str, str]] = []
    for department_id, name in departments.items():
        mine = [x for x in targets if x.department == department_id]
        if mine:
            rows.append((name, _tally_text(call.kind, tally(mine), t)))
    plain = "\n".join(
        [title, meta, t("rollcall.status.total", tally=whole), *(f"・{n}: {v}" for n, v in rows)]
    )
    html_rows = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(v)}</li>" for n, v in rows)
    rich = (
        f"<p><b>{html.escape(title)}</b><br>{mc.text_to_html(meta)}</p>"
        f"<p>{html.escape(t('rollcall.status.total', tally=whole))}</p><ul>{html_rows}</ul>"
    )
    return mc.message(plain, html_body=rich)


def missing_lines(
    targets: Sequence[Target], departments: Mapping[str, str], name: Callable[[str], str]
) -> list[str]:
    """Per department, who has not answered."""
    lines: list[str] = []
    for department_id, department in departments.items():
        people = [x for x in targets if x.department == department_id and not x.answered]
        if people:
            lines.append(f"{department}: " + "、".join(name(x.user_id) for x in people))
    return lines


def lead_notice(
    call: RollCall, department: str, people: Sequence[str], rounds: int, t: T
) -> dict[str, Any]:
    text = mark(call, t) + t(
        "rollcall.lead.missing",
        number=call.id,
        department=department,
        rounds=rounds,
        people="\n".join(f"・{p}" for p in people),
    )
    return mc.message(text)


CSV_COLUMNS = (
    "number",
    "department",
    "user",
    "name",
    "safety",
    "attendance",
    "note",
    "answered_at",
    "asked",
    "lead_told",
)


def to_csv(
    call: RollCall,
    targets: Sequence[Target],
    departments: Mapping[str, str],
    names: Mapping[str, str],
    t: T,
    tz: tzinfo,
) -> bytes:
    def when(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    staffing = call.kind is Kind.STAFFING
    rows = [
        (
            str(call.id),
            guard(departments.get(x.department, x.department)),
            x.user_id,
            guard(names.get(x.user_id, "")),
            t(f"rollcall.safety.{x.safety.value}") if x.safety else "",
            t(f"rollcall.{'staffing' if staffing else 'attendance'}.{x.attendance.value}")
            if x.attendance
            else "",
            guard(x.note or ""),
            when(x.answered_at),
            str(x.rounds),
            t("rollcall.csv.yes") if x.escalated else "",
        )
        for x in targets
    ]
    return csv_bytes([t(f"rollcall.csv.{c}") for c in CSV_COLUMNS], rows)
