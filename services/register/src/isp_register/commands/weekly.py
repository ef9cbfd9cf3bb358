"""The DSL's weekly review of the whole register (Monday to Sunday) and the worklist it goes
through: overdue reviews, reviews due this week, new entries and new cross-area matches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from sqlalchemy import or_
from sqlmodel import col, select

from .. import domain
from ..publishing import new_id
from ..tables import RegisterCrossAreaMatch, RegisterEntry, RegisterWeeklyReview, RegisterWeeklyReviewMissed


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
        .order_by(col(RegisterWeeklyReview.at).desc())
        .limit(limit)
    )
    return list(uow.session.exec(stmt))


def missed_weeks(uow: UnitOfWork, org: str, limit: int = 12) -> list[RegisterWeeklyReviewMissed]:
    stmt = (
        select(RegisterWeeklyReviewMissed)
        .where(RegisterWeeklyReviewMissed.org == org)
        .order_by(col(RegisterWeeklyReviewMissed.week_starting).desc())
        .limit(limit)
    )
    return list(uow.session.exec(stmt))


def _open_entries(uow: UnitOfWork, org: str) -> list[RegisterEntry]:
    stmt = (
        select(RegisterEntry)
        .where(RegisterEntry.org == org, RegisterEntry.status == "open")
        .order_by(col(RegisterEntry.review_due), col(RegisterEntry.id))
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
            or_(col(RegisterCrossAreaMatch.org) == org, col(RegisterCrossAreaMatch.other_org) == org),
            col(RegisterCrossAreaMatch.matched_at) >= since,
        )
        .order_by(col(RegisterCrossAreaMatch.matched_at).desc())
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
