"""Recording what happens to a referral: the history row, the due dates and the event on
``isp.referrals.v1``, all in the caller's unit of work (never a dual write); and the reads
the steps need."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.times import utcnow
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from isp_schemas.referrals import ReferralEvent
from sqlmodel import col, select

from .tables import Appointment, Referral, ReferralDueDate, ReferralHistory


def to_utc(dt: datetime) -> datetime:
    """Aware datetimes are stored in UTC (SQLite keeps no offset)."""
    if dt.tzinfo is None:
        raise ValueError("a naive datetime cannot be stored: give it an offset")
    return dt.astimezone(UTC)


def fact(referral: Referral, at: datetime, by: str | None) -> dict[str, Any]:
    """What every later-life event repeats about its referral."""
    return {
        "referral_id": referral.id,
        "direction": referral.direction,
        "from_org": referral.from_org,
        "to_org": referral.to_org,
        "person": Person.model_validate(referral.person),
        "at": at,
        "by": by,
    }


def publish(uow: UnitOfWork, referral: Referral, data: ReferralEvent, source_org: str, at: datetime) -> CloudEvent:
    """Queue ``data`` on isp.referrals.v1 through the outbox, keyed by the person's NHS number."""
    event = CloudEvent.create(
        type=data.event_type, source_org=source_org, data=data, subject=referral.nhs_number, time=at
    )
    uow.publish(event, topics.REFERRALS)
    return event


def record(
    uow: UnitOfWork,
    referral: Referral,
    action: str,
    *,
    at: datetime,
    by: str | None,
    org: str,
    from_state: str | None,
    details: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> None:
    """Add a line to the referral's history: who did what, when.

    The line is a plain row, held until the transaction commits or reads the history and then
    written with the others in one INSERT (:meth:`isp_common.db.UowSession.insert_later`): building
    a ReferralHistory and flushing it on its own cost several times as much, and nothing reads a
    line back as an object."""
    uow.session.insert_later(
        ReferralHistory,
        {
            "referral_id": referral.id,
            "action": action,
            "from_state": from_state,
            "to_state": referral.state,
            "at": to_utc(at),
            "recorded_at": utcnow(),
            "by": by,
            "org": org,
            "details": details or {},
            "event_id": event_id,
        },
    )


def publish_step(
    uow: UnitOfWork,
    referral: Referral,
    data: ReferralEvent,
    action: str,
    *,
    org: str,
    at: datetime,
    by: str | None,
    from_state: str | None,
    details: dict[str, Any],
) -> CloudEvent:
    """Publish ``data`` from ``org`` (:func:`publish`) and :func:`record` the step that published
    it, naming the event."""
    event = publish(uow, referral, data, org, at)
    record(uow, referral, action, at=at, by=by, org=org, from_state=from_state, details=details, event_id=event.id)
    return event


def add_due(
    uow: UnitOfWork,
    referral: Referral,
    due: str,
    due_on: date,
    responsible_org: str,
    *,
    due_at: datetime | None = None,
) -> ReferralDueDate:
    row = ReferralDueDate(
        referral_id=referral.id,
        due=due,
        due_on=due_on,
        responsible_org=responsible_org,
        due_at=to_utc(due_at) if due_at is not None else None,
    )
    uow.session.add(row)
    return row


def dues_of(uow: UnitOfWork, referral_id: str, due: str | None = None) -> list[ReferralDueDate]:
    stmt = select(ReferralDueDate).where(ReferralDueDate.referral_id == referral_id)
    if due is not None:
        stmt = stmt.where(ReferralDueDate.due == due)
    return list(uow.session.exec(stmt.order_by(col(ReferralDueDate.due_on), col(ReferralDueDate.id))))


def meet_due(uow: UnitOfWork, referral_id: str, due: str, met_on: date) -> ReferralDueDate | None:
    """Mark the earliest open due date of this kind met; None when there was none open."""
    for row in dues_of(uow, referral_id, due):
        if row.met_on is None and row.waived_at is None:
            row.met_on = met_on
            uow.session.add(row)
            return row
    return None


def waive_open_dues(uow: UnitOfWork, referral_id: str, now: datetime) -> None:
    """A closed referral owes nothing more: its open due dates are waived."""
    for row in dues_of(uow, referral_id):
        if row.met_on is None and row.waived_at is None:
            row.waived_at = to_utc(now)
            uow.session.add(row)


def assessment_appointments(uow: UnitOfWork, referral_id: str) -> list[Appointment]:
    """The referral's assessment appointments, earliest first."""
    stmt = select(Appointment).where(Appointment.referral_id == referral_id, Appointment.kind == "assessment")
    return list(uow.session.exec(stmt.order_by(col(Appointment.scheduled_for))))
