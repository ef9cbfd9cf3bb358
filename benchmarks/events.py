"""The input events the end-to-end benchmarks publish, built once (``throughput`` and ``chaos``).

One :class:`Person` per simulated parent: a consent, a social-care referral to treatment, an
assessment booking and the missed assessment, each a CloudEvent as partners publish them.
The ``*_event`` builders give the Kafka ``(key, value)`` a producer sends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from isp_common.testing import fresh_nhs_number
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralRequested
from isp_schemas.treatment import AppointmentBooked, AppointmentMissed

CSC = "WSCC-CSC"
PROVIDER = "CGL-WSX"
LONDON = ZoneInfo("Europe/London")
CONTENT_TYPE = [("content-type", b"application/cloudevents+json")]

Message = tuple[bytes, bytes]  # key, value


@dataclass(frozen=True)
class Person:
    nhs: str
    consent_id: str
    referral_id: str
    appointment_id: str
    scheduled_for: datetime

    @classmethod
    def fresh(cls) -> Person:
        tag = uuid.uuid4().hex[:12]
        return cls(fresh_nhs_number(), f"con-{tag}", f"ref-{tag}", f"apt-{tag}", appointment_time())


def appointment_time(now: datetime | None = None) -> datetime:
    """A few minutes ago, but not before today (Europe/London): the referrals service prompts
    the provider for the outcome of every booked appointment of an earlier day on its timer,
    which would add traffic of its own to the measurement. A run across midnight still will."""
    now = now or datetime.now(UTC)
    midnight = datetime.combine(now.astimezone(LONDON).date(), dt_time(0), tzinfo=LONDON)
    return max(now - timedelta(minutes=10), midnight.astimezone(UTC)).replace(microsecond=0)


def message(event: CloudEvent) -> Message:
    return (event.subject or event.id).encode(), event.to_json_bytes()


def consent(p: Person) -> CloudEvent:
    data = ConsentGiven(
        consent_id=p.consent_id,
        person={"nhs_number": p.nhs},
        recorded_by=PROVIDER,
        recipients=["*"],
        purposes=["safeguarding"],
        data_categories=["referral", "attendance", "treatment_status"],
        given_on=(datetime.now(UTC) - timedelta(days=60)).date(),
    )
    return CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data)


def referral(p: Person) -> CloudEvent:
    data = ReferralRequested(
        referral_id=p.referral_id,
        direction="to_treatment",
        from_org=CSC,
        to_org=PROVIDER,
        person={"nhs_number": p.nhs},
        children=[{"local_id": f"C-{p.referral_id[4:]}"}],
        rag="amber",
        consent_id=p.consent_id,
        summary="Parent misusing alcohol; child on a CIN plan",
        parent_agreed=True,
        concerns=["alcohol"],
        history="Known to CSC since 2024",
        known_to_treatment=False,
    )
    return CloudEvent.create(type=data.event_type, source_org=CSC, data=data)


def booking(p: Person) -> CloudEvent:
    data = AppointmentBooked(
        appointment_id=p.appointment_id,
        person={"nhs_number": p.nhs},
        scheduled_for=p.scheduled_for,
        kind="assessment",
        referral_id=p.referral_id,
    )
    return CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data)


def missed(p: Person) -> CloudEvent:
    data = AppointmentMissed(
        appointment_id=p.appointment_id,
        person={"nhs_number": p.nhs},
        scheduled_for=p.scheduled_for,
        recorded_at=max(p.scheduled_for, datetime.now(UTC) - timedelta(minutes=1)),
    )
    return CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data)


def consent_event(p: Person) -> Message:
    return message(consent(p))


def referral_event(p: Person) -> Message:
    return message(referral(p))


def booking_event(p: Person) -> Message:
    return message(booking(p))


def missed_event(p: Person) -> Message:
    return message(missed(p))
