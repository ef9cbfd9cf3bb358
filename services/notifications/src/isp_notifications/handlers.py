"""Event handlers: keep the facts, and turn causing events into alerts."""

from __future__ import annotations

from datetime import timedelta

from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.alerts import DidNotAttendAlert
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralAssessmentMissed

from .disclosure import Share, share_alert
from .tables import ConsentRecord

DNA_NOTICE = timedelta(hours=24)


def consent_given(uow: UnitOfWork, event: CloudEvent, data: ConsentGiven) -> None:
    row = uow.session.get(ConsentRecord, data.consent_id) or ConsentRecord(
        id=data.consent_id,
        nhs_number=data.person.nhs_number,
        recorded_by=data.recorded_by,
        recipients=[],
        purposes=[],
        data_categories=[],
        given_on=data.given_on,
    )
    row.recipients = list(data.recipients)
    row.purposes = list(data.purposes)
    row.data_categories = list(data.data_categories)
    row.given_on = data.given_on
    row.expires_on = data.expires_on
    uow.session.add(row)


def consent_withdrawn(uow: UnitOfWork, event: CloudEvent, data: ConsentWithdrawn) -> None:
    row = uow.session.get(ConsentRecord, data.consent_id)
    if row is not None:
        row.withdrawn_at = event.time
        uow.session.add(row)


def assessment_missed(uow: UnitOfWork, event: CloudEvent, data: ReferralAssessmentMissed) -> None:
    """A parent referred by social care missed the assessment: tell social care within 24 hours."""
    deadline = data.scheduled_for + DNA_NOTICE
    share = Share(
        alert_type=DidNotAttendAlert.event_type,
        sender=data.to_org,
        recipient=data.from_org,
        nhs_number=data.person.nhs_number,
        person=data.person.model_dump(mode="json"),
        children=[],
        purpose="safeguarding",
        data_categories=("attendance",),
        source_event_id=event.id,
        deadline=deadline,
    )

    def build(alert_id, basis, _categories):
        return DidNotAttendAlert(
            alert_id=alert_id,
            person=data.person,
            lawful_basis=basis,
            sender_org=data.to_org,
            appointment_id=data.appointment_id,
            referral_id=data.referral_id,
            scheduled_for=data.scheduled_for,
            deadline=deadline,
        )

    share_alert(uow, share, build)


HANDLERS_BY_TOPIC = {
    topics.CONSENT: {
        ConsentGiven.event_type: consent_given,
        ConsentWithdrawn.event_type: consent_withdrawn,
    },
    topics.REFERRALS: {ReferralAssessmentMissed.event_type: assessment_missed},
}
