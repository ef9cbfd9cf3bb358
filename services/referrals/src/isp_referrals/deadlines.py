"""What the timer checks: missed due dates, and appointments left without an outcome.

Both functions take ``now`` so tests pass explicit times, and both are idempotent: a missed
due date is raised once (``overdue_raised_at``), an appointment is prompted once
(``outcome_prompted_at``), each marked in the same transaction as the event it queues.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import LONDON, WorkingCalendar, london_date
from isp_schemas.referrals import ReferralAppointmentOutcomeMissing, ReferralEvent, ReferralOverdue
from sqlmodel import col, select

from . import journal
from .commands.receiver import ensure_next_monthly_due
from .domain import DueRules
from .tables import Appointment, Referral, ReferralDueDate

BATCH = 500


def raise_overdue(uow: UnitOfWork, now: datetime, rules: DueRules | None = None) -> int:
    """Publish ReferralOverdue once for each due date whose day has ended unmet.

    A missed monthly summary opens the next month's at once: one is due every month while
    the referral is active, whether or not the last was written. Returns how many were raised.
    """
    rules = rules or DueRules(WorkingCalendar())
    today = london_date(now)
    stmt = (
        select(ReferralDueDate)
        .where(
            ReferralDueDate.due_on < today,
            col(ReferralDueDate.met_on).is_(None),
            col(ReferralDueDate.waived_at).is_(None),
            col(ReferralDueDate.overdue_raised_at).is_(None),
        )
        .order_by(col(ReferralDueDate.due_on), col(ReferralDueDate.id))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    raised = 0
    for due in uow.session.exec(stmt).all():
        referral = uow.session.get(Referral, due.referral_id)
        if referral is None:  # pragma: no cover - dues are only made with their referral
            continue
        due.overdue_raised_at = journal.to_utc(now)
        uow.session.add(due)
        data = ReferralOverdue(
            **journal.fact(referral, now, None),
            due=due.due,
            due_on=due.due_on,
            responsible_org=due.responsible_org,
        )
        details = {"due": due.due, "due_on": due.due_on.isoformat()}
        _publish_timer_step(uow, referral, data, "overdue", due.responsible_org, now, details)
        if due.due == "monthly_summary":
            uow.session.flush()
            ensure_next_monthly_due(uow, referral, rules)
        raised += 1
    return raised


def prompt_missing_outcomes(uow: UnitOfWork, now: datetime) -> int:
    """Prompt the provider once for each referral appointment whose London day has ended
    with neither attended nor missed recorded: a missing DNA record would silently break the
    24-hour rule. Returns how many were prompted."""
    start_of_today = datetime.combine(london_date(now), time(0), tzinfo=LONDON).astimezone(UTC)
    stmt = (
        select(Appointment)
        .where(
            Appointment.status == "booked",
            col(Appointment.outcome_prompted_at).is_(None),
            col(Appointment.referral_id).is_not(None),
            Appointment.scheduled_for < start_of_today,
        )
        .order_by(col(Appointment.scheduled_for))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    prompted = 0
    for appointment in uow.session.exec(stmt).all():
        referral = uow.session.get(Referral, appointment.referral_id)
        if referral is None:
            continue  # not (yet) a referral this service knows: nothing to say it answers
        appointment.outcome_prompted_at = journal.to_utc(now)
        uow.session.add(appointment)
        scheduled_for = as_utc(appointment.scheduled_for)
        data = ReferralAppointmentOutcomeMissing(
            **journal.fact(referral, now, None),
            appointment_id=appointment.id,
            provider_org=appointment.provider_org,
            scheduled_for=scheduled_for,
        )
        details = {"appointment_id": appointment.id}
        _publish_timer_step(uow, referral, data, "appointment_outcome_missing", appointment.provider_org, now, details)
        prompted += 1
    return prompted


def _publish_timer_step(
    uow: UnitOfWork,
    referral: Referral,
    data: ReferralEvent,
    action: str,
    org: str,
    now: datetime,
    details: dict[str, Any],
) -> None:
    """Publish a fact the timer found about ``referral`` (no one acted, its state stays)."""
    journal.publish_step(
        uow, referral, data, action, org=org, at=now, by=None, from_state=referral.state, details=details
    )
