"""Day phrases for bots.tasks.dates: "金曜", "来週の水曜", "3日後", "12/3", "令和8年12月3日".

This module holds the vocabulary (weekday and month names, weeks, eras), the calendar
arithmetic and the day rules behind `read_day`, plus what `bots.tasks.dates` shares with
them: the year limits, `Reason`, the `Reject` signal and the small number readers.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

Reason = Literal["unreadable", "past", "invalid", "ambiguous"]

MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2100
MAX_OFFSET_MONTHS: Final = 120  # "3日後", "in 2 hours": at most 10 years ahead


class Reject(Exception):
    """Raised inside the parser; parse_when turns it into a DateParseError."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


@dataclass(frozen=True)
class Day:
    """A day read from text, and how it was named."""

    date: date
    next_week_if_past: bool = False  # a bare weekday: today's has gone, so next week's
    by_weekday: bool = False  # named by weekday or week: no "(木)" annotation check


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


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


_WD = rf"[{_JA_WEEKDAYS}]曜日?|\([{_JA_WEEKDAYS}](?:曜日?)?\)|(?:{_alternatives(_EN_WEEKDAYS)})"
_MONTH = _alternatives(_EN_MONTHS)
_ORD = r"(?:st|nd|rd|th)?"
COUNT = r"([0-9]+|an?)"  # English counts: "in 3 days", "in a week", "in an hour"


def _weekday(token: str) -> int:
    token = token.strip("()")
    if token in _EN_WEEKDAYS:
        return _EN_WEEKDAYS[token]
    return _JA_WEEKDAYS.index(token[0])


def count(digits: str, limit: int) -> int:
    if digits in ("a", "an"):
        return 1
    if len(digits) > 9 or int(digits) > limit:
        raise Reject("invalid")
    return int(digits)


def number(digits: str) -> int:
    if len(digits) > 9:
        raise Reject("invalid")
    return int(digits)


# ---------------------------------------------------------------- calendar arithmetic


def _make_date(year: int, month: int, day: int) -> date:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Reject("invalid")
    try:
        return date(year, month, day)
    except ValueError:
        raise Reject("invalid") from None


def _shift_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (1/31 + 1 -> 2/28)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _add_months(start: date, months: int) -> date:
    shifted = _shift_months(start, months)
    if not MIN_YEAR <= shifted.year <= MAX_YEAR:
        raise Reject("invalid")
    return shifted


def _month_end(start: date, months: int = 0) -> date:
    first = _add_months(start.replace(day=1), months)
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _monday(today: date, weeks: int = 0) -> date:
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)


def within_offset_limit(today: date, target: date) -> date:
    if target > _shift_months(today, MAX_OFFSET_MONTHS):
        raise Reject("invalid")
    return target


# ---------------------------------------------------------------- day rules

_DayRule = Callable[[re.Match[str], date], Day]
_DAY_RULES: list[tuple[re.Pattern[str], _DayRule]] = []


def _day_rule(pattern: str) -> Callable[[_DayRule], _DayRule]:
    def register(rule: _DayRule) -> _DayRule:
        _DAY_RULES.append((re.compile(pattern), rule))
        return rule

    return register


def _days_from_today(pattern: str, days: int) -> None:
    _DAY_RULES.append((re.compile(pattern), lambda m, today: Day(today + timedelta(days))))


_days_from_today(r"今日|本日|きょう|today", 0)
_days_from_today(r"明日|あした|あす|tomorrow", 1)
_days_from_today(r"明後日|あさって|the day after tomorrow|day after tomorrow", 2)
_days_from_today(r"昨日|きのう|yesterday", -1)
_days_from_today(r"一昨日|おととい", -2)


def _offset(today: date, amount: str, unit: str) -> Day:
    if unit.startswith(("日", "day")):
        target = today + timedelta(days=count(amount, 3700))
    elif unit.startswith(("週", "week")):
        target = today + timedelta(weeks=count(amount, 530))
    elif unit.startswith(("年", "year")):
        target = _add_months(today, 12 * count(amount, 11))
    else:
        target = _add_months(today, count(amount, MAX_OFFSET_MONTHS + 1))
    return Day(within_offset_limit(today, target))


@_day_rule(r"([0-9]+) ?(日|週間|[かヶカケヵ箇]月|年) ?後")
def _ja_offset(m: re.Match[str], today: date) -> Day:
    return _offset(today, m[1], m[2])


@_day_rule(rf"in {COUNT} (days?|weeks?|months?|years?)")
def _en_offset(m: re.Match[str], today: date) -> Day:
    return _offset(today, m[1], m[2])


@_day_rule(rf"(今週|来週|再来週) ?(?:の ?)?({_WD})|(this|next) ({_WD})")
def _weekday_of_week(m: re.Match[str], today: date) -> Day:
    weeks = _WEEKS[m[1]] if m[1] else (0 if m[3] == "this" else 1)
    return Day(_monday(today, weeks) + timedelta(_weekday(m[2] or m[4])), by_weekday=True)


def _next_weekday(today: date, weekday: int) -> Day:
    ahead = (weekday - today.weekday()) % 7
    return Day(today + timedelta(ahead), next_week_if_past=True, by_weekday=True)


@_day_rule(_WD)
def _bare_weekday(m: re.Match[str], today: date) -> Day:
    return _next_weekday(today, _weekday(m[0]))


@_day_rule(r"週末")
def _weekend(m: re.Match[str], today: date) -> Day:
    return _next_weekday(today, 4)


@_day_rule(r"来週|再来週|next week|week after next")
def _week(m: re.Match[str], today: date) -> Day:
    """The Monday of that week."""
    return Day(_monday(today, _WEEKS[m[0]]), by_weekday=True)


@_day_rule(r"(今週|来週|再来週)末|end of (?:the )?(week|next week)")
def _week_end(m: re.Match[str], today: date) -> Day:
    """The Friday of that week: the end of the working week."""
    weeks = _WEEKS[m[1]] if m[1] else (0 if m[2] == "week" else 1)
    return Day(_monday(today, weeks) + timedelta(4), by_weekday=True)


@_day_rule(r"今月末|月末|end of (?:the )?month")
def _this_month_end(m: re.Match[str], today: date) -> Day:
    return Day(_month_end(today))


@_day_rule(r"来月末|end of next month")
def _next_month_end(m: re.Match[str], today: date) -> Day:
    return Day(_month_end(today, 1))


@_day_rule(r"来月|next month")
def _next_month(m: re.Match[str], today: date) -> Day:
    return Day(_add_months(today.replace(day=1), 1))


@_day_rule(r"再来月")
def _month_after_next(m: re.Match[str], today: date) -> Day:
    return Day(_add_months(today.replace(day=1), 2))


@_day_rule(r"年度末|end of (?:the )?fiscal year")
def _fiscal_year_end(m: re.Match[str], today: date) -> Day:
    return Day(date(today.year + (1 if today.month >= 4 else 0), 3, 31))


def _yearless(today: date, month_digits: str, day_digits: str) -> Day:
    """The next 12/3 on or after today (so 1/5 in November is next January)."""
    month, day = number(month_digits), number(day_digits)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise Reject("invalid")
    year = today.year if (month, day) >= (today.month, today.day) else today.year + 1
    return Day(_make_date(year, month, day))


def _full(year_digits: str, month_digits: str, day_digits: str) -> Day:
    return Day(_make_date(number(year_digits), number(month_digits), number(day_digits)))


@_day_rule(r"([0-9]+)/([0-9]+)|([0-9]+) ?月 ?([0-9]+) ?日")
def _month_day(m: re.Match[str], today: date) -> Day:
    return _yearless(today, m[1] or m[3], m[2] or m[4])


@_day_rule(r"([0-9]+)/([0-9]+)/([0-9]+)")
def _slashed_triple(m: re.Match[str], today: date) -> Day:
    if len(m[1]) != 4:
        raise Reject("ambiguous")  # 1/2/3, 12/3/26, 3/12/2026: which is the year?
    return _full(m[1], m[2], m[3])


@_day_rule(r"([0-9]{4})([-.])([0-9]+)\2([0-9]+)|([0-9]+) ?年 ?([0-9]+) ?月 ?([0-9]+) ?日")
def _year_month_day(m: re.Match[str], today: date) -> Day:
    if m[1]:
        return _full(m[1], m[3], m[4])
    return _full(m[5], m[6], m[7])


_ERA = _alternatives(_ERAS)


@_day_rule(
    rf"({_ERA}) ?([0-9]+|元) ?年 ?([0-9]+) ?月 ?([0-9]+) ?日"
    rf"|({_ERA}) ?([0-9]+|元)([./-])([0-9]+)\7([0-9]+)"
)
def _era_date(m: re.Match[str], today: date) -> Day:
    era, year, month, day = (m[1], m[2], m[3], m[4]) if m[1] else (m[5], m[6], m[8], m[9])
    era_year = 1 if year == "元" else number(year)
    if era_year < 1:
        raise Reject("invalid")
    return Day(_make_date(_ERAS[era] + era_year, number(month), number(day)))


@_day_rule(r"([0-9]+) ?日")
def _day_of_month(m: re.Match[str], today: date) -> Day:
    """ "15日": the next 15th on or after today."""
    day = number(m[1])
    if not 1 <= day <= 31:
        raise Reject("invalid")
    start = today.replace(day=1)
    first = start if day >= today.day else _add_months(start, 1)
    return Day(_make_date(first.year, first.month, day))


@_day_rule(
    rf"({_MONTH})\.? ([0-9]+){_ORD}(?:,? ([0-9]+))?|([0-9]+){_ORD} ({_MONTH})\.?(?:,? ([0-9]+))?"
)
def _english_date(m: re.Match[str], today: date) -> Day:
    month, day, year = (m[1], m[2], m[3]) if m[1] else (m[5], m[4], m[6])
    if year is None:
        return _yearless(today, str(_EN_MONTHS[month]), day)
    return _full(year, str(_EN_MONTHS[month]), day)


_JA_WEEKDAY_NOTE = re.compile(
    rf"(.+?) ?(?:\(([{_JA_WEEKDAYS}])(?:曜日?)?\)|([{_JA_WEEKDAYS}])曜日?)"
)
_EN_WEEKDAY_NOTE = re.compile(rf"({_alternatives(_EN_WEEKDAYS)}),? (.+)")


def read_day(text: str, today: date) -> Day | None:
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
    found = read_day(inner, today)
    if found is None or found.by_weekday:
        return None
    if found.date.weekday() != weekday:
        raise Reject("ambiguous")  # 12/3(金) when 12/3 is a Thursday
    return found
