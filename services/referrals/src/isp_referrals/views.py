"""Reading referrals: the view each party sees, and the list for an organisation.

The referring organisation sees its referral in full; the receiving organisation sees only what
a disclosure decision shared with it (:mod:`isp_referrals.domain.sharing`), and each of its reads
is audited (:func:`isp_referrals.shares.audit_read`) in the caller's unit of work.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from . import domain, shares
from .commands.steps import progress_of
from .domain import ReceiverScope
from .models import (
    Allocation,
    AppointmentView,
    Disclosure,
    DueDate,
    HistoryEntry,
    JointVisit,
    ReferralView,
    SupportRequest,
)
from .tables import Appointment, Referral, ReferralDueDate, ReferralHistory, ReferralShare


def due_view(row: ReferralDueDate, now: datetime) -> DueDate:
    status = row.status
    due_at = as_utc(row.due_at)
    missed = now > due_at if due_at is not None else domain.overdue(row.due_on, london_date(now))
    if status == "pending" and missed:
        status = "overdue"  # its time has passed; the timer raises the event on its next tick
    overdue_since = (london_date(due_at) if due_at is not None else row.due_on + timedelta(days=1)) if missed else None
    return DueDate(
        due=row.due,
        due_on=row.due_on,
        due_at=due_at,
        responsible_org=row.responsible_org,
        status=status,
        met_on=row.met_on,
        overdue_since=overdue_since if status in ("overdue", "met_late") else None,
        overdue_raised_at=as_utc(row.overdue_raised_at),
    )


def read_referral(uow: UnitOfWork, referral: Referral, org: str, now: datetime) -> ReferralView:
    """``referral`` as organisation ``org`` may see it: in full for the sender, as shared for the
    receiver (the read audited in ``uow``; the caller commits). Raises ReferralNotFound for a
    receiver with no share (as for an unknown id: its existence is not revealed) and
    NotYourReferral for any other organisation."""
    if org == referral.from_org:
        return referral_view(uow.session, referral, now)
    if org != referral.to_org:
        raise domain.NotYourReferral("This is not your organisation's referral.")
    scope = shares.receiver_scope_of(uow.session, referral)
    if scope is None:
        raise domain.ReferralNotFound(referral.id)
    view = referral_view(uow.session, referral, now, scope=scope, viewer=org)
    others = any(a.provider_org != org for a in view.appointments)
    children = referral.children if scope.risk else []
    shares.audit_read(uow, referral, scope.shown(other_appointments=others), children, now)
    return view


def referral_view(
    session: Session,
    referral: Referral,
    now: datetime,
    *,
    scope: ReceiverScope | None = None,
    viewer: str | None = None,
) -> ReferralView:
    """The referral in full, or (``scope``) only what was shared with ``viewer``, its receiver."""
    dues = session.exec(
        select(ReferralDueDate)
        .where(ReferralDueDate.referral_id == referral.id)
        .order_by(col(ReferralDueDate.due_on), col(ReferralDueDate.id))
    ).all()
    due_dates = [due_view(d, now) for d in dues if scope is None or d.responsible_org == viewer]
    history = session.exec(
        select(ReferralHistory).where(ReferralHistory.referral_id == referral.id).order_by(col(ReferralHistory.id))
    ).all()
    appointments = session.exec(
        select(Appointment).where(Appointment.referral_id == referral.id).order_by(col(Appointment.scheduled_for))
    ).all()
    if scope is not None and viewer is not None:
        history = [h for h in history if scope.shows_entry(h.action, h.org, viewer)]
        appointments = [a for a in appointments if scope.shows_appointment(a.provider_org, viewer)]
    full = scope is None
    risk = scope is None or scope.risk
    ahead = [d for d in due_dates if d.status == "pending"]
    return ReferralView(
        id=referral.id,
        direction=referral.direction,
        from_org=referral.from_org,
        to_org=referral.to_org,
        person=referral.person,
        children=referral.children if risk else None,
        threshold=referral.threshold,
        rag=referral.rag if risk else None,
        triage_rag=referral.triage_rag,
        consent_id=referral.consent_id if full else None,
        summary=referral.summary,
        priority=referral.priority,
        emergency=referral.emergency,
        support_request=_support_request(referral) if full else None,
        allocation=Allocation(
            cycle="immediate" if referral.emergency else "weekly",
            meeting_on=referral.allocation_meeting_on,
            practitioner=referral.practitioner,
        ),
        state=referral.state,
        allowed_actions=domain.allowed_commands(progress_of(referral)),
        joint_visit=JointVisit(
            scheduled_for=as_utc(referral.joint_visit_scheduled_for), done_on=referral.joint_visit_on
        ),
        workbook_opened_on=referral.workbook_opened_on,
        activated_on=referral.activated_on,
        episode_id=referral.episode_id,
        last_summary_period=referral.last_summary_period,
        reason=referral.reason,
        outcome=referral.outcome,
        outcome_reason=referral.outcome_reason,
        channel=referral.channel,
        requested_event_id=referral.source_event_id,
        disclosure=_disclosure(shares.share_of(session, referral)),
        requested_at=as_utc(referral.requested_at),
        state_since=as_utc(referral.last_changed_at),
        due_dates=due_dates,
        next_due=min(ahead, key=lambda d: d.due_on, default=None),
        overdue=[d for d in due_dates if d.status == "overdue"],
        appointments=[
            AppointmentView(
                appointment_id=a.id,
                provider_org=a.provider_org,
                kind=a.kind,
                scheduled_for=as_utc(a.scheduled_for),
                status=a.status,
                recorded_at=as_utc(a.recorded_at),
                outcome_prompted_at=as_utc(a.outcome_prompted_at),
            )
            for a in appointments
        ],
        history=[
            HistoryEntry(
                action=h.action,
                from_state=h.from_state,
                to_state=h.to_state,
                at=as_utc(h.at),
                recorded_at=as_utc(h.recorded_at),
                by=h.by,
                org=h.org,
                details=h.details if scope is None else scope.entry_details(h.action, h.details),
                event_id=h.event_id,
            )
            for h in history
        ],
    )


def _support_request(referral: Referral) -> SupportRequest:
    return SupportRequest(
        parent_agreed=referral.parent_agreed,
        concerns=referral.concerns,
        history=referral.background,
        known_to_treatment=referral.known_to_treatment,
    )


def _disclosure(share: ReferralShare | None) -> Disclosure | None:
    if share is None:
        return None
    return Disclosure.model_validate(
        {
            "decision": share.decision,
            "data_categories": share.data_categories if share.decision == "shared" else [],
            "lawful_basis": share.lawful_basis,
            "decided_at": as_utc(share.decided_at),
        }
    )


def referrals_of(
    session: Session,
    org: str,
    *,
    state: str | None = None,
    due_before: date | None = None,
    role: str | None = None,
    limit: int = 100,
) -> list[Referral]:
    """The organisation's referrals, as sender or receiver (or the one ``role`` says). A received
    referral is listed only once a decision has shared it with ``org``."""
    shared = select(ReferralShare.source_event_id).where(
        ReferralShare.recipient == org, ReferralShare.decision == "shared"
    )
    sent = col(Referral.from_org) == org
    received = and_(col(Referral.to_org) == org, col(Referral.source_event_id).in_(shared))
    stmt = select(Referral).where({"sent": sent, "received": received}.get(role or "", or_(sent, received)))
    if state is not None:
        stmt = stmt.where(Referral.state == state)
    if due_before is not None:
        open_due = select(ReferralDueDate.referral_id).where(
            ReferralDueDate.due_on < due_before,
            col(ReferralDueDate.met_on).is_(None),
            col(ReferralDueDate.waived_at).is_(None),
        )
        stmt = stmt.where(col(Referral.id).in_(open_due))
    return list(session.exec(stmt.order_by(col(Referral.requested_at).desc(), col(Referral.id)).limit(limit)))
