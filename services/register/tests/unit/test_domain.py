"""The register's rules, with explicit dates."""

from __future__ import annotations

from datetime import date

import pytest
from isp_register import domain


@pytest.mark.parametrize(
    ("on", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),  # 31 January -> end of February
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2026, 1, 30), date(2026, 2, 28)),
        (date(2026, 2, 28), date(2026, 3, 28)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 8, 31), date(2026, 9, 30)),
        (date(2026, 12, 31), date(2027, 1, 31)),  # across the year end
        (date(2026, 6, 15), date(2026, 7, 15)),
    ],
)
def test_review_is_due_at_most_one_calendar_month_on(on, due):
    assert domain.next_review_due(on) == due


def test_a_review_on_its_due_date_is_on_time_and_overdue_the_day_after():
    assert not domain.is_overdue(date(2026, 2, 28), date(2026, 2, 28))
    assert domain.is_overdue(date(2026, 2, 28), date(2026, 3, 1))


def test_weeks_run_monday_to_sunday():
    assert domain.week_starting(date(2026, 3, 1)) == date(2026, 2, 23)  # a Sunday
    assert domain.week_starting(date(2026, 2, 23)) == date(2026, 2, 23)


def test_due_this_week_runs_to_sunday_and_excludes_overdue():
    wednesday = date(2026, 2, 25)
    assert domain.due_this_week(date(2026, 3, 1), wednesday)
    assert domain.due_this_week(wednesday, wednesday)
    assert not domain.due_this_week(date(2026, 3, 2), wednesday)
    assert not domain.due_this_week(date(2026, 2, 24), wednesday)


@pytest.mark.parametrize(
    ("today", "due_flag", "overdue_flag", "expected"),
    [
        (date(2026, 2, 20), None, None, []),  # 8 days before
        (date(2026, 2, 21), None, None, ["due"]),  # 7 days before
        (date(2026, 2, 28), None, None, ["due"]),  # on the day
        (date(2026, 2, 28), date(2026, 2, 28), None, []),  # already reminded
        (date(2026, 3, 1), date(2026, 2, 28), None, ["overdue"]),
        (date(2026, 3, 9), date(2026, 2, 28), date(2026, 2, 28), []),  # already flagged overdue
        (date(2026, 3, 9), None, None, ["overdue"]),  # first seen overdue: only that
        (date(2026, 2, 25), date(2026, 1, 31), date(2026, 1, 31), ["due"]),  # flags of an earlier date
    ],
)
def test_reminders_are_raised_once_per_due_date(today, due_flag, overdue_flag, expected):
    assert domain.reminders_to_raise(date(2026, 2, 28), today, 7, due_flag, overdue_flag) == expected


@pytest.mark.parametrize(
    ("reviewed_on", "message"),
    [
        (date(2026, 3, 2), "future"),
        (date(2026, 1, 30), "opened"),
        (date(2026, 2, 9), "last review"),
    ],
)
def test_a_review_date_is_not_in_the_future_nor_before_opening_or_the_last_review(reviewed_on, message):
    with pytest.raises(domain.InvalidDate, match=message):
        domain.check_review_date(reviewed_on, date(2026, 3, 1), date(2026, 1, 31), date(2026, 2, 10))
