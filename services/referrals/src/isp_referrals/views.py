"""Reading referrals: the view a partner sees, and the list for an organisation."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from isp_common.times import as_utc
from isp_common.workingdays import london_date
from sqlalchemy import or_
from sqlmodel import Session, col, select

from . import domain
from .commands.steps import progress_of
from .models import (
    Allocation,
    AppointmentView,
    DueDate,
    HistoryEntry,
    JointVisit,
    ReferralView,
    SupportRequest,
)
from .tables import Appointment, Referral, ReferralDueDate, ReferralHistory


def due_view(row: ReferralDueDate, today: date) -> DueDate:
    status = row.status
    if status == "pending" and domain.overdue(row.due_on, today):
        status = "overdue"  # its day has ended; the timer raises the event on its next tick
    return DueDate(
        due=row.due,
        due_on=row.due_on,
        responsible_org=row.responsible_org,
        status=status,
        met_on=row.met_on,
        overdue_since=row.due_on + timedelta(days=1) if status in ("overdue", "met_late") else None,
        overdue_raised_at=as_utc(row.overdue_raised_at),
    )


def referral_view(session: Session, referral: Referral, now: datetime) -> ReferralView:
    today = london_date(now)
    dues = session.exec(
        select(ReferralDueDate)
        .where(ReferralDueDate.referral_id == referral.id)
        .order_by(col(ReferralDueDate.due_on), col(ReferralDueDate.id))
    ).all()
    due_dates = [due_view(d, today) for d in dues]
    history = session.exec(
        select(ReferralHistory).where(ReferralHistory.referral_id == referral.id).order_by(col(ReferralHistory.id))
    ).all()
    appointments = session.exec(
        select(Appointment).where(Appointment.referral_id == referral.id).order_by(col(Appointment.scheduled_for))
    ).all()
    ahead = [d for d in due_dates if d.status == "pending"]
    return ReferralView(
        id=referral.id,
        direction=referral.direction,
        from_org=referral.from_org,
        to_org=referral.to_org,
        person=referral.person,
        children=referral.children,
        threshold=referral.threshold,
        rag=referral.rag,
        triage_rag=referral.triage_rag,
        consent_id=referral.consent_id,
        summary=referral.summary,
        priority=referral.priority,
        emergency=referral.emergency,
        support_request=SupportRequest(
            parent_agreed=referral.parent_agreed,
            concerns=referral.concerns,
            history=referral.background,
            known_to_treatment=referral.known_to_treatment,
        ),
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
                details=h.details,
                event_id=h.event_id,
            )
            for h in history
        ],
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
    """The organisation's referrals, as sender or receiver (or the one ``role`` says)."""
    if role == "sent":
        stmt = select(Referral).where(Referral.from_org == org)
    elif role == "received":
        stmt = select(Referral).where(Referral.to_org == org)
    else:
        stmt = select(Referral).where(or_(col(Referral.from_org) == org, col(Referral.to_org) == org))
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
