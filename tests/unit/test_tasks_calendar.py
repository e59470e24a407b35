"""The city hall's working days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.i18n import Catalog
from bots.tasks.calendar import BusinessCalendar

CATALOG = Catalog.load()


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar()


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (date(2026, 11, 23), False),  # 勤労感謝の日 (Monday)
        (date(2026, 11, 24), True),
        (date(2025, 11, 24), False),  # 振替休日: 勤労感謝の日 fell on Sunday 2025-11-23
        (date(2025, 11, 25), True),
        (date(2026, 9, 22), False),  # 国民の休日 between 敬老の日 and 秋分の日
        (date(2026, 11, 21), False),  # Saturday
        (date(2026, 11, 22), False),  # Sunday
        (date(2026, 11, 20), True),  # Friday
    ],
)
def test_is_working_day(cal: BusinessCalendar, day: date, open_: bool) -> None:
    assert cal.is_working_day(day) is open_


@pytest.mark.parametrize(
    "day",
    [date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 2)],
)
def test_year_end_closure(day: date) -> None:
    assert day.weekday() < 5
    assert not BusinessCalendar().is_working_day(day)
    assert BusinessCalendar(year_end_closure=False).is_working_day(day)


def test_year_end_closure_edges(cal: BusinessCalendar) -> None:
    assert cal.is_working_day(date(2025, 12, 26))  # Friday before
    assert cal.is_working_day(date(2026, 1, 5))  # Monday after
    assert not cal.is_working_day(date(2027, 1, 1))  # 元日 stays closed either way
    assert not BusinessCalendar(year_end_closure=False).is_working_day(date(2027, 1, 1))


def test_without_national_holidays() -> None:
    cal = BusinessCalendar(skip_holidays=False)
    assert cal.is_working_day(date(2026, 11, 23))
    assert cal.is_working_day(date(2025, 11, 24))
    assert not cal.is_working_day(date(2026, 11, 22))  # still a Sunday
    assert cal.holiday_name(date(2026, 11, 23), "ja", CATALOG) is None


def test_extra_closed_and_open() -> None:
    election_sunday = date(2026, 11, 22)
    foundation_day = date(2026, 11, 25)
    cal = BusinessCalendar(
        extra_closed=frozenset({foundation_day}),
        extra_open=frozenset({election_sunday, date(2026, 11, 23), date(2026, 12, 29)}),
    )
    assert not cal.is_working_day(foundation_day)
    assert cal.is_working_day(election_sunday)
    assert cal.is_working_day(date(2026, 11, 23))
    assert cal.is_working_day(date(2026, 12, 29))
    assert cal.holiday_name(election_sunday, "ja", CATALOG) is None
    assert cal.holiday_name(date(2026, 11, 23), "ja", CATALOG) is None
    assert cal.holiday_name(foundation_day, "ja", CATALOG) == "閉庁日"
    assert cal.holiday_name(foundation_day, "en", CATALOG) == "City hall closed"


def test_extra_open_wins_over_extra_closed() -> None:
    day = date(2026, 11, 25)
    cal = BusinessCalendar(extra_closed=frozenset({day}), extra_open=frozenset({day}))
    assert cal.is_working_day(day)


def test_datetime_is_treated_as_its_date() -> None:
    cal = BusinessCalendar(extra_open=frozenset({date(2026, 11, 22)}))
    assert cal.is_working_day(datetime(2026, 11, 22, 9, 0))
    assert cal.next_working_day(datetime(2026, 11, 23, 9, 0)) == date(2026, 11, 24)


@pytest.mark.parametrize(
    ("day", "ja", "en"),
    [
        (date(2026, 11, 23), "勤労感謝の日", "Labor Thanksgiving Day"),
        (date(2025, 11, 24), "振替休日", "Substitute Holiday"),
        (date(2026, 9, 22), "国民の休日", "National Holiday"),
        (date(2027, 1, 1), "元日", "New Year's Day"),
        (date(2026, 12, 29), "年末年始休暇", "Year-end holidays"),
        (date(2027, 1, 3), "年末年始休暇", "Year-end holidays"),  # a Sunday, but not plain
        (date(2026, 11, 24), None, None),  # working day
        (date(2026, 11, 22), None, None),  # plain Sunday
    ],
)
def test_holiday_name(cal: BusinessCalendar, day: date, ja: str | None, en: str | None) -> None:
    assert cal.holiday_name(day, "ja", CATALOG) == ja
    assert cal.holiday_name(day, "en", CATALOG) == en


def test_holiday_name_unknown_language_falls_back_to_japanese(cal: BusinessCalendar) -> None:
    assert cal.holiday_name(date(2026, 11, 23), "fr", CATALOG) == "勤労感謝の日"


def test_holiday_name_without_year_end_closure() -> None:
    cal = BusinessCalendar(year_end_closure=False)
    assert cal.holiday_name(date(2026, 12, 29), "ja", CATALOG) is None
    assert cal.holiday_name(date(2027, 1, 1), "ja", CATALOG) == "元日"


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 12, 28), date(2026, 12, 28)),  # Monday, open
        (date(2026, 12, 29), date(2027, 1, 4)),  # over 年末年始 to Monday
        (date(2026, 11, 21), date(2026, 11, 24)),  # Sat → Sun → 勤労感謝の日 → Tue
        (date(2025, 11, 22), date(2025, 11, 25)),  # Sat → Sun holiday → 振替休日 → Tue
        (date(2026, 11, 24), date(2026, 11, 24)),
    ],
)
def test_next_working_day(cal: BusinessCalendar, start: date, expected: date) -> None:
    assert cal.next_working_day(start) == expected


def test_next_working_day_without_closure() -> None:
    assert BusinessCalendar(year_end_closure=False).next_working_day(date(2026, 12, 29)) == date(
        2026, 12, 29
    )


def test_holidays_are_built_once_per_year_and_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import holidays

    calls: list[tuple[int, str]] = []
    real = holidays.country_holidays

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append((kwargs["years"], kwargs["language"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", counting)
    cal = BusinessCalendar()
    day = date(2026, 1, 1)
    for _ in range(366):
        cal.is_working_day(day)
        cal.holiday_name(day, "ja", CATALOG)
        day += timedelta(days=1)
    cal.holiday_name(date(2026, 11, 23), "en", CATALOG)
    cal.holiday_name(date(2026, 11, 3), "en", CATALOG)
    assert sorted(calls) == [(2026, "en_US"), (2026, "ja"), (2027, "ja")]


def test_calendars_compare_by_configuration() -> None:
    a = BusinessCalendar(extra_closed=frozenset({date(2026, 11, 25)}))
    a.is_working_day(date(2026, 11, 23))  # fills a's cache only
    b = BusinessCalendar(extra_closed=frozenset({date(2026, 11, 25)}))
    assert a == b
    assert hash(a) == hash(b)


@given(st.dates(min_value=date(1960, 1, 1), max_value=date(2090, 12, 31)))
def test_next_working_day_is_the_first_open_day(day: date) -> None:
    cal = BusinessCalendar()
    found = cal.next_working_day(day)
    assert found >= day
    assert cal.is_working_day(found)
    assert found - day < timedelta(days=12)
    between = day
    while between < found:
        assert not cal.is_working_day(between)
        between += timedelta(days=1)
