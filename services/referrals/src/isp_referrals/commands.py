"""The referral's transitions, one function per command. Each loads the referral, checks that
the caller's organisation is the party that may act, asks the state machine, records the
history and due dates and queues the event, all in the caller's unit of work.

``at`` is when the step happened (defaults to ``now``); practitioners often record a visit or
an allocation after the fact, so it may be earlier than ``now``, but never in the future and
never before the referral entered its current state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.workingdays import london_date
from isp_schemas.referrals import (
    ReferralAccepted,
    ReferralActivated,
    ReferralAllocated,
    ReferralAmended,
    ReferralCancelled,
    ReferralClosed,
    ReferralDeclined,
    ReferralEvent,
    ReferralJointVisitBooked,
    ReferralJointVisitDone,
    ReferralRequested,
    ReferralSummaryRecorded,
    ReferralWorkbookOpened,
)
from pydantic import ValidationError

from . import domain, journal
from .domain import DueRules, Progress
from .handlers import assessment_appointments, request_fields
from .tables import Referral, as_utc

CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Actor:
    """Who acts: the user (token ``sub``) and their organisation."""

    sub: str | None
    org: str


def progress_of(referral: Referral) -> Progress:
    return Progress(
        state=referral.state,
        joint_visit_booked=referral.joint_visit_scheduled_for is not None,
        joint_visit_done=referral.joint_visit_on is not None,
        workbook_opened=referral.workbook_opened_on is not None,
    )


def load(uow: UnitOfWork, referral_id: str, command: str, actor: Actor) -> Referral:
    """The referral, if the actor's organisation is the party that may make ``command``."""
    referral = uow.session.get(Referral, referral_id)
    if referral is None:
        raise domain.ReferralNotFound(referral_id)
    party = domain.party_of(command)
    if actor.org != (referral.from_org if party == "sender" else referral.to_org):
        who = "referring" if party == "sender" else "receiving"
        raise domain.NotYourReferral(f"only the {who} organisation may {command.replace('_', ' ')} this referral")
    return referral


def _step(
    uow: UnitOfWork,
    referral: Referral,
    command: str,
    actor: Actor,
    now: datetime,
    at: datetime | None,
    event_type: type[ReferralEvent],
    details: dict[str, Any],
    **event_fields: Any,
) -> datetime:
    """Move the referral, then record and publish the step. Returns when it happened."""
    new_state = domain.transition(progress_of(referral), command)
    when = _when(referral, now, at)
    from_state = referral.state
    referral.state = new_state
    if new_state != from_state:
        referral.last_changed_at = journal.to_utc(when)
    referral.updated_at = journal.to_utc(now)
    uow.session.add(referral)
    data = event_type(**journal.fact(referral, when, actor.sub), **event_fields)
    event = journal.publish(uow, referral, data, actor.org, when)
    journal.record(
        uow,
        referral,
        command,
        at=when,
        by=actor.sub,
        org=actor.org,
        from_state=from_state,
        details=details,
        event_id=event.id,
    )
    return when


def _when(referral: Referral, now: datetime, at: datetime | None) -> datetime:
    if at is None:
        return now
    if at.tzinfo is None:
        raise domain.InvalidCommand("at needs an offset (RFC 3339)")
    if at > now + CLOCK_SKEW:
        raise domain.InvalidCommand("at is in the future")
    since = as_utc(referral.last_changed_at)
    if since is not None and at < since:
        raise domain.InvalidCommand(f"at is before the referral became {referral.state} ({since.isoformat()})")
    return at


# --- the sender's commands ------------------------------------------------------------------


def amend(
    uow: UnitOfWork, referral_id: str, actor: Actor, changes: dict[str, Any], now: datetime, *, rules: DueRules
) -> Referral:
    """The sender changes the referral while it is still requested; the result must still be
    a valid referral (the same validation as a new one)."""
    referral = load(uow, referral_id, "amend", actor)
    domain.transition(progress_of(referral), "amend")
    current = ReferralRequested.model_validate(request_fields(referral)).model_dump(mode="json")
    proposed = {**current, **{k: v for k, v in changes.items() if k in domain.AMENDABLE_FIELDS}}
    try:
        amended = ReferralRequested.model_validate(proposed)
    except ValidationError as exc:
        raise domain.InvalidCommand("; ".join(e["msg"] for e in exc.errors())) from None
    after = amended.model_dump(mode="json")
    changed = [k for k in domain.AMENDABLE_FIELDS if after[k] != current[k]]
    if not changed:
        raise domain.InvalidCommand("nothing to change")
    _apply_request_fields(referral, amended, rules)
    named = {k: getattr(amended, k) for k in changed if k in ReferralAmended.model_fields}
    other = {k: after[k] for k in changed if k not in ReferralAmended.model_fields}
    _step(
        uow,
        referral,
        "amend",
        actor,
        now,
        None,
        ReferralAmended,
        {"changed": changed},
        changed=changed,
        changes=other,
        **named,
    )
    return referral


def cancel(uow: UnitOfWork, referral_id: str, actor: Actor, reason: str | None, now: datetime) -> Referral:
    referral = load(uow, referral_id, "cancel", actor)
    _step(uow, referral, "cancel", actor, now, None, ReferralCancelled, {"reason": reason}, reason=reason)
    referral.reason = reason
    return referral


def _apply_request_fields(referral: Referral, data: ReferralRequested, rules: DueRules) -> None:
    referral.children = [c.model_dump(mode="json", exclude_none=True) for c in data.children]
    referral.threshold = data.threshold
    referral.rag = data.rag
    referral.consent_id = data.consent_id
    referral.summary = data.summary
    referral.parent_agreed = data.parent_agreed
    referral.concerns = list(data.concerns)
    referral.background = data.history
    referral.known_to_treatment = data.known_to_treatment
    referral.emergency = domain.is_emergency(data.threshold)
    if referral.emergency:
        referral.allocation_meeting_on = None
    elif referral.allocation_meeting_on is None:
        referral.allocation_meeting_on = rules.allocation_meeting_on(london_date(as_utc(referral.requested_at)))


# --- the receiver's commands ------------------------------------------------------------


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
    if domain.assessment_booking_applies(referral.direction):
        accepted_on = london_date(when)
        journal.add_due(uow, referral, "assessment_booking", rules.assessment_booking_due(accepted_on), referral.to_org)
        uow.session.flush()
        booked = [a for a in assessment_appointments(uow, referral.id) if a.booked_at is not None]
        if booked:  # the provider booked it before accepting
            journal.meet_due(uow, referral.id, "assessment_booking", london_date(as_utc(booked[0].booked_at)))
    return referral


def decline(
    uow: UnitOfWork, referral_id: str, actor: Actor, reason: str, now: datetime, at: datetime | None = None
) -> Referral:
    referral = load(uow, referral_id, "decline", actor)
    _step(uow, referral, "decline", actor, now, at, ReferralDeclined, {"reason": reason}, reason=reason)
    referral.reason = reason
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
    """Allocate to a practitioner: the joint visit is due within 3 working days and the
    workbook within 2 (practice guidance, "Allocation")."""
    referral = load(uow, referral_id, "allocate", actor)
    when = _when(referral, now, at)
    allocated_on = london_date(when)
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


def record_joint_visit(
    uow: UnitOfWork, referral_id: str, actor: Actor, now: datetime, at: datetime | None = None
) -> Referral:
    referral = load(uow, referral_id, "record_joint_visit", actor)
    when = _when(referral, now, at)
    visited_on = london_date(when)
    _step(
        uow,
        referral,
        "record_joint_visit",
        actor,
        now,
        when,
        ReferralJointVisitDone,
        {"visited_on": visited_on.isoformat()},
        visited_on=visited_on,
    )
    referral.joint_visit_on = visited_on
    journal.meet_due(uow, referral.id, "joint_visit", visited_on)
    return referral


def open_workbook(
    uow: UnitOfWork, referral_id: str, actor: Actor, now: datetime, at: datetime | None = None
) -> Referral:
    referral = load(uow, referral_id, "open_workbook", actor)
    when = _when(referral, now, at)
    opened_on = london_date(when)
    _step(
        uow,
        referral,
        "open_workbook",
        actor,
        now,
        when,
        ReferralWorkbookOpened,
        {"opened_on": opened_on.isoformat()},
        opened_on=opened_on,
    )
    referral.workbook_opened_on = opened_on
    journal.meet_due(uow, referral.id, "workbook", opened_on)
    return referral


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


def ensure_next_monthly_due(uow: UnitOfWork, referral: Referral, rules: DueRules):
    """While active, one monthly summary is always open ahead: add the next when none is."""
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
