"""One function per event or command. Each takes a unit of work and commits nothing
itself: the caller (agent or API) owns the transaction."""

from __future__ import annotations

from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralAssessmentMissed, ReferralRequested
from isp_schemas.treatment import AppointmentAttended, AppointmentBooked, AppointmentMissed

from . import domain
from .tables import Appointment, Referral


def referral_requested(uow: UnitOfWork, event: CloudEvent, data: ReferralRequested) -> None:
    if uow.session.get(Referral, data.referral_id) is not None:
        return
    uow.session.add(
        Referral(
            id=data.referral_id,
            direction=data.direction,
            from_org=data.from_org,
            to_org=data.to_org,
            nhs_number=data.person.nhs_number,
            person=data.person.model_dump(mode="json"),
            children=[c.model_dump(mode="json") for c in data.children],
            threshold=data.threshold,
            rag=data.rag,
            consent_id=data.consent_id,
            summary=data.summary,
            source_event_id=event.id,
        )
    )


def appointment_booked(uow: UnitOfWork, event: CloudEvent, data: AppointmentBooked) -> None:
    existing = uow.session.get(Appointment, data.appointment_id)
    if existing is None:
        uow.session.add(
            Appointment(
                id=data.appointment_id,
                provider_org=event.source_org,
                nhs_number=data.person.nhs_number,
                referral_id=data.referral_id,
                kind=data.kind,
                scheduled_for=data.scheduled_for,
            )
        )
    else:
        existing.scheduled_for = data.scheduled_for
        existing.referral_id = data.referral_id or existing.referral_id
        existing.kind = data.kind


def appointment_attended(uow: UnitOfWork, event: CloudEvent, data: AppointmentAttended) -> None:
    appointment = uow.session.get(Appointment, data.appointment_id)
    if appointment is not None:
        appointment.status = "attended"
        appointment.recorded_at = data.attended_at


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
            scheduled_for=data.scheduled_for,
        )
        uow.session.add(appointment)
    appointment.status = "missed"
    appointment.recorded_at = data.recorded_at
    referral = uow.session.get(Referral, appointment.referral_id) if appointment.referral_id else None
    if referral is None or not domain.missed_appointment_is_dna_to_report(referral.direction, appointment.kind):
        return
    missed = ReferralAssessmentMissed(
        referral_id=referral.id,
        direction=referral.direction,
        appointment_id=appointment.id,
        from_org=referral.from_org,
        to_org=referral.to_org,
        person=data.person,
        at=data.recorded_at,
        children=referral.children,
        scheduled_for=data.scheduled_for,
        recorded_at=data.recorded_at,
        cause_event_id=event.id,
    )
    uow.publish(
        CloudEvent.create(
            type=ReferralAssessmentMissed.event_type,
            source_org=appointment.provider_org,
            data=missed,
            subject=data.person.nhs_number,
        ),
        topics.REFERRALS,
    )


HANDLERS_BY_TOPIC = {
    topics.REFERRALS: {ReferralRequested.event_type: referral_requested},
    topics.TREATMENT: {
        AppointmentBooked.event_type: appointment_booked,
        AppointmentAttended.event_type: appointment_attended,
        AppointmentMissed.event_type: appointment_missed,
    },
}
