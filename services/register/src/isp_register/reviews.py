"""Reviews over time: the reminders a timer raises, and the DSL's weekly review and worklist.

Every open entry is reviewed at least monthly (``ReviewDue`` before the date, once;
``ReviewOverdue`` after it, once). The DSL reviews the whole register weekly (Monday to
Sunday); a finished week without a recorded weekly review, for an organisation that had
entries open that week, raises ``WeeklyReviewMissed`` once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas.register import ReviewDue, ReviewOverdue, WeeklyReviewMissed
from sqlalchemy import func, or_
from sqlmodel import select

from . import domain
from .handlers import new_id, publish
from .tables import RegisterCrossAreaMatch, RegisterEntry, RegisterWeeklyReview, RegisterWeeklyReviewMissed


@dataclass
class Flagged:
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
        select(RegisterEntry).where(RegisterEntry.status == "open", RegisterEntry.review_due <= horizon)
    ).all()
    for entry in entries:
        for reminder in domain.reminders_to_raise(
            entry.review_due, today, reminder_days, entry.due_flagged_for, entry.overdue_flagged_for
        ):
            model = ReviewOverdue if reminder == "overdue" else ReviewDue
            data = model(
                entry_id=entry.id,
                org=entry.org,
                person_key=entry.person_key,
                category=entry.category,
                risk=entry.risk,
                review_due=entry.review_due,
            )
            publish(uow, data, entry.org, entry.person_key, now)
            if reminder == "overdue":
                entry.overdue_flagged_for = entry.review_due
                flagged.overdue.append(entry.id)
            else:
                entry.due_flagged_for = entry.review_due
                flagged.due.append(entry.id)
            uow.session.add(entry)
    _flag_missed_weekly_reviews(uow, now, flagged)
    return flagged


def _flag_missed_weekly_reviews(uow: UnitOfWork, now: datetime, flagged: Flagged) -> None:
    last_week = domain.week_starting(london_date(now)) - timedelta(days=7)
    week_end = last_week + timedelta(days=6)
    orgs = uow.session.exec(
        select(RegisterEntry.org)
        .where(
            RegisterEntry.opened_on <= week_end,
            or_(RegisterEntry.closed_on.is_(None), RegisterEntry.closed_on >= last_week),  # type: ignore[union-attr]
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
            select(func.max(RegisterWeeklyReview.reviewed_on)).where(RegisterWeeklyReview.org == org)
        ).first()
        uow.session.add(RegisterWeeklyReviewMissed(org=org, week_starting=last_week, flagged_at=now))
        missed = WeeklyReviewMissed(org=org, week_starting=last_week, last_reviewed_on=last_on)
        publish(uow, missed, org, org, now)
        flagged.weeks_missed.append((org, last_week.isoformat()))


def record_weekly_review(uow: UnitOfWork, *, org: str, by: str, notes: str, now: datetime) -> RegisterWeeklyReview:
    """The DSL's weekly review of the whole register, with what stood open and overdue."""
    now = as_utc(now)
    today = london_date(now)
    open_entries = _open_entries(uow, org)
    review = RegisterWeeklyReview(
        id=new_id("wr"),
        org=org,
        reviewed_on=today,
        week_starting=domain.week_starting(today),
        at=now,
        by=by,
        notes=notes,
        open_entries=len(open_entries),
        overdue_entries=sum(domain.is_overdue(e.review_due, today) for e in open_entries),
    )
    uow.session.add(review)
    return review


def weekly_reviews(uow: UnitOfWork, org: str, limit: int = 52) -> list[RegisterWeeklyReview]:
    stmt = (
        select(RegisterWeeklyReview)
        .where(RegisterWeeklyReview.org == org)
        .order_by(RegisterWeeklyReview.at.desc())  # type: ignore[attr-defined]
        .limit(limit)
    )
    return list(uow.session.exec(stmt))


def missed_weeks(uow: UnitOfWork, org: str, limit: int = 12) -> list[RegisterWeeklyReviewMissed]:
    stmt = (
        select(RegisterWeeklyReviewMissed)
        .where(RegisterWeeklyReviewMissed.org == org)
        .order_by(RegisterWeeklyReviewMissed.week_starting.desc())  # type: ignore[attr-defined]
        .limit(limit)
    )
    return list(uow.session.exec(stmt))


def _open_entries(uow: UnitOfWork, org: str) -> list[RegisterEntry]:
    stmt = (
        select(RegisterEntry)
        .where(RegisterEntry.org == org, RegisterEntry.status == "open")
        .order_by(RegisterEntry.review_due, RegisterEntry.id)
    )
    return list(uow.session.exec(stmt))


@dataclass
class Worklist:
    """What the DSL's weekly review goes through, for one organisation."""

    org: str
    today: date
    since: datetime
    overdue: list[RegisterEntry]
    due_this_week: list[RegisterEntry]
    opened_since: list[RegisterEntry]
    matches: list[RegisterCrossAreaMatch]
    last_weekly_review: RegisterWeeklyReview | None
    reviewed_this_week: bool
    missed_weeks: list[RegisterWeeklyReviewMissed]


def worklist(uow: UnitOfWork, org: str, now: datetime) -> Worklist:
    """Overdue, due this week, opened since last week (or since the last weekly review, if
    that is earlier) and cross-area matches found in the same span."""
    now = as_utc(now)
    today = london_date(now)
    reviews = weekly_reviews(uow, org, limit=1)
    last = reviews[0] if reviews else None
    since = now - timedelta(days=7)
    if last is not None and as_utc(last.at) < since:
        since = as_utc(last.at)
    open_entries = _open_entries(uow, org)
    matches = uow.session.exec(
        select(RegisterCrossAreaMatch)
        .where(
            or_(RegisterCrossAreaMatch.org == org, RegisterCrossAreaMatch.other_org == org),
            RegisterCrossAreaMatch.matched_at >= since,
        )
        .order_by(RegisterCrossAreaMatch.matched_at.desc())  # type: ignore[attr-defined]
    ).all()
    return Worklist(
        org=org,
        today=today,
        since=since,
        overdue=[e for e in open_entries if domain.is_overdue(e.review_due, today)],
        due_this_week=[e for e in open_entries if domain.due_this_week(e.review_due, today)],
        opened_since=[e for e in open_entries if as_utc(e.opened_at) >= since],
        matches=list(matches),
        last_weekly_review=last,
        reviewed_this_week=last is not None and last.week_starting == domain.week_starting(today),
        missed_weeks=missed_weeks(uow, org),
    )
