"""Reactions to events on Kafka: a partner's referral (``isp.referrals.v1``), the treatment
provider's appointments (``isp.treatment.v1``) and the disclosure decisions about referrals
(``isp.audit.v1``, :mod:`isp_referrals.shares`).

Each is ``handler(uow, event, data)`` and commits nothing itself: the event processor owns the
transaction (state change, outbox rows and the inbox mark commit together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from isp_common.clock import Clock
from isp_common.consumer import EventRejected, Guarded, HandledElsewhere, Handler
from isp_common.db import UnitOfWork, chunks
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas import referrals as news
from isp_schemas import topics
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralAssessmentMissed, ReferralRequested
from isp_schemas.treatment import AppointmentAttended, AppointmentBooked, AppointmentMissed
from sqlmodel import col, select

from . import directory_handlers, domain, intake, journal, shares
from .domain import DueRules
from .tables import Appointment, Referral


def referral_requested(
    uow: UnitOfWork, event: CloudEvent, data: ReferralRequested, *, rules: DueRules, clock: Clock
) -> None:
    """A partner published a referral. Our own publication of an HTTP-made referral comes
    back here too and is recognised by its event id. A referral dated in the future is
    taken as made now."""
    existing = uow.session.get_known(Referral, data.referral_id)
    if existing is not None:
        if existing.source_event_id == event.id or intake.same_request(existing, data):
            return  # our own publication of an HTTP-made referral, or a partner's re-send
        raise EventRejected("referral_id is already used by a different referral")
    try:
        intake.record_request(
            uow,
            data,
            source_org=event.source_org,
            at=min(event.time, clock.now()),
            by=None,
            channel="kafka",
            event_id=event.id,
            rules=rules,
            known_new=True,
        )
    except (domain.NotYourReferral, domain.ReferralRefused) as exc:
        raise EventRejected(str(exc)) from None


# --- appointments (isp.treatment.v1) ---------------------------------------------------
#
# Only the provider that booked an appointment may rebook it, record its outcome or say it was
# missed, and only a referral's treatment side (the provider a referral to treatment went to, or the
# service that referred its own client to social care) may link an appointment to it. The publisher
# (``event.source_org``, proven by the consumer's provenance check) is compared with the
# appointment's provider and the referral's treatment side; an event from anyone else is
# dead-lettered (EventRejected, the reason naming the mismatch, never the person), nothing changed.


def appointment_booked(uow: UnitOfWork, event: CloudEvent, data: AppointmentBooked) -> None:
    scheduled_for = journal.to_utc(data.scheduled_for)
    appointment, first_heard = _appointment(
        uow,
        event,
        data,
        referral_id=data.referral_id,
        kind=data.kind,
        scheduled_for=scheduled_for,
        booked_at=journal.to_utc(event.time),
    )
    referral = _held_referral(uow, event, data.referral_id or appointment.referral_id, data.person.nhs_number)
    if not first_heard:
        if as_utc(appointment.scheduled_for) != scheduled_for:
            appointment.outcome_prompted_at = None  # rebooked: a new day to report on
            appointment.unrecorded_raised_at = None
        appointment.scheduled_for = scheduled_for
        appointment.referral_id = data.referral_id or appointment.referral_id
        appointment.kind = data.kind
    else:
        uow.session.add(appointment)  # (one heard of is the session's already: adding it again is a no-op)
    if referral is None:
        return
    details = {"appointment_id": appointment.id, "kind": appointment.kind}
    _note(uow, referral, "appointment_booked", event, details)
    # a referral not yet accepted owes no booking to look for: accepting it adds the due date (and
    # meets it at once when an assessment was booked before)
    if appointment.kind == "assessment" and referral.state != "requested":
        journal.meet_due(uow, referral.id, "assessment_booking", london_date(event.time))


def appointment_attended(uow: UnitOfWork, event: CloudEvent, data: AppointmentAttended) -> None:
    appointment = uow.session.get_known(Appointment, data.appointment_id)
    if appointment is None:
        return
    _check_provider(appointment, event, data.person.nhs_number)
    appointment.status = "attended"
    appointment.recorded_at = journal.to_utc(data.attended_at)
    referral = _referral_of(uow, appointment)
    if referral is not None:
        _note(uow, referral, "appointment_attended", event, {"appointment_id": appointment.id})


def appointment_missed(uow: UnitOfWork, event: CloudEvent, data: AppointmentMissed) -> None:
    """Record the DNA; if it is a missed assessment on a social-care referral, publish it
    for notifications to tell social care within 24 hours."""
    appointment, first_heard = _appointment(
        uow, event, data, kind="other", scheduled_for=journal.to_utc(data.scheduled_for)
    )
    appointment.status = "missed"
    appointment.recorded_at = journal.to_utc(data.recorded_at)
    if first_heard:
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


def _appointment(
    uow: UnitOfWork, event: CloudEvent, data: AppointmentBooked | AppointmentMissed, **first_heard: Any
) -> tuple[Appointment, bool]:
    """The appointment ``data`` names, and whether this is the first we hear of it (then it is a
    new one from the provider for the person, with the ``first_heard`` fields). One already
    heard of must be the publisher's own, about the same person (:func:`_check_provider`)."""
    appointment = uow.session.get_known(Appointment, data.appointment_id)
    if appointment is not None:
        _check_provider(appointment, event, data.person.nhs_number)
        return appointment, False
    new = Appointment(
        id=data.appointment_id, provider_org=event.source_org, nhs_number=data.person.nhs_number, **first_heard
    )
    return new, True


def _check_provider(appointment: Appointment, event: CloudEvent, nhs_number: str) -> None:
    """Refuse an event about an appointment another provider booked, or naming another person."""
    if appointment.provider_org != event.source_org:
        raise EventRejected(
            f"appointment_id names an appointment booked by {appointment.provider_org}, not by the publisher "
            f"{event.source_org}"
        )
    if appointment.nhs_number != nhs_number:
        raise EventRejected("person is not the person of the appointment that appointment_id names")


def _held_referral(uow: UnitOfWork, event: CloudEvent, referral_id: str | None, nhs_number: str) -> Referral | None:
    """The referral an appointment is linked to, if we know it. The publisher must be the
    referral's treatment side (:func:`treatment_side`), and the appointment about its person."""
    referral = uow.session.get_known(Referral, referral_id) if referral_id else None
    if referral is None:
        return None
    entitled = treatment_side(referral)
    if entitled != event.source_org:
        raise EventRejected(
            f"referral_id names a referral whose appointments {entitled} books ({referral.direction}), "
            f"not the publisher {event.source_org}"
        )
    if referral.nhs_number != nhs_number:
        raise EventRejected("person is not the person of the referral that referral_id names")
    return referral


def treatment_side(referral: Referral) -> str:
    """The organisation that books a referral's appointments: the treatment provider a referral to
    treatment was made to, or the service that referred its own client to social care."""
    return referral.to_org if referral.direction == domain.PRIORITY_DIRECTION else referral.from_org


def _referral_of(uow: UnitOfWork, appointment: Appointment) -> Referral | None:
    return uow.session.get_known(Referral, appointment.referral_id) if appointment.referral_id else None


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


def read_ahead(uow: UnitOfWork, events: Sequence[tuple[CloudEvent, Any]]) -> None:
    """Before a run of events is applied (:data:`isp_common.consumer.Prefetch`): the appointments
    and referrals they name, read in a few queries instead of one or two per event. The rows found
    are the session's own objects from then on (its ``get`` answers with them without asking; they
    are kept here for the transaction, or the session would let go of the ones unchanged), and
    the ids not found are noted absent (``get_known`` answers None without asking, unless one
    is added meanwhile)."""
    appointment_ids: set[str] = set()
    referral_ids: set[str] = set()
    for _event, data in events:
        if isinstance(data, AppointmentBooked | AppointmentAttended | AppointmentMissed):
            appointment_ids.add(data.appointment_id)
        if isinstance(data, ReferralRequested | AppointmentBooked) and data.referral_id:
            referral_ids.add(data.referral_id)
    session = uow.session
    for ids in chunks(sorted(appointment_ids)):
        found = session.exec(_APPOINTMENTS_AND_REFERRALS.where(col(Appointment.id).in_(ids))).all()
        session.keep(obj for pair in found for obj in pair if obj is not None)
        session.known_absent(Appointment, set(ids) - {a.id for a, _ in found})
        referral_ids -= {r.id for _, r in found if r is not None}
    session.load(Referral, referral_ids)


_APPOINTMENTS_AND_REFERRALS = select(Appointment, Referral).outerjoin(
    Referral, col(Referral.id) == col(Appointment.referral_id)
)


NEWS_FOR_NOTIFICATIONS = tuple(
    event.event_type
    for event in (
        news.ReferralAccepted,
        news.ReferralDeclined,
        news.ReferralAmended,
        news.ReferralCancelled,
        news.ReferralAllocated,
        news.ReferralClosed,
        news.ReferralOverdue,
        news.ReferralAppointmentOutcomeMissing,
        news.ReferralAssessmentMissed,
        news.ReferralAttendanceUnrecorded,
    )
)
"""What this service publishes on ``isp.referrals.v1`` for the notifications service to share, and
reads back there only to skip: left unvalidated (:class:`isp_common.consumer.HandledElsewhere`)."""


def handlers_by_topic(rules: DueRules, clock: Clock) -> Mapping[str, Mapping[str, Handler]]:
    """Each topic's handlers by event type, for :meth:`ServiceRuntime.subscribe`."""
    return {
        topics.REFERRALS: HandledElsewhere.beside(
            {ReferralRequested.event_type: partial(referral_requested, rules=rules, clock=clock)},
            "notifications",
            NEWS_FOR_NOTIFICATIONS,
        ),
        topics.AUDIT: {
            DisclosureRecorded.event_type: Guarded(
                shares.disclosure_recorded, shares.is_referral_decision, shares.not_a_referral_decision
            )
        },
        topics.TREATMENT: {
            AppointmentBooked.event_type: appointment_booked,
            AppointmentAttended.event_type: appointment_attended,
            AppointmentMissed.event_type: appointment_missed,
        },
        topics.DIRECTORY: directory_handlers.HANDLERS,
    }
