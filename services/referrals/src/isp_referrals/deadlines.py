"""What the timer checks: missed due dates (the receiver's response deadline among them),
appointments left without an outcome, and assessments still unrecorded a day after.

Each function takes ``now`` so tests pass explicit times, and each is idempotent: a missed due
date is raised once (``overdue_raised_at``), an appointment is prompted once
(``outcome_prompted_at``) and reported unrecorded once (``unrecorded_raised_at``), each marked in
the same transaction as the event it queues.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from isp_common import directory, metrics
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import LONDON, WorkingCalendar, london_date
from isp_schemas.referrals import (
    ReferralAppointmentOutcomeMissing,
    ReferralAttendanceUnrecorded,
    ReferralEvent,
    ReferralOverdue,
)
from sqlalchemy import and_, or_
from sqlmodel import col, select

from . import domain, journal
from .commands.receiver import ensure_next_monthly_due
from .domain import DueRules
from .tables import Appointment, Referral, ReferralDueDate

BATCH = 500
UNRECORDED_AFTER = timedelta(hours=24)
"""Social care is told of a DNA within 24 hours (protocol 004); a missing record is told then too."""


def raise_overdue(uow: UnitOfWork, now: datetime, rules: DueRules | None = None) -> int:
    """Publish ReferralOverdue once for each due date missed: a day's due date once its day has
    ended, a response deadline once its instant has passed, unmet.

    A missed response deadline names the receiver's out-of-hours organisation (``escalate_to``,
    from the directory) when it falls outside working hours. A missed monthly summary opens the
    next month's at once: one is due every month while the referral is active, whether or not
    the last was written. Returns how many were raised.
    """
    rules = rules or DueRules(WorkingCalendar())
    today = london_date(now)
    stmt = (
        select(ReferralDueDate)
        .where(
            or_(
                and_(col(ReferralDueDate.due_at).is_(None), col(ReferralDueDate.due_on) < today),
                col(ReferralDueDate.due_at) < journal.to_utc(now),
            ),
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
        escalate_to = _escalation(uow, due, rules)
        data = ReferralOverdue(
            **journal.fact(referral, now, None),
            due=due.due,
            due_on=due.due_on,
            responsible_org=due.responsible_org,
            emergency=referral.emergency,
            escalate_to=escalate_to,
        )
        details: dict[str, Any] = {"due": due.due, "due_on": due.due_on.isoformat()}
        if due.due_at is not None:
            details.update(due_at=as_utc(due.due_at).isoformat(), escalate_to=escalate_to)
        _publish_timer_step(uow, referral, data, "overdue", due.responsible_org, now, details)
        if due.due == "monthly_summary":
            uow.session.flush()
            ensure_next_monthly_due(uow, referral, rules)
        metrics.count_on_commit(uow, "isp_deadlines_missed", type=f"referral_{due.due}")
        raised += 1
    return raised


def _escalation(uow: UnitOfWork, due: ReferralDueDate, rules: DueRules) -> str | None:
    """Who else is told of a missed response deadline: the responsible organisation's out-of-hours
    team (directory) when the deadline fell outside working hours; None otherwise."""
    due_at = as_utc(due.due_at)
    if due.due != "response" or due_at is None or rules.in_working_hours(due_at):
        return None
    entry = directory.organisation(uow.session, due.responsible_org)
    return entry.out_of_hours if entry is not None else None


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


def raise_attendance_unrecorded(uow: UnitOfWork, now: datetime) -> int:
    """Publish ReferralAttendanceUnrecorded once for each assessment appointment of a referral
    from social care still without an outcome 24 hours after it was scheduled: the referring
    social-care organisation must hear of a possible DNA even when the provider never records it.
    Returns how many were raised."""
    stmt = (
        select(Appointment)
        .join(Referral, col(Referral.id) == col(Appointment.referral_id))
        .where(
            Referral.direction == domain.PRIORITY_DIRECTION,
            Appointment.kind == "assessment",
            Appointment.status == "booked",
            col(Appointment.unrecorded_raised_at).is_(None),
            col(Appointment.scheduled_for) <= journal.to_utc(now) - UNRECORDED_AFTER,
        )
        .order_by(col(Appointment.scheduled_for))
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=Appointment)
    )
    raised = 0
    for appointment in uow.session.exec(stmt).all():
        referral = uow.session.get(Referral, appointment.referral_id)
        if referral is None:  # pragma: no cover - the join found it
            continue
        appointment.unrecorded_raised_at = journal.to_utc(now)
        uow.session.add(appointment)
        data = ReferralAttendanceUnrecorded(
            **journal.fact(referral, now, None),
            appointment_id=appointment.id,
            scheduled_for=as_utc(appointment.scheduled_for),
            provider_org=appointment.provider_org,
            children=referral.children,
        )
        details = {"appointment_id": appointment.id}
        _publish_timer_step(uow, referral, data, "attendance_unrecorded", appointment.provider_org, now, details)
        metrics.count_on_commit(uow, "isp_deadlines_missed", type="attendance_unrecorded")
        raised += 1
    return raised


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
