"""Event handlers (Kafka) and the referral request both adapters share.

Each takes a unit of work and commits nothing itself: the caller (agent or API) owns the
transaction. A referral made over HTTP and one published on ``isp.referrals.v1`` go through
:func:`record_request`, so they are validated alike and end alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from isp_common.consumer import EventRejected
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralAssessmentMissed, ReferralRequested
from isp_schemas.treatment import AppointmentAttended, AppointmentBooked, AppointmentMissed
from sqlmodel import select

from . import domain, journal
from .domain import DueRules
from .tables import Appointment, Referral


def record_request(
    uow: UnitOfWork,
    data: ReferralRequested,
    *,
    source_org: str,
    at: datetime,
    by: str | None,
    channel: str,
    event_id: str,
    rules: DueRules,
) -> Referral:
    """Store a new referral in state ``requested``.

    The referring organisation is the one that sends it: ``from_org`` must be the publisher
    (Kafka) or the caller's organisation (HTTP). Raises NotYourReferral or DuplicateReferral.
    """
    if source_org != data.from_org:
        raise domain.NotYourReferral("from_org must be the referring organisation itself")
    if uow.session.get(Referral, data.referral_id) is not None:
        raise domain.DuplicateReferral(data.referral_id)
    emergency = domain.is_emergency(data.threshold)
    requested_on = london_date(at)
    referral = Referral(
        id=data.referral_id,
        direction=data.direction,
        from_org=data.from_org,
        to_org=data.to_org,
        nhs_number=data.person.nhs_number,
        person=data.person.model_dump(mode="json", exclude_none=True),
        children=[c.model_dump(mode="json", exclude_none=True) for c in data.children],
        threshold=data.threshold,
        rag=data.rag,
        consent_id=data.consent_id,
        summary=data.summary,
        parent_agreed=data.parent_agreed,
        concerns=list(data.concerns),
        background=data.history,
        known_to_treatment=data.known_to_treatment,
        priority=data.priority,
        emergency=emergency,
        allocation_meeting_on=None if emergency else rules.allocation_meeting_on(requested_on),
        channel=channel,
        source_event_id=event_id,
        requested_at=journal.to_utc(at),
        last_changed_at=journal.to_utc(at),
    )
    uow.session.add(referral)
    journal.record(
        uow,
        referral,
        "request",
        at=at,
        by=by,
        org=source_org,
        from_state=None,
        details={"channel": channel, "threshold": data.threshold, "rag": data.rag, "emergency": emergency},
        event_id=event_id,
    )
    return referral


def make_referral(uow: UnitOfWork, data: ReferralRequested, actor: Any, now: datetime, rules: DueRules) -> Referral:
    """A referral made over HTTP: stored, and published through the outbox as the same
    ``uk.isp.referral.requested.v1`` a partner system would publish (source = from_org)."""
    event = CloudEvent.create(
        type=ReferralRequested.event_type,
        source_org=data.from_org,
        data=data,
        subject=data.person.nhs_number,
        time=now,
    )
    referral = record_request(
        uow, data, source_org=actor.org, at=now, by=actor.sub, channel="api", event_id=event.id, rules=rules
    )
    uow.publish(event, topics.REFERRALS)
    return referral


def same_request(referral: Referral, data: ReferralRequested) -> bool:
    """True when ``data`` is the referral already stored under its id (a harmless retry)."""
    stored = ReferralRequested.model_validate(request_fields(referral)).model_dump(mode="json")
    return stored == data.model_dump(mode="json")


def request_fields(referral: Referral) -> dict[str, Any]:
    """The referral as the fields of its requested event (as amended since)."""
    return {
        "referral_id": referral.id,
        "direction": referral.direction,
        "from_org": referral.from_org,
        "to_org": referral.to_org,
        "person": referral.person,
        "children": referral.children,
        "threshold": referral.threshold,
        "rag": referral.rag,
        "consent_id": referral.consent_id,
        "summary": referral.summary,
        "parent_agreed": referral.parent_agreed,
        "concerns": referral.concerns,
        "history": referral.background,
        "known_to_treatment": referral.known_to_treatment,
    }


def referral_requested(
    uow: UnitOfWork, event: CloudEvent, data: ReferralRequested, *, rules: DueRules, now: datetime | None = None
) -> None:
    """A partner published a referral. Our own publication of an HTTP-made referral comes
    back here too and is recognised by its event id."""
    existing = uow.session.get(Referral, data.referral_id)
    if existing is not None:
        if existing.source_event_id == event.id or same_request(existing, data):
            return  # our own publication of an HTTP-made referral, or a partner's re-send
        raise EventRejected("referral_id is already used by a different referral")
    now = now or datetime.now(UTC)
    try:
        record_request(
            uow,
            data,
            source_org=event.source_org,
            at=min(event.time, now),
            by=None,
            channel="kafka",
            event_id=event.id,
            rules=rules,
        )
    except domain.NotYourReferral as exc:
        raise EventRejected(str(exc)) from None


# --- appointments (isp.treatment.v1) ---------------------------------------------------


def appointment_booked(uow: UnitOfWork, event: CloudEvent, data: AppointmentBooked) -> None:
    scheduled_for = journal.to_utc(data.scheduled_for)
    appointment = uow.session.get(Appointment, data.appointment_id)
    if appointment is None:
        appointment = Appointment(
            id=data.appointment_id,
            provider_org=event.source_org,
            nhs_number=data.person.nhs_number,
            referral_id=data.referral_id,
            kind=data.kind,
            scheduled_for=scheduled_for,
            booked_at=journal.to_utc(event.time),
        )
    else:
        if as_utc(appointment.scheduled_for) != scheduled_for:
            appointment.outcome_prompted_at = None  # rebooked: a new day to report on
        appointment.scheduled_for = scheduled_for
        appointment.referral_id = data.referral_id or appointment.referral_id
        appointment.kind = data.kind
    uow.session.add(appointment)
    referral = _referral_of(uow, appointment)
    if referral is None:
        return
    details = {"appointment_id": appointment.id, "kind": appointment.kind}
    _note(uow, referral, "appointment_booked", event, details)
    if appointment.kind == "assessment":
        journal.meet_due(uow, referral.id, "assessment_booking", london_date(event.time))


def appointment_attended(uow: UnitOfWork, event: CloudEvent, data: AppointmentAttended) -> None:
    appointment = uow.session.get(Appointment, data.appointment_id)
    if appointment is None:
        return
    appointment.status = "attended"
    appointment.recorded_at = journal.to_utc(data.attended_at)
    uow.session.add(appointment)
    referral = _referral_of(uow, appointment)
    if referral is not None:
        _note(uow, referral, "appointment_attended", event, {"appointment_id": appointment.id})


def appointment_missed(uow: UnitOfWork, event: CloudEvent, data: AppointmentMissed) -> None:
    """Record the DNA; if it is a missed assessment on a social-care referral, publish it
    for notifications to tell social care within 24 hours."""
    appointment = uow.session.get(Appointment, data.appointment_id)
    if appointment is None:
        appointment = Appointment(
            id=data.appointment_id,
            provider_org=event.source_org,
            nhs_number=data.person.nhs_number,
            kind="other",
            scheduled_for=journal.to_utc(data.scheduled_for),
        )
    appointment.status = "missed"
    appointment.recorded_at = journal.to_utc(data.recorded_at)
    uow.session.add(appointment)
    referral = _referral_of(uow, appointment)
    if referral is None:
        return
    _note(uow, referral, "appointment_missed", event, {"appointment_id": appointment.id})
    if not domain.missed_appointment_is_dna_to_report(referral.direction, appointment.kind):
        return
    missed = ReferralAssessmentMissed(
        **journal.fact(referral, data.recorded_at, None),
        appointment_id=appointment.id,
        scheduled_for=data.scheduled_for,
        recorded_at=data.recorded_at,
        children=referral.children,
        cause_event_id=event.id,
    )
    journal.publish(uow, referral, missed, appointment.provider_org, data.recorded_at)


def _referral_of(uow: UnitOfWork, appointment: Appointment) -> Referral | None:
    return uow.session.get(Referral, appointment.referral_id) if appointment.referral_id else None


def _note(uow: UnitOfWork, referral: Referral, action: str, event: CloudEvent, details: dict[str, Any]) -> None:
    journal.record(
        uow,
        referral,
        action,
        at=event.time,
        by=None,
        org=event.source_org,
        from_state=referral.state,
        details=details,
        event_id=event.id,
    )


def assessment_appointments(uow: UnitOfWork, referral_id: str) -> list[Appointment]:
    stmt = select(Appointment).where(Appointment.referral_id == referral_id, Appointment.kind == "assessment")
    return list(uow.session.exec(stmt.order_by(Appointment.scheduled_for)))


def handlers_by_topic(rules: DueRules) -> Mapping[str, Mapping[str, Callable[..., None]]]:
    return {
        topics.REFERRALS: {ReferralRequested.event_type: partial(referral_requested, rules=rules)},
        topics.TREATMENT: {
            AppointmentBooked.event_type: appointment_booked,
            AppointmentAttended.event_type: appointment_attended,
            AppointmentMissed.event_type: appointment_missed,
        },
    }
