"""The review timer's job: the reminders that fall due as time passes, each raised once.

Every open entry is reviewed at least monthly (``ReviewDue`` before the date, once;
``ReviewOverdue`` after it, once). A finished week (Monday to Sunday) without a recorded
weekly review, for an organisation that had entries open that week, raises
``WeeklyReviewMissed`` once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas.register import ReviewDue, ReviewOverdue, WeeklyReviewMissed
from sqlalchemy import func, or_
from sqlmodel import col, select

from .. import domain
from ..publishing import about_entry, publish
from ..tables import RegisterEntry, RegisterWeeklyReview, RegisterWeeklyReviewMissed


@dataclass
class Flagged:
    """What one run raised: entry ids reminded due and overdue, (org, week) pairs missed."""

    due: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    weeks_missed: list[tuple[str, str]] = field(default_factory=list)


def flag_reviews(uow: UnitOfWork, now: datetime, reminder_days: int = 7) -> Flagged:
    """Raise the reminders that have fallen due at ``now``; each at most once."""
    flagged = Flagged()
    now = as_utc(now)
    today = london_date(now)
    horizon = today + timedelta(days=reminder_days)
    entries = uow.session.exec(
        select(RegisterEntry).where(RegisterEntry.status == "open", col(RegisterEntry.review_due) <= horizon)
    ).all()
    for entry in entries:
        for reminder in domain.reminders_to_raise(
            entry.review_due, today, reminder_days, entry.due_flagged_for, entry.overdue_flagged_for
        ):
            _remind(uow, entry, reminder, now)
            (flagged.overdue if reminder == "overdue" else flagged.due).append(entry.id)
    _flag_missed_weekly_reviews(uow, now, flagged)
    return flagged


def _remind(uow: UnitOfWork, entry: RegisterEntry, reminder: domain.Reminder, now: datetime) -> None:
    """Publish ReviewDue or ReviewOverdue for the entry's due date, and note it was raised."""
    model = ReviewOverdue if reminder == "overdue" else ReviewDue
    data = model(**about_entry(entry), risk=entry.risk, review_due=entry.review_due)
    publish(uow, data, entry.org, entry.person_key, now)
    if reminder == "overdue":
        entry.overdue_flagged_for = entry.review_due
    else:
        entry.due_flagged_for = entry.review_due
    uow.session.add(entry)


def _flag_missed_weekly_reviews(uow: UnitOfWork, now: datetime, flagged: Flagged) -> None:
    last_week = domain.week_starting(london_date(now)) - timedelta(days=7)
    week_end = last_week + timedelta(days=6)
    orgs = uow.session.exec(
        select(RegisterEntry.org)
        .where(
            col(RegisterEntry.opened_on) <= week_end,
            or_(col(RegisterEntry.closed_on).is_(None), col(RegisterEntry.closed_on) >= last_week),
        )
        .distinct()
    ).all()
    for org in sorted(orgs):
        if uow.session.get(RegisterWeeklyReviewMissed, (org, last_week)) is not None:
            continue
        reviewed = uow.session.exec(
            select(RegisterWeeklyReview.id).where(
                RegisterWeeklyReview.org == org, RegisterWeeklyReview.week_starting == last_week
            )
        ).first()
        if reviewed is not None:
            continue
        last_on = uow.session.exec(
            select(func.max(col(RegisterWeeklyReview.reviewed_on))).where(RegisterWeeklyReview.org == org)
        ).first()
        uow.session.add(RegisterWeeklyReviewMissed(org=org, week_starting=last_week, flagged_at=now))
        missed = WeeklyReviewMissed(org=org, week_starting=last_week, last_reviewed_on=last_on)
        publish(uow, missed, org, org, now)
        flagged.weeks_missed.append((org, last_week.isoformat()))
