"""Due-date phrases: parse_when and split_due_suffix (bots/tasks/dates.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.tasks.dates import DateParseError, parse_when, split_due_suffix

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO)  # a Thursday
# the same instant given in UTC: parse_when converts it to Tokyo first
NOWS = pytest.mark.parametrize("now", [NOW, NOW.astimezone(UTC)], ids=["tokyo", "utc"])


def at(year: int, month: int, day: int, hour: int = 17, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def reason(text: str, now: datetime = NOW) -> str:
    with pytest.raises(DateParseError) as caught:
        parse_when(text, now, TOKYO)
    assert caught.value.text == text
    return caught.value.reason


ACCEPTED: list[tuple[str, datetime]] = [
    # relative days (date only: 17:00)
    ("今日", at(2026, 11, 26)),
    ("本日", at(2026, 11, 26)),
    ("明日", at(2026, 11, 27)),
    ("あした", at(2026, 11, 27)),
    ("あす", at(2026, 11, 27)),
    ("明後日", at(2026, 11, 28)),
    ("あさって", at(2026, 11, 28)),
    ("3日後", at(2026, 11, 29)),
    ("0日後", at(2026, 11, 26)),
    ("2週間後", at(2026, 12, 10)),
    ("1か月後", at(2026, 12, 26)),
    ("1ヶ月後", at(2026, 12, 26)),
    ("1カ月後", at(2026, 12, 26)),
    ("1ケ月後", at(2026, 12, 26)),
    ("1年後", at(2027, 11, 26)),
    ("10年後", at(2036, 11, 26)),
    ("来週", at(2026, 11, 30)),
    ("再来週", at(2026, 12, 7)),
    ("今週末", at(2026, 11, 27)),
    ("週末", at(2026, 11, 27)),
    ("来週末", at(2026, 12, 4)),
    ("月末", at(2026, 11, 30)),
    ("今月末", at(2026, 11, 30)),
    ("来月末", at(2026, 12, 31)),
    ("来月", at(2026, 12, 1)),
    ("再来月", at(2027, 1, 1)),
    ("年度末", at(2027, 3, 31)),
    # weekdays
    ("月曜", at(2026, 11, 30)),
    ("月曜日", at(2026, 11, 30)),
    ("(月)", at(2026, 11, 30)),
    ("（月）", at(2026, 11, 30)),
    ("水曜", at(2026, 12, 2)),
    ("木曜", at(2026, 11, 26)),  # today, 17:00 still ahead
    ("木曜 9時", at(2026, 12, 3, 9)),  # today's 9:00 has passed: next week
    ("金曜まで", at(2026, 11, 27)),
    ("金曜日までに", at(2026, 11, 27)),
    ("来週月曜", at(2026, 11, 30)),
    ("来週の月曜日", at(2026, 11, 30)),
    ("来週 金曜", at(2026, 12, 4)),
    ("今週金曜", at(2026, 11, 27)),
    ("今週の金曜日", at(2026, 11, 27)),
    ("再来週水曜", at(2026, 12, 9)),
    # times alone: today, or tomorrow once passed
    ("17時", at(2026, 11, 26, 17)),
    ("17時30分", at(2026, 11, 26, 17, 30)),
    ("17時半", at(2026, 11, 26, 17, 30)),
    ("15時", at(2026, 11, 26, 15)),
    ("9時", at(2026, 11, 27, 9)),
    ("10:00", at(2026, 11, 26, 10)),  # exactly now is not past
    ("午後3時", at(2026, 11, 26, 15)),
    ("午後0時", at(2026, 11, 26, 12)),
    ("午前9時", at(2026, 11, 27, 9)),
    ("午前0時", at(2026, 11, 27, 0)),
    ("午後3:30", at(2026, 11, 26, 15, 30)),
    ("9:30", at(2026, 11, 27, 9, 30)),
    ("17:00", at(2026, 11, 26, 17)),
    ("正午", at(2026, 11, 26, 12)),
    ("夕方", at(2026, 11, 26, 17)),
    ("午前中", at(2026, 11, 26, 12)),
    # a day with a time
    ("明日17時", at(2026, 11, 27, 17)),
    ("明日 17:00", at(2026, 11, 27, 17)),
    ("明日の午後3時", at(2026, 11, 27, 15)),
    ("明日の朝", at(2026, 11, 27, 9)),
    ("明日17時までに", at(2026, 11, 27, 17)),
    ("金曜 15時", at(2026, 11, 27, 15)),
    ("金曜の15時", at(2026, 11, 27, 15)),
    ("来週 10時", at(2026, 11, 30, 10)),
    ("3日後 15時", at(2026, 11, 29, 15)),
    ("12/3 9:00", at(2026, 12, 3, 9)),
    ("12月3日9時", at(2026, 12, 3, 9)),
    ("12月3日 9時30分", at(2026, 12, 3, 9, 30)),
    # dates
    ("12/3", at(2026, 12, 3)),
    ("12月3日", at(2026, 12, 3)),
    ("2026/12/3", at(2026, 12, 3)),
    ("2026-12-03", at(2026, 12, 3)),
    ("2026.12.3", at(2026, 12, 3)),
    ("2026-12-03 09:00", at(2026, 12, 3, 9)),
    ("2026-12-03T09:00", at(2026, 12, 3, 9)),
    ("2026年12月3日", at(2026, 12, 3)),
    ("令和8年12月3日", at(2026, 12, 3)),
    ("R8.12.3", at(2026, 12, 3)),
    ("令和8.12.3", at(2026, 12, 3)),
    ("11/26", at(2026, 11, 26)),  # today
    ("11/25", at(2027, 11, 25)),  # gone this year: next year
    ("1/5", at(2027, 1, 5)),
    ("15日", at(2026, 12, 15)),  # the 15th: gone this month
    ("30日", at(2026, 11, 30)),
    ("12/3(木)", at(2026, 12, 3)),
    ("12月3日(木曜)", at(2026, 12, 3)),
    # full-width
    ("１２／３", at(2026, 12, 3)),
    ("１２／３\u3000９：００", at(2026, 12, 3, 9)),
    ("２０２６－１２－０３", at(2026, 12, 3)),
    ("明日\u3000１７時", at(2026, 11, 27, 17)),
    ("３日後", at(2026, 11, 29)),
    # moments from now
    ("2時間後", at(2026, 11, 26, 12)),
    ("30分後", at(2026, 11, 26, 10, 30)),
    ("1時間半後", at(2026, 11, 26, 11, 30)),
    ("in 2 hours", at(2026, 11, 26, 12)),
    ("in 30 minutes", at(2026, 11, 26, 10, 30)),
    ("in an hour", at(2026, 11, 26, 11)),
    # English
    ("today", at(2026, 11, 26)),
    ("tomorrow", at(2026, 11, 27)),
    ("Tomorrow 5PM", at(2026, 11, 27, 17)),
    ("tomorrow at 5pm", at(2026, 11, 27, 17)),
    ("5pm tomorrow", at(2026, 11, 27, 17)),
    ("5pm", at(2026, 11, 26, 17)),
    ("5 pm", at(2026, 11, 26, 17)),
    ("5:30 pm", at(2026, 11, 26, 17, 30)),
    ("12pm", at(2026, 11, 26, 12)),
    ("12am", at(2026, 11, 27, 0)),
    ("noon", at(2026, 11, 26, 12)),
    ("in 3 days", at(2026, 11, 29)),
    ("in 2 weeks", at(2026, 12, 10)),
    ("in a week", at(2026, 12, 3)),
    ("in 1 month", at(2026, 12, 26)),
    ("in 10 years", at(2036, 11, 26)),
    ("next monday", at(2026, 11, 30)),
    ("next friday", at(2026, 12, 4)),  # the Friday of next week, like 来週金曜
    ("this friday", at(2026, 11, 27)),
    ("next week", at(2026, 11, 30)),
    ("next month", at(2026, 12, 1)),
    ("end of month", at(2026, 11, 30)),
    ("monday", at(2026, 11, 30)),
    ("mon", at(2026, 11, 30)),
    ("fri 9am", at(2026, 11, 27, 9)),
    ("by friday", at(2026, 11, 27)),
    ("dec 3", at(2026, 12, 3)),
    ("Dec 3rd", at(2026, 12, 3)),
    ("3 dec", at(2026, 12, 3)),
    ("on dec 3", at(2026, 12, 3)),
    ("dec 3 10:00", at(2026, 12, 3, 10)),
    ("december 3 2026", at(2026, 12, 3)),
    ("December 3, 2026", at(2026, 12, 3)),
    ("fri dec 4", at(2026, 12, 4)),
    ("2026-12-03", at(2026, 12, 3)),
]


@NOWS
@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_accepted(text: str, expected: datetime, now: datetime) -> None:
    result = parse_when(text, now, TOKYO)
    assert result == expected
    assert result.tzinfo is TOKYO


REJECTED: list[tuple[str, str]] = [
    ("", "unreadable"),
    ("   ", "unreadable"),
    ("foo", "unreadable"),
    ("明日明日", "unreadable"),
    ("明日 foo", "unreadable"),
    ("今週", "unreadable"),
    ("まで", "unreadable"),
    ("1/2/3/4", "unreadable"),
    ("x" * 1000, "unreadable"),
    ("12/3/4", "ambiguous"),
    ("1/2/3", "ambiguous"),
    ("3/12/2026", "ambiguous"),
    ("12/3(金)", "ambiguous"),  # 12/3 is a Thursday
    ("thu dec 4", "ambiguous"),
    ("午後12時", "ambiguous"),
    ("2月30日", "invalid"),
    ("2/29", "invalid"),  # the next 2/29 would be in 2027, which has none
    ("13/1", "invalid"),
    ("0/1", "invalid"),
    ("2026-02-30", "invalid"),
    ("32日", "invalid"),
    ("25時", "invalid"),
    ("24時", "invalid"),
    ("17:60", "invalid"),
    ("午後13時", "invalid"),
    ("13pm", "invalid"),
    ("0am", "invalid"),
    ("99999999時", "invalid"),
    ("1999/1/1", "invalid"),
    ("2101-01-01", "invalid"),
    ("0000-01-01", "invalid"),
    ("令和0年1月1日", "invalid"),
    ("平成11年1月1日", "invalid"),  # 1999
    ("in 99999999999 days", "invalid"),
    ("99999999999日後", "invalid"),
    ("in 11 years", "invalid"),
    ("in 121 months", "invalid"),
    ("in 9999999 hours", "invalid"),
    ("昨日", "past"),
    ("yesterday", "past"),
    ("今週月曜", "past"),
    ("令和元年5月1日", "past"),
]


@NOWS
@pytest.mark.parametrize(("text", "expected"), REJECTED, ids=[t[:20] for t, _ in REJECTED])
def test_rejected(text: str, expected: str, now: datetime) -> None:
    assert reason(text, now) == expected


def test_error_is_a_value_error_naming_the_text() -> None:
    with pytest.raises(ValueError, match=r"unreadable.*'foo'"):
        parse_when("foo", NOW, TOKYO)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("昨日", at(2026, 11, 25)),
        ("令和元年5月1日", at(2019, 5, 1)),
        ("平成31年4月30日", at(2019, 4, 30)),
        ("R元.5.1", at(2019, 5, 1)),
        ("今日", at(2026, 11, 26)),
    ],
)
def test_allow_past(text: str, expected: datetime) -> None:
    late = at(2026, 11, 26, 18)
    assert parse_when(text, late, TOKYO, allow_past=True) == expected


def test_today_after_default_time_is_past() -> None:
    assert reason("今日", at(2026, 11, 26, 18)) == "past"


def test_bare_weekday_today_after_default_time_is_next_week() -> None:
    assert parse_when("木曜", at(2026, 11, 26, 18), TOKYO) == at(2026, 12, 3)


def test_default_time() -> None:
    assert parse_when("明日", NOW, TOKYO, default_time=time(9, 30)) == at(2026, 11, 27, 9, 30)
    assert parse_when("明日 15時", NOW, TOKYO, default_time=time(9)) == at(2026, 11, 27, 15)


def test_today_is_the_date_in_tz_not_in_the_zone_of_now() -> None:
    now = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 2026-11-26 01:00 in Tokyo
    assert parse_when("今日", now, TOKYO) == at(2026, 11, 26)
    assert parse_when("明日", now, TOKYO) == at(2026, 11, 27)


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        (date(2027, 1, 31), "1か月後", at(2027, 2, 28)),
        (date(2028, 1, 31), "1ヶ月後", at(2028, 2, 29)),
        (date(2027, 1, 31), "in 1 month", at(2027, 2, 28)),
        (date(2026, 8, 31), "in 6 months", at(2027, 2, 28)),
        (date(2027, 2, 3), "月末", at(2027, 2, 28)),
        (date(2027, 3, 31), "年度末", at(2027, 3, 31)),
        (date(2027, 4, 1), "年度末", at(2028, 3, 31)),
        (date(2026, 12, 28), "来月", at(2027, 1, 1)),
    ],
)
def test_month_arithmetic(today: date, text: str, expected: datetime) -> None:
    now = datetime.combine(today, time(9), tzinfo=TOKYO)
    assert parse_when(text, now, TOKYO) == expected


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("明日", datetime(2026, 11, 26, 10), TOKYO)


# ---------------------------------------------------------------- split_due_suffix


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("報告書を提出 金曜まで", ("報告書を提出", "金曜")),
        ("資料作成 明日17時までに", ("資料作成", "明日17時")),
        ("資料作成 明日 17時まで", ("資料作成", "明日 17時")),
        ("報告 来週 月曜 まで", ("報告", "来週 月曜")),
        ("会議準備 12/3 9:00まで", ("会議準備", "12/3 9:00")),
        ("報告書\u3000金曜まで", ("報告書", "金曜")),
        ("予算 要求 令和8年12月3日までに", ("予算 要求", "令和8年12月3日")),
        ("submit report dec 3 2026まで", ("submit report", "dec 3 2026")),
        ("申請 2月30日まで", ("申請", "2月30日")),  # a date, if not a real one
        ("報告書を提出 金曜まで  ", ("報告書を提出", "金曜")),
    ],
)
def test_split_due_suffix(text: str, expected: tuple[str, str]) -> None:
    assert split_due_suffix(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "報告書を提出",
        "報告書を金曜まで",  # no space before the date
        "金曜まで",  # nothing left for a title
        "出張 東京まで",
        "東京まで 出張",
        "明日明日まで",
        "",
        "まで",
    ],
)
def test_split_due_suffix_leaves_other_titles(text: str) -> None:
    assert split_due_suffix(text) == (text, None)


# ---------------------------------------------------------------- properties

FRAGMENTS = [
    "明日", "今日", "来週", "の", "金曜", "(月)", "時", "分", "半", "午後", "後", "日", "月",
    "年", "令和", "元", "/", ":", "-", ".", " ", "　", "0", "1", "2", "12", "31", "99999999999",
    "in", "days", "hours", "next", "fri", "dec", "pm", "am", "まで", "T", "１", "／",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join)))
def test_any_text_gives_a_future_datetime_or_a_date_parse_error(text: str) -> None:
    try:
        result = parse_when(text, NOW, TOKYO)
    except DateParseError as error:
        assert error.reason in ("unreadable", "past", "invalid", "ambiguous")
        return
    assert result.tzinfo is TOKYO
    assert result >= NOW


@settings(max_examples=200, deadline=None)
@given(st.text(), st.booleans())
def test_split_due_suffix_never_fails(text: str, suffix: bool) -> None:
    title, due = split_due_suffix(text + (" 明日まで" if suffix else ""))
    if due is not None:
        assert title.strip() and due.strip()


_FULL_WIDTH = str.maketrans("0123456789/:", "０１２３４５６７８９／：")


@settings(max_examples=300, deadline=None)
@given(
    month=st.integers(1, 12),
    day=st.integers(1, 31),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    full_width=st.booleans(),
    kanji=st.booleans(),
)
def test_month_day_time_round_trips(
    month: int, day: int, hour: int, minute: int, full_width: bool, kanji: bool
) -> None:
    text = f"{month}月{day}日{hour}時{minute}分" if kanji else f"{month}/{day} {hour}:{minute:02d}"
    if full_width:
        text = text.translate(_FULL_WIDTH)
    year = 2026 if (month, day) >= (11, 26) else 2027
    try:
        expected = at(year, month, day, hour, minute)
    except ValueError:
        assert reason(text) == "invalid"
        return
    if expected < NOW:
        assert reason(text) == "past"  # today, at a time already gone
        return
    assert parse_when(text, NOW, TOKYO) == expected
