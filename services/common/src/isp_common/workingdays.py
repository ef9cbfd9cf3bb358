"""Working days in England, reckoned in Europe/London (CONTRACT §3).

A working day is Monday to Friday and not a bank holiday in England as the
`holidays` package gives them for ``UnitedKingdom(subdiv="ENG")``. One-off bank
holidays (a coronation, a state funeral) are declared at a few months' notice,
sooner than a `holidays` release may reach production, so a calendar can add
dates (``extra_holidays``) or take them away (``removed_holidays``) from settings.

`holidays` is imported on the first bank holiday asked for, not with this module (every service
imports it, few reckon working days), and only its United Kingdom module is loaded: the package's
``holidays.countries`` imports every country, about 7 MB of a service's resident memory
(:func:`england_bank_holidays`; docs/operations.md, "Memory").

"N working days after D" is the Nth working day strictly after date D: a
conference invitation issued on a Monday gives five working days' notice for a
conference the following Monday, not the Friday.
"""

from __future__ import annotations

import calendar as _calendar
import functools
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
SATURDAY = 5
ONE_DAY = timedelta(days=1)


class WorkingCalendar:
    """England's working days, with local additions and removals of bank holidays."""

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        removed_holidays: Iterable[date] = (),
    ) -> None:
        self._extra = frozenset(extra_holidays)
        self._removed = frozenset(removed_holidays)
        self._by_year: dict[int, frozenset[date]] = {}

    def bank_holidays(self, year: int) -> frozenset[date]:
        """The bank holidays in England in ``year``, after the overrides (cached per year)."""
        cached = self._by_year.get(year)
        if cached is None:
            england = england_bank_holidays(year)
            extra = {d for d in self._extra if d.year == year}
            cached = frozenset((set(england) | extra) - self._removed)
            self._by_year[year] = cached
        return cached

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < SATURDAY and d not in self.bank_holidays(d.year)

    def working_days_after(self, d: date, n: int) -> date:
        """The Nth working day strictly after ``d``; ``n=0`` gives ``d`` itself."""
        if n < 0:
            raise ValueError("n must be zero or more")
        day = d
        for _ in range(n):
            day += ONE_DAY
            while not self.is_working_day(day):
                day += ONE_DAY
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days strictly after ``start`` up to and including ``end`` (0 if end <= start)."""
        count = 0
        day = start + ONE_DAY
        while day <= end:
            count += self.is_working_day(day)
            day += ONE_DAY
        return count

    def next_working_day_on_or_after(self, d: date) -> date:
        while not self.is_working_day(d):
            d += ONE_DAY
        return d

    def last_working_day_before(self, d: date) -> date:
        """The last working day strictly before ``d``."""
        d -= ONE_DAY
        while not self.is_working_day(d):
            d -= ONE_DAY
        return d

    @staticmethod
    def london_date(dt: datetime) -> date:
        """The date in London at instant ``dt``; a naive datetime is refused, not guessed at."""
        return london_date(dt)


def england_bank_holidays(year: int) -> frozenset[date]:
    """The bank holidays in England in ``year`` as `holidays` gives them, the same dates as
    ``holidays.country_holidays("GB", subdiv="ENG")`` (services/common/tests/test_workingdays.py)."""
    return frozenset(_united_kingdom()(subdiv="ENG", years=year))


@functools.cache
def _united_kingdom() -> Any:
    """`holidays`' ``UnitedKingdom`` class, its module loaded from its file alone: importing it by
    name runs ``holidays/countries/__init__.py``, which imports all the package's countries. Where
    a `holidays` release has moved that file, the package's own way."""
    package = importlib.util.find_spec("holidays")
    path = Path(package.origin).parent / "countries" / "united_kingdom.py" if package and package.origin else None
    spec = importlib.util.spec_from_file_location("holidays.countries.united_kingdom", path) if path else None
    if path is None or not path.is_file() or spec is None or spec.loader is None:
        import holidays

        return functools.partial(holidays.country_holidays, "GB")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.UnitedKingdom


def london_date(dt: datetime) -> date:
    """The date in London at instant ``dt``. Naive datetimes raise ValueError."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("a naive datetime has no London date: give it an offset")
    return dt.astimezone(LONDON).date()


@dataclass(frozen=True)
class Notice:
    """How much notice a conference invitation gives (CONTRACT §4, conference_invitation)."""

    notice_working_days: int
    short_notice: bool
    report_due: date


def notice(
    issued_at: datetime,
    scheduled_for: datetime,
    calendar: WorkingCalendar,
    required: int = 5,
) -> Notice:
    """The notice a conference invitation issued at ``issued_at`` gives.

    - ``notice_working_days``: working days after the London date of ``issued_at``
      up to and including the London date of ``scheduled_for``.
    - ``short_notice``: the conference's date is before the ``required``-th (5th)
      working day after the issue date.
    - ``report_due``: the last working day strictly before the conference's date.
      Protocol lets agencies write their report within the five days' notice, and a
      written report is wanted in time for the conference to read it, so it is due
      the working day before, not on the day. When the conference is so soon that
      this day is on or before the issue date, the report is still due then: the
      alert says the time has already gone, and the short_notice flag says why.
    """
    issued_on = london_date(issued_at)
    held_on = london_date(scheduled_for)
    return Notice(
        notice_working_days=calendar.working_days_between(issued_on, held_on),
        short_notice=held_on < calendar.working_days_after(issued_on, required),
        report_due=calendar.last_working_day_before(held_on),
    )


def add_months(d: date, n: int = 1) -> date:
    """``d`` moved by ``n`` calendar months, clamped to the month's end (31 Jan + 1 = 28/29 Feb).

    The register's review is due "at most one month" after opening or the last
    review, so clamping down (never spilling into the next month) keeps it within.
    """
    month_index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(month_index, 12)
    month += 1
    last_day = _calendar.monthrange(year, month)[1]
    return date(year, month, min(d.day, last_day))
