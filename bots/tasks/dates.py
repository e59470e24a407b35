"""Due dates typed in chat: "金曜まで", "明日17時", "12/3 9:00", "令和8年12月3日", "tomorrow 5pm".

`parse_when` reads one date and/or time phrase and never guesses: a phrase it cannot
read, a date that does not exist, a phrase with two readings and (unless allowed) a moment
already gone are all a `DateParseError` whose `reason` says which.

The text is NFKC-normalised (full-width digits, "／", "：" and spaces) and casefolded
first. It is then read as a whole (a day, a time, or a moment such as "2時間後"), and
split at every position into a day part and a time part in either order ("明日17時",
"5pm tomorrow"). Every reading that works is kept; different results are "ambiguous".
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import partial
from typing import Final, Literal, TypeVar
from zoneinfo import ZoneInfo

Reason = Literal["unreadable", "past", "invalid", "ambiguous"]

MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2100
MAX_OFFSET_MONTHS: Final = 120  # "3日後", "in 2 hours": at most 10 years ahead
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


class _Reject(Exception):
    """Raised inside the parser; parse_when turns it into a DateParseError."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


@dataclass(frozen=True)
class _Day:
    date: date
    next_week_if_past: bool = False  # a bare weekday: today's has gone, so next week's
    by_weekday: bool = False  # named by weekday or week: no "(木)" annotation check


@dataclass(frozen=True)
class _Context:
    now: datetime  # aware, in tz
    tz: tzinfo
    default_time: time

    @property
    def today(self) -> date:
        return self.now.date()


# ---------------------------------------------------------------- vocabulary

_JA_WEEKDAYS: Final = "月火水木金土日"
_EN_WEEKDAYS: Final = {
    **dict.fromkeys(("monday", "mon"), 0),
    **dict.fromkeys(("tuesday", "tues", "tue"), 1),
    **dict.fromkeys(("wednesday", "wed"), 2),
    **dict.fromkeys(("thursday", "thurs", "thur", "thu"), 3),
    **dict.fromkeys(("friday", "fri"), 4),
    **dict.fromkeys(("saturday", "sat"), 5),
    **dict.fromkeys(("sunday", "sun"), 6),
}
_EN_MONTHS: Final = {
    **dict.fromkeys(("january", "jan"), 1),
    **dict.fromkeys(("february", "feb"), 2),
    **dict.fromkeys(("march", "mar"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    "may": 5,
    **dict.fromkeys(("june", "jun"), 6),
    **dict.fromkeys(("july", "jul"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("september", "sept", "sep"), 9),
    **dict.fromkeys(("october", "oct"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("december", "dec"), 12),
}
_WEEKS: Final = {"今週": 0, "来週": 1, "再来週": 2, "next week": 1, "week after next": 2}
_ERAS: Final = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988}
_NAMED_TIMES: Final = {
    "正午": time(12),
    "noon": time(12),
    "昼": time(12),
    "午前中": time(12),
    "朝": time(9),
    "夕方": time(17),
    "夜": time(20),
}


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


_WD = rf"[{_JA_WEEKDAYS}]曜日?|\([{_JA_WEEKDAYS}](?:曜日?)?\)|(?:{_alternatives(_EN_WEEKDAYS)})"
_MONTH = _alternatives(_EN_MONTHS)
_ORD = r"(?:st|nd|rd|th)?"
_COUNT = r"([0-9]+|an?)"  # English counts: "in 3 days", "in a week", "in an hour"


def _weekday(token: str) -> int:
    token = token.strip("()")
    if token in _EN_WEEKDAYS:
        return _EN_WEEKDAYS[token]
    return _JA_WEEKDAYS.index(token[0])


def _count(digits: str, limit: int) -> int:
    if digits in ("a", "an"):
        return 1
    if len(digits) > 9 or int(digits) > limit:
        raise _Reject("invalid")
    return int(digits)


def _number(digits: str) -> int:
    if len(digits) > 9:
        raise _Reject("invalid")
    return int(digits)


# ---------------------------------------------------------------- calendar arithmetic


def _make_date(year: int, month: int, day: int) -> date:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _Reject("invalid")
    try:
        return date(year, month, day)
    except ValueError:
        raise _Reject("invalid") from None


def _shift_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (1/31 + 1 -> 2/28)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _add_months(start: date, months: int) -> date:
    shifted = _shift_months(start, months)
    if not MIN_YEAR <= shifted.year <= MAX_YEAR:
        raise _Reject("invalid")
    return shifted


def _month_end(start: date, months: int = 0) -> date:
    first = _add_months(start.replace(day=1), months)
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _monday(today: date, weeks: int = 0) -> date:
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)


def _within_offset_limit(today: date, target: date) -> date:
    if target > _shift_months(today, MAX_OFFSET_MONTHS):
        raise _Reject("invalid")
    return target


# ---------------------------------------------------------------- day rules

_DayRule = Callable[[re.Match[str], date], _Day]
_DAY_RULES: list[tuple[re.Pattern[str], _DayRule]] = []


def _day_rule(pattern: str) -> Callable[[_DayRule], _DayRule]:
    def register(rule: _DayRule) -> _DayRule:
        _DAY_RULES.append((re.compile(pattern), rule))
        return rule

    return register


def _days_from_today(pattern: str, days: int) -> None:
    _DAY_RULES.append((re.compile(pattern), lambda m, today: _Day(today + timedelta(days))))


_days_from_today(r"今日|本日|きょう|today", 0)
_days_from_today(r"明日|あした|あす|tomorrow", 1)
_days_from_today(r"明後日|あさって|the day after tomorrow|day after tomorrow", 2)
_days_from_today(r"昨日|きのう|yesterday", -1)
_days_from_today(r"一昨日|おととい", -2)


def _offset(today: date, amount: str, unit: str) -> _Day:
    if unit.startswith(("日", "day")):
        target = today + timedelta(days=_count(amount, 3700))
    elif unit.startswith(("週", "week")):
        target = today + timedelta(weeks=_count(amount, 530))
    elif unit.startswith(("年", "year")):
        target = _add_months(today, 12 * _count(amount, 11))
    else:
        target = _add_months(today, _count(amount, MAX_OFFSET_MONTHS + 1))
    return _Day(_within_offset_limit(today, target))


@_day_rule(r"([0-9]+) ?(日|週間|[かヶカケヵ箇]月|年) ?後")
def _ja_offset(m: re.Match[str], today: date) -> _Day:
    return _offset(today, m[1], m[2])


@_day_rule(rf"in {_COUNT} (days?|weeks?|months?|years?)")
def _en_offset(m: re.Match[str], today: date) -> _Day:
    return _offset(today, m[1], m[2])


@_day_rule(rf"(今週|来週|再来週) ?(?:の ?)?({_WD})|(this|next) ({_WD})")
def _weekday_of_week(m: re.Match[str], today: date) -> _Day:
    weeks = _WEEKS[m[1]] if m[1] else (0 if m[3] == "this" else 1)
    return _Day(_monday(today, weeks) + timedelta(_weekday(m[2] or m[4])), by_weekday=True)


def _next_weekday(today: date, weekday: int) -> _Day:
    ahead = (weekday - today.weekday()) % 7
    return _Day(today + timedelta(ahead), next_week_if_past=True, by_weekday=True)


@_day_rule(_WD)
def _bare_weekday(m: re.Match[str], today: date) -> _Day:
    return _next_weekday(today, _weekday(m[0]))


@_day_rule(r"週末")
def _weekend(m: re.Match[str], today: date) -> _Day:
    return _next_weekday(today, 4)


@_day_rule(r"来週|再来週|next week|week after next")
def _week(m: re.Match[str], today: date) -> _Day:
    """The Monday of that week."""
    return _Day(_monday(today, _WEEKS[m[0]]), by_weekday=True)


@_day_rule(r"(今週|来週|再来週)末|end of (?:the )?(week|next week)")
def _week_end(m: re.Match[str], today: date) -> _Day:
    """The Friday of that week: the end of the working week."""
    weeks = _WEEKS[m[1]] if m[1] else (0 if m[2] == "week" else 1)
    return _Day(_monday(today, weeks) + timedelta(4), by_weekday=True)


@_day_rule(r"今月末|月末|end of (?:the )?month")
def _this_month_end(m: re.Match[str], today: date) -> _Day:
    return _Day(_month_end(today))


@_day_rule(r"来月末|end of next month")
def _next_month_end(m: re.Match[str], today: date) -> _Day:
    return _Day(_month_end(today, 1))


@_day_rule(r"来月|next month")
def _next_month(m: re.Match[str], today: date) -> _Day:
    return _Day(_add_months(today.replace(day=1), 1))


@_day_rule(r"再来月")
def _month_after_next(m: re.Match[str], today: date) -> _Day:
    return _Day(_add_months(today.replace(day=1), 2))


@_day_rule(r"年度末|end of (?:the )?fiscal year")
def _fiscal_year_end(m: re.Match[str], today: date) -> _Day:
    return _Day(date(today.year + (1 if today.month >= 4 else 0), 3, 31))


def _yearless(today: date, month_digits: str, day_digits: str) -> _Day:
    """The next 12/3 on or after today (so 1/5 in November is next January)."""
    month, day = _number(month_digits), _number(day_digits)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise _Reject("invalid")
    year = today.year if (month, day) >= (today.month, today.day) else today.year + 1
    return _Day(_make_date(year, month, day))


def _full(year_digits: str, month_digits: str, day_digits: str) -> _Day:
    return _Day(_make_date(_number(year_digits), _number(month_digits), _number(day_digits)))


@_day_rule(r"([0-9]+)/([0-9]+)|([0-9]+) ?月 ?([0-9]+) ?日")
def _month_day(m: re.Match[str], today: date) -> _Day:
    return _yearless(today, m[1] or m[3], m[2] or m[4])


@_day_rule(r"([0-9]+)/([0-9]+)/([0-9]+)")
def _slashed_triple(m: re.Match[str], today: date) -> _Day:
    if len(m[1]) != 4:
        raise _Reject("ambiguous")  # 1/2/3, 12/3/26, 3/12/2026: which is the year?
    return _full(m[1], m[2], m[3])


@_day_rule(r"([0-9]{4})([-.])([0-9]+)\2([0-9]+)|([0-9]+) ?年 ?([0-9]+) ?月 ?([0-9]+) ?日")
def _year_month_day(m: re.Match[str], today: date) -> _Day:
    if m[1]:
        return _full(m[1], m[3], m[4])
    return _full(m[5], m[6], m[7])


_ERA = _alternatives(_ERAS)


@_day_rule(
    rf"({_ERA}) ?([0-9]+|元) ?年 ?([0-9]+) ?月 ?([0-9]+) ?日"
    rf"|({_ERA}) ?([0-9]+|元)([./-])([0-9]+)\7([0-9]+)"
)
def _era_date(m: re.Match[str], today: date) -> _Day:
    era, year, month, day = (m[1], m[2], m[3], m[4]) if m[1] else (m[5], m[6], m[8], m[9])
    era_year = 1 if year == "元" else _number(year)
    if era_year < 1:
        raise _Reject("invalid")
    return _Day(_make_date(_ERAS[era] + era_year, _number(month), _number(day)))


@_day_rule(r"([0-9]+) ?日")
def _day_of_month(m: re.Match[str], today: date) -> _Day:
    """ "15日": the next 15th on or after today."""
    day = _number(m[1])
    if not 1 <= day <= 31:
        raise _Reject("invalid")
    start = today.replace(day=1)
    first = start if day >= today.day else _add_months(start, 1)
    return _Day(_make_date(first.year, first.month, day))


@_day_rule(
    rf"({_MONTH})\.? ([0-9]+){_ORD}(?:,? ([0-9]+))?|([0-9]+){_ORD} ({_MONTH})\.?(?:,? ([0-9]+))?"
)
def _english_date(m: re.Match[str], today: date) -> _Day:
    month, day, year = (m[1], m[2], m[3]) if m[1] else (m[5], m[4], m[6])
    if year is None:
        return _yearless(today, str(_EN_MONTHS[month]), day)
    return _full(year, str(_EN_MONTHS[month]), day)


_JA_WEEKDAY_NOTE = re.compile(
    rf"(.+?) ?(?:\(([{_JA_WEEKDAYS}])(?:曜日?)?\)|([{_JA_WEEKDAYS}])曜日?)"
)
_EN_WEEKDAY_NOTE = re.compile(rf"({_alternatives(_EN_WEEKDAYS)}),? (.+)")


def _day(text: str, today: date) -> _Day | None:
    """Read a day, or None when `text` is no day phrase."""
    text = text.removeprefix("on ")
    for pattern, rule in _DAY_RULES:
        m = pattern.fullmatch(text)
        if m is not None:
            return rule(m, today)
    # a date with its weekday: "12/3(木)", "12月3日 木曜", "fri dec 4"
    noted = _JA_WEEKDAY_NOTE.fullmatch(text)
    if noted is not None:
        inner, weekday = noted[1], _JA_WEEKDAYS.index(noted[2] or noted[3])
    elif (noted := _EN_WEEKDAY_NOTE.fullmatch(text)) is not None:
        inner, weekday = noted[2], _EN_WEEKDAYS[noted[1]]
    else:
        return None
    found = _day(inner, today)
    if found is None or found.by_weekday:
        return None
    if found.date.weekday() != weekday:
        raise _Reject("ambiguous")  # 12/3(金) when 12/3 is a Thursday
    return found


# ---------------------------------------------------------------- times


def _clock(hour: int, minute: int, second: int = 0, meridiem: str | None = None) -> time:
    if meridiem in ("午前", "午後"):
        if hour == 12:
            raise _Reject("ambiguous")  # 午後12時: noon or midnight?
        if hour > 12:
            raise _Reject("invalid")
        hour += 12 if meridiem == "午後" else 0
    elif meridiem in ("am", "pm"):
        if not 1 <= hour <= 12:
            raise _Reject("invalid")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
        raise _Reject("invalid")
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
        minute = 30 if m[4] else _number(m[3] or "0")
        return _clock(_number(m[2]), minute, meridiem=m[1])
    if (m := _COLON_CLOCK.fullmatch(text)) is not None:
        if m[1] and m[5]:
            return None  # 午後3:00pm
        return _clock(_number(m[2]), int(m[3]), int(m[4] or "0"), m[1] or m[5])
    if (m := _EN_CLOCK.fullmatch(text)) is not None:
        return _clock(_number(m[1]), 0, meridiem=m[2])
    return None


# ---------------------------------------------------------------- moments ("2時間後")

_JA_HOURS_LATER = re.compile(r"([0-9]+) ?時間(?: ?([0-9]+) ?分|(半))? ?後")
_JA_MINUTES_LATER = re.compile(r"([0-9]+) ?分 ?後")
_EN_LATER = re.compile(rf"in {_COUNT} (hours?|hrs?|minutes?|mins?)")
_MAX_HOURS: Final = 24 * 366 * 10


def _moment(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    minutes: int
    if (m := _JA_HOURS_LATER.fullmatch(text)) is not None:
        extra = 30 if m[3] else _count(m[2] or "0", 59)
        minutes = 60 * _count(m[1], _MAX_HOURS) + extra
    elif (m := _JA_MINUTES_LATER.fullmatch(text)) is not None:
        minutes = _count(m[1], 60 * _MAX_HOURS)
    elif (m := _EN_LATER.fullmatch(text)) is not None:
        per_unit = 60 if m[2].startswith("h") else 1
        minutes = per_unit * _count(m[1], 60 * _MAX_HOURS // per_unit)
    else:
        return None
    moment = (now.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(tz)
    _within_offset_limit(now.date(), moment.date())
    return moment


# ---------------------------------------------------------------- putting it together


def _attempt(read: Callable[[], _T | None]) -> _T | _Reject | None:
    try:
        return read()
    except _Reject as reject:
        return reject


def _at(day: date, at: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)


def _reading(ctx: _Context, day_text: str, time_text: str) -> datetime | None:
    """One reading of the text: a day part and/or a time part (either may be "")."""
    day = _attempt(lambda: _day(day_text, ctx.today)) if day_text else None
    at = _attempt(lambda: _time(time_text)) if time_text else None
    if (day_text and day is None) or (time_text and at is None) or (day is None and at is None):
        return None
    if isinstance(day, _Reject):
        raise day
    if isinstance(at, _Reject):
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
        raise _Reject("unreadable")
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
    reasons = {outcome.reason for outcome in outcomes if isinstance(outcome, _Reject)}

    if len(set(found)) > 1:
        raise _Reject("ambiguous")
    if found:
        return found[0]
    for reason in ("ambiguous", "invalid"):
        if reason in reasons:
            raise _Reject(reason)
    raise _Reject("unreadable")


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
    except _Reject as reject:
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
    except _Reject as reject:
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
