"""When reviews fall due: every entry at least monthly, the whole register weekly (Monday to
Sunday), and the dates a review or an opening may carry."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from isp_common.workingdays import add_months

from .errors import InvalidDate

Reminder = Literal["due", "overdue"]


def next_review_due(reviewed_or_opened_on: date) -> date:
    """At most one calendar month on, clamped to the month's end (31 January -> 28/29 February)."""
    return add_months(reviewed_or_opened_on, 1)


def is_overdue(review_due: date, today: date) -> bool:
    """A review done on its due date is on time; the day after, it is overdue."""
    return today > review_due


def week_starting(d: date) -> date:
    """The Monday of ``d``'s week: the DSL's weekly review runs Monday to Sunday."""
    return d - timedelta(days=d.weekday())


def due_this_week(review_due: date, today: date) -> bool:
    """Not yet overdue, and due by the Sunday of this week."""
    return today <= review_due <= week_starting(today) + timedelta(days=6)


def reminders_to_raise(
    review_due: date,
    today: date,
    reminder_days: int,
    due_flagged_for: date | None,
    overdue_flagged_for: date | None,
) -> list[Reminder]:
    """Which review reminders an open entry needs now: each at most once per due date.

    "due" from ``reminder_days`` before the date up to the date itself; "overdue" once the
    date has passed. An entry first seen already overdue gets only "overdue".
    """
    if is_overdue(review_due, today):
        return [] if overdue_flagged_for == review_due else ["overdue"]
    if today >= review_due - timedelta(days=reminder_days) and due_flagged_for != review_due:
        return ["due"]
    return []


def check_opening_date(opened_on: date, today: date) -> None:
    if opened_on > today:
        raise InvalidDate("An entry cannot be opened on a future date.")


def check_review_date(reviewed_on: date, today: date, opened_on: date, last_reviewed_on: date | None) -> None:
    """A review may be recorded for today or an earlier day, but not before the entry was
    opened nor before its last review (the history stays in order)."""
    if reviewed_on > today:
        raise InvalidDate("A review cannot be recorded for a future date.")
    if reviewed_on < opened_on:
        raise InvalidDate("A review cannot be dated before the entry was opened.")
    if last_reviewed_on is not None and reviewed_on < last_reviewed_on:
        raise InvalidDate("A review cannot be dated before the entry's last review.")
