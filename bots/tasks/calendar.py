"""The city hall's working days: weekends, national holidays, 年末年始 and local exceptions.

Japan's national holidays, including substitute holidays (振替休日) and citizens' holidays
(国民の休日), come from the `holidays` package, which ships its data: no network, and the
same answer every time for a given package version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType

import holidays

from bots.i18n import Catalog

# `holidays` language codes for ours; anything else falls back to Japanese, the default.
_HOLIDAY_LANGUAGES: Mapping[str, str] = MappingProxyType({"ja": "ja", "en": "en_US"})
_DEFAULT_LANGUAGE = "ja"


_SATURDAY = 5


def _as_date(day: date) -> date:
    # datetime is a subclass of date but never equal to one: normalise before set lookups.
    return day.date() if isinstance(day, datetime) else day


def _language(lang: str) -> str:
    return lang if lang in _HOLIDAY_LANGUAGES else _DEFAULT_LANGUAGE


def is_year_end(day: date) -> bool:
    """Whether `day` falls in the customary 年末年始 closure, 29 December to 3 January."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days the city hall is open.

    Precedence: `extra_open` wins over everything, then `extra_closed`; otherwise
    Saturdays and Sundays, national holidays (if `skip_holidays`) and 29 December to
    3 January (if `year_end_closure`) are closed.
    """

    skip_holidays: bool = True
    year_end_closure: bool = True
    extra_closed: frozenset[date] = frozenset()
    extra_open: frozenset[date] = frozenset()
    # (holidays language, year) -> {day: name}; built once per year and language.
    _holidays: dict[tuple[str, int], Mapping[date, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def is_working_day(self, day: date) -> bool:
        day = _as_date(day)
        if day in self.extra_open:
            return True
        if day in self.extra_closed or day.weekday() >= _SATURDAY:
            return False
        if self.year_end_closure and is_year_end(day):
            return False
        return not (self.skip_holidays and self._national_holiday(day, _DEFAULT_LANGUAGE))

    def holiday_name(self, day: date, lang: str, catalog: Catalog) -> str | None:
        """Why the city hall is closed on `day`, in `lang` ("ja" or "en").

        None on working days and on ordinary weekends. A national holiday's own name wins
        over the year-end closure (1 January is 元日), which wins over a local closure.
        """
        day = _as_date(day)
        if self.is_working_day(day):
            return None
        lang = _language(lang)
        if self.skip_holidays and (name := self._national_holiday(day, lang)):
            return name
        if self.year_end_closure and is_year_end(day):
            return catalog.t(lang, "calendar.year_end")
        if day in self.extra_closed:
            return catalog.t(lang, "calendar.closed")
        return None

    def next_working_day(self, day: date) -> date:
        """The first working day on or after `day`."""
        day = _as_date(day)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def _national_holiday(self, day: date, lang: str) -> str | None:
        key = (_HOLIDAY_LANGUAGES[lang], day.year)
        names = self._holidays.get(key)
        if names is None:
            # expand=False: the object must not grow behind our back when asked about
            # another year; each year is built exactly once per language.
            table = holidays.country_holidays("JP", years=day.year, language=key[0], expand=False)
            names = MappingProxyType({d: str(n) for d, n in table.items()})
            self._holidays[key] = names
        return names.get(day)
