"""Due dates typed in chat: "金曜まで", "明日17時", "12/3 9:00", "令和8年12月3日", "tomorrow 5pm".

`parse_when` reads one date and/or time phrase and never guesses: a phrase it cannot
read, a date that does not exist, a phrase with two readings and (unless allowed) a moment
already gone are all a `DateParseError` whose `reason` says which.

The text is NFKC-normalised (full-width digits, "／", "：" and spaces) and casefolded
first. It is then read as a whole (a day, a time, or a moment such as "2時間後"), and
split at every position into a day part and a time part in either order ("明日17時",
"5pm tomorrow"). Every reading that works is kept; different results are "ambiguous".

This module holds the public API, the normalising, the time-of-day rules, the moments and
the combining of day and time; the day phrases themselves are read by
`bots.tasks.dayrules`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import partial
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from bots.tasks.dayrules import (
    COUNT,
    MAX_OFFSET_MONTHS,
    MAX_YEAR,
    MIN_YEAR,
    Reason,
    Reject,
    count,
    number,
    read_day,
    within_offset_limit,
)

__all__ = [
    "MAX_OFFSET_MONTHS",
    "MAX_YEAR",
    "MIN_YEAR",
    "DateParseError",
    "Reason",
    "parse_when",
    "split_due_suffix",
]

_MAX_LENGTH: Final = 100  # after normalising; longer text is no date phrase
_MAX_DUE_TOKENS: Final = 6  # split_due_suffix looks at most this many words back

_T = TypeVar("_T")


class DateParseError(ValueError):
    """Unreadable or invalid date.

    `reason` is "unreadable", "past", "invalid" (2月30日, 25時, year 1999) or "ambiguous"
    (1/2/3, 12/3(金) when 12/3 is a Thursday, 午後12時). `text` is the input as given.
    """

    def __init__(self, reason: Reason, text: str) -> None:
        super().__init__(f"{reason} date: {text!r}")
        self.reason: Reason = reason
        self.text = text


@dataclass(frozen=True)
class _Context:
    now: datetime  # aware, in tz
    tz: tzinfo
    default_time: time

    @property
    def today(self) -> date:
        return self.now.date()


# ---------------------------------------------------------------- times

_NAMED_TIMES: Final = {
    "正午": time(12),
    "noon": time(12),
    "昼": time(12),
    "午前中": time(12),
    "朝": time(9),
    "夕方": time(17),
    "夜": time(20),
}


def _clock(hour: int, minute: int, second: int = 0, meridiem: str | None = None) -> time:
    if meridiem in ("午前", "午後"):
        if hour == 12:
            raise Reject("ambiguous")  # 午後12時: noon or midnight?
        if hour > 12:
            raise Reject("invalid")
        hour += 12 if meridiem == "午後" else 0
    elif meridiem in ("am", "pm"):
        if not 1 <= hour <= 12:
            raise Reject("invalid")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
        raise Reject("invalid")
    return time(hour, minute, second)


_JA_CLOCK = re.compile(r"(?:(午前|午後) ?)?([0-9]+) ?時(?: ?([0-9]+) ?分|(半))?")
_COLON_CLOCK = re.compile(r"(?:(午前|午後) ?)?([0-9]+):([0-9]{2})(?::([0-9]{2}))?(?: ?(am|pm))?")
_EN_CLOCK = re.compile(r"([0-9]+) ?(am|pm)")
_TIME_CONNECTOR = re.compile(r"(?:の|at|@|,) ?")


def _time(text: str) -> time | None:
    """Read a time of day, or None when `text` is no time phrase."""
    m = _TIME_CONNECTOR.match(text)
    text = text[m.end() :] if m is not None else text  # 明日の17時, tomorrow at 5pm
    if text in _NAMED_TIMES:
        return _NAMED_TIMES[text]
    if (m := _JA_CLOCK.fullmatch(text)) is not None:
        minute = 30 if m[4] else number(m[3] or "0")
        return _clock(number(m[2]), minute, meridiem=m[1])
    if (m := _COLON_CLOCK.fullmatch(text)) is not None:
        if m[1] and m[5]:
            return None  # 午後3:00pm
        return _clock(number(m[2]), int(m[3]), int(m[4] or "0"), m[1] or m[5])
    if (m := _EN_CLOCK.fullmatch(text)) is not None:
        return _clock(number(m[1]), 0, meridiem=m[2])
    return None


# ---------------------------------------------------------------- moments ("2時間後")

_JA_HOURS_LATER = re.compile(r"([0-9]+) ?時間(?: ?([0-9]+) ?分|(半))? ?後")
_JA_MINUTES_LATER = re.compile(r"([0-9]+) ?分 ?後")
_EN_LATER = re.compile(rf"in {COUNT} (hours?|hrs?|minutes?|mins?)")
_MAX_HOURS: Final = 24 * 366 * 10


def _moment(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    minutes: int
    if (m := _JA_HOURS_LATER.fullmatch(text)) is not None:
        extra = 30 if m[3] else count(m[2] or "0", 59)
        minutes = 60 * count(m[1], _MAX_HOURS) + extra
    elif (m := _JA_MINUTES_LATER.fullmatch(text)) is not None:
        minutes = count(m[1], 60 * _MAX_HOURS)
    elif (m := _EN_LATER.fullmatch(text)) is not None:
        per_unit = 60 if m[2].startswith("h") else 1
        minutes = per_unit * count(m[1], 60 * _MAX_HOURS // per_unit)
    else:
        return None
    moment = (now.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(tz)
    within_offset_limit(now.date(), moment.date())
    return moment


# ---------------------------------------------------------------- putting it together


def _attempt(read: Callable[[], _T | None]) -> _T | Reject | None:
    try:
        return read()
    except Reject as reject:
        return reject


def _at(day: date, at: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)


def _reading(ctx: _Context, day_text: str, time_text: str) -> datetime | None:
    """One reading of the text: a day part and/or a time part (either may be "")."""
    day = _attempt(lambda: read_day(day_text, ctx.today)) if day_text else None
    at = _attempt(lambda: _time(time_text)) if time_text else None
    if (day_text and day is None) or (time_text and at is None) or (day is None and at is None):
        return None
    if isinstance(day, Reject):
        raise day
    if isinstance(at, Reject):
        raise at
    if day is None:  # a time alone: today, or tomorrow once it has passed
        assert at is not None
        result = _at(ctx.today, at, ctx.tz)
        return result if result >= ctx.now else _at(ctx.today + timedelta(1), at, ctx.tz)
    result = _at(day.date, at or ctx.default_time, ctx.tz)
    if day.next_week_if_past and result < ctx.now:
        result = _at(day.date + timedelta(weeks=1), at or ctx.default_time, ctx.tz)
    return result


_ISO_T = re.compile(r"([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})t(?=[0-9])")
_AFFIX = re.compile(r"(?:by |on |due )?(.*?) ?(?:までに|まで|迄に|迄|に)?")


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split())


def _parse(text: str, ctx: _Context) -> datetime:
    s = _normalise(text)
    if not s or len(s) > _MAX_LENGTH:
        raise Reject("unreadable")
    s = _ISO_T.sub(r"\1 ", s)
    affixed = _AFFIX.fullmatch(s)
    assert affixed is not None  # the pattern matches any text
    s = affixed[1].strip()

    # (day part, time part): the whole text as either, then every split in either order
    parts: dict[tuple[str, str], None] = {(s, ""): None, ("", s): None}
    for i in range(1, len(s)):
        head, tail = s[:i].strip(), s[i:].strip()
        if head and tail:
            parts.update({(head, tail): None, (tail, head): None})
    outcomes = [_attempt(partial(_moment, s, ctx.now, ctx.tz))]
    outcomes += [_attempt(partial(_reading, ctx, day, at)) for day, at in parts]
    found = [outcome for outcome in outcomes if isinstance(outcome, datetime)]
    reasons = {outcome.reason for outcome in outcomes if isinstance(outcome, Reject)}

    if len(set(found)) > 1:
        raise Reject("ambiguous")
    if found:
        return found[0]
    for reason in ("ambiguous", "invalid"):
        if reason in reasons:
            raise Reject(reason)
    raise Reject("unreadable")


def parse_when(
    text: str,
    now: datetime,
    tz: ZoneInfo,
    *,
    default_time: time = time(17, 0),
    allow_past: bool = False,
) -> datetime:
    """Return an aware datetime in `tz` for a due-date phrase.

    `now` is aware (any zone; it is converted to `tz` first). A day without a time gets
    `default_time`. Raises DateParseError, and nothing else, for any text.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    ctx = _Context(now.astimezone(tz), tz, default_time)
    try:
        result = _parse(text, ctx)
    except Reject as reject:
        raise DateParseError(reject.reason, text) from None
    except (OverflowError, ValueError):  # a date beyond what datetime holds
        raise DateParseError("invalid", text) from None
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise DateParseError("invalid", text)
    if result < now and not allow_past:
        raise DateParseError("past", text)
    return result


# ---------------------------------------------------------------- titles ending in まで

_DUE_SUFFIX = re.compile(r"(?:までに|まで|迄に|迄)\s*$")
_WORD = re.compile(r"\S+")
_REFERENCE = _Context(datetime(2026, 1, 1, tzinfo=UTC), UTC, time(17, 0))


def _is_date_phrase(text: str) -> bool:
    """True when `text` reads as a date phrase, even an invalid or ambiguous one."""
    try:
        _parse(text, _REFERENCE)
    except Reject as reject:
        return reject.reason != "unreadable"
    except (OverflowError, ValueError):
        return True
    return True


def split_due_suffix(text: str) -> tuple[str, str | None]:
    """Split a title ending in "<date>まで" or "<date>までに" into (title, date phrase).

    '報告書を提出 金曜まで' -> ('報告書を提出', '金曜'). The date phrase must follow
    whitespace and read as a date; the longest such run of trailing words is taken
    ('報告 明日 17時まで' -> ('報告', '明日 17時')). Otherwise returns (text, None).
    The date phrase is returned as typed, for parse_when; it may still be invalid.
    """
    suffix = _DUE_SUFFIX.search(text)
    if suffix is None:
        return text, None
    body = text[: suffix.start()].rstrip()
    starts = [word.start() for word in _WORD.finditer(body)][1:]  # keep a word of title
    best: int | None = None
    for start in reversed(starts[-_MAX_DUE_TOKENS:]):
        if _is_date_phrase(body[start:]):
            best = start
    if best is None:
        return text, None
    return body[:best].rstrip(), body[best:]
