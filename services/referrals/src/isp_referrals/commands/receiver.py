"""The receiving organisation's commands: accept or decline, allocate, the joint visit and the
workbook, activate, monthly summaries, and close. These set and meet the due dates the timer
watches (:mod:`isp_referrals.deadlines`); closing waives those still open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas.referrals import (
    ReferralAccepted,
    ReferralActivated,
    ReferralAllocated,
    ReferralClosed,
    ReferralDeclined,
    ReferralEvent,
    ReferralJointVisitBooked,
    ReferralJointVisitDone,
    ReferralSummaryRecorded,
    ReferralWorkbookOpened,
)

from .. import domain, journal
from ..domain import DueRules
from ..tables import Referral
from .steps import Actor, _step, _when, load, progress_of


def accept(
    uow: UnitOfWork,
    referral_id: str,
    actor: Actor,
    now: datetime,
    *,
    rules: DueRules,
    rag: str | None = None,
    at: datetime | None = None,
) -> Referral:
    """Accept after triage; starts the clock on booking the assessment appointment."""
    referral = load(uow, referral_id, "accept", actor)
    when = _step(uow, referral, "accept", actor, now, at, ReferralAccepted, {"rag": rag}, rag=rag)
    referral.triage_rag = rag
    journal.meet_due(uow, referral.id, "response", london_date(when))
    if domain.assessment_booking_applies(referral.direction):
        accepted_on = london_date(when)
        journal.add_due(uow, referral, "assessment_booking", rules.assessment_booking_due(accepted_on), referral.to_org)
        uow.session.flush()
        booked = [a.booked_at for a in journal.assessment_appointments(uow, referral.id) if a.booked_at is not None]
        if booked:  # the provider booked it before accepting
            journal.meet_due(uow, referral.id, "assessment_booking", london_date(as_utc(booked[0])))
    return referral


def decline(
    uow: UnitOfWork, referral_id: str, actor: Actor, reason: str, now: datetime, at: datetime | None = None
) -> Referral:
    referral = load(uow, referral_id, "decline", actor)
    when = _step(uow, referral, "decline", actor, now, at, ReferralDeclined, {"reason": reason}, reason=reason)
    referral.reason = reason
    journal.meet_due(uow, referral.id, "response", london_date(when))
    return referral


def allocate(
    uow: UnitOfWork,
    referral_id: str,
    actor: Actor,
    practitioner: str,
    now: datetime,
    *,
    rules: DueRules,
    at: datetime | None = None,
) -> Referral:
    """Allocate to a practitioner. On a referral to treatment the joint visit is then due within
    3 working days and the workbook within 2 (practice guidance, "Allocation"): the treatment
    practitioner's duties, so a referral to social care gets neither."""
    referral = load(uow, referral_id, "allocate", actor)
    when = _when(referral, now, at)
    allocated_on = london_date(when)
    visit_due: date | None = None
    workbook_due: date | None = None
    if domain.practitioner_dues_apply(referral.direction):
        visit_due, workbook_due = rules.joint_visit_due(allocated_on), rules.workbook_due(allocated_on)
    _step(
        uow,
        referral,
        "allocate",
        actor,
        now,
        when,
        ReferralAllocated,
        {"practitioner": practitioner},
        practitioner=practitioner,
        joint_visit_due=visit_due,
        workbook_due=workbook_due,
    )
    referral.practitioner = practitioner
    if visit_due is not None and workbook_due is not None:
        journal.add_due(uow, referral, "joint_visit", visit_due, referral.to_org)
        journal.add_due(uow, referral, "workbook", workbook_due, referral.to_org)
    return referral


def book_joint_visit(
    uow: UnitOfWork, referral_id: str, actor: Actor, scheduled_for: datetime, now: datetime
) -> Referral:
    referral = load(uow, referral_id, "book_joint_visit", actor)
    if scheduled_for.tzinfo is None:
        raise domain.InvalidCommand("scheduled_for needs an offset (RFC 3339)")
    _step(
        uow,
        referral,
        "book_joint_visit",
        actor,
        now,
        None,
        ReferralJointVisitBooked,
        {"scheduled_for": scheduled_for.isoformat()},
        scheduled_for=scheduled_for,
    )
    referral.joint_visit_scheduled_for = journal.to_utc(scheduled_for)
    return referral


@dataclass(frozen=True)
class _Milestone:
    """A step done on a day (London) that meets a due date."""

    command: str
    event_type: type[ReferralEvent]
    day_field: str
    """What its event and history line call the day."""
    column: str
    """Where the referral keeps the day."""
    due: str
    """The due date it meets."""


_JOINT_VISIT_DONE = _Milestone(
    "record_joint_visit", ReferralJointVisitDone, "visited_on", "joint_visit_on", "joint_visit"
)
_WORKBOOK_OPENED = _Milestone("open_workbook", ReferralWorkbookOpened, "opened_on", "workbook_opened_on", "workbook")


def _record_milestone(
    uow: UnitOfWork, referral_id: str, actor: Actor, now: datetime, at: datetime | None, milestone: _Milestone
) -> Referral:
    referral = load(uow, referral_id, milestone.command, actor)
    when = _when(referral, now, at)
    day = london_date(when)
    details = {milestone.day_field: day.isoformat()}
    _step(
        uow, referral, milestone.command, actor, now, when, milestone.event_type, details, **{milestone.day_field: day}
    )
    setattr(referral, milestone.column, day)
    journal.meet_due(uow, referral.id, milestone.due, day)
    return referral


def record_joint_visit(
    uow: UnitOfWork, referral_id: str, actor: Actor, now: datetime, at: datetime | None = None
) -> Referral:
    return _record_milestone(uow, referral_id, actor, now, at, _JOINT_VISIT_DONE)


def open_workbook(
    uow: UnitOfWork, referral_id: str, actor: Actor, now: datetime, at: datetime | None = None
) -> Referral:
    return _record_milestone(uow, referral_id, actor, now, at, _WORKBOOK_OPENED)


def activate(
    uow: UnitOfWork,
    referral_id: str,
    actor: Actor,
    now: datetime,
    *,
    rules: DueRules,
    episode_id: str | None = None,
    at: datetime | None = None,
) -> Referral:
    """Active work begins; a monthly summary is due each month from now on."""
    referral = load(uow, referral_id, "activate", actor)
    when = _step(
        uow, referral, "activate", actor, now, at, ReferralActivated, {"episode_id": episode_id}, episode_id=episode_id
    )
    referral.episode_id = episode_id
    referral.activated_on = london_date(when)
    uow.session.flush()
    ensure_next_monthly_due(uow, referral, rules)
    return referral


def record_summary(
    uow: UnitOfWork,
    referral_id: str,
    actor: Actor,
    now: datetime,
    *,
    rules: DueRules,
    period: str | None = None,
    at: datetime | None = None,
) -> Referral:
    """A monthly summary, written before group supervision, meets the earliest open one."""
    referral = load(uow, referral_id, "record_summary", actor)
    domain.transition(progress_of(referral), "record_summary")
    when = _when(referral, now, at)
    period = period or london_date(when).strftime("%Y-%m")
    if referral.last_summary_period is not None and period <= referral.last_summary_period:
        raise domain.InvalidCommand(f"a summary for {referral.last_summary_period} or later is already recorded")
    journal.meet_due(uow, referral.id, "monthly_summary", london_date(when))
    uow.session.flush()
    next_due = ensure_next_monthly_due(uow, referral, rules)
    _step(
        uow,
        referral,
        "record_summary",
        actor,
        now,
        when,
        ReferralSummaryRecorded,
        {"period": period},
        period=period,
        next_due=next_due,
    )
    referral.last_summary_period = period
    return referral


def ensure_next_monthly_due(uow: UnitOfWork, referral: Referral, rules: DueRules) -> date | None:
    """While active, one monthly summary is always open ahead on a referral to treatment (the
    treatment practitioner's summary before group supervision): add the next when none is."""
    if not domain.practitioner_dues_apply(referral.direction):
        return None
    rows = journal.dues_of(uow, referral.id, "monthly_summary")
    pending = [r for r in rows if r.status == "pending"]
    if pending:
        return pending[0].due_on
    if referral.state != "active" or referral.activated_on is None:
        return None
    due_on = rules.monthly_summary_due(referral.activated_on, len(rows) + 1)
    journal.add_due(uow, referral, "monthly_summary", due_on, referral.to_org)
    return due_on


def close(
    uow: UnitOfWork,
    referral_id: str,
    actor: Actor,
    outcome: str,
    now: datetime,
    reason: str | None = None,
    at: datetime | None = None,
) -> Referral:
    referral = load(uow, referral_id, "close", actor)
    _step(
        uow,
        referral,
        "close",
        actor,
        now,
        at,
        ReferralClosed,
        {"outcome": outcome, "reason": reason},
        outcome=outcome,
        reason=reason,
    )
    referral.outcome, referral.outcome_reason = outcome, reason
    journal.waive_open_dues(uow, referral.id, now)
    return referral
