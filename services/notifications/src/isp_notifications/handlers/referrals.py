"""Referral alerts: referral_received, did_not_attend, referral_status, referral_overdue,
appointment_outcome_missing (from ``isp.referrals.v1``).

* ``referral_received`` goes to the receiving organisation; ``priority`` for social care to
  treatment; an ``emergency`` threshold is the statutory ground ``significant_harm``.
  Core category ``referral`` (ids, direction, threshold, summary); ``rag`` and the children
  go only when ``risk`` is covered too.
* ``did_not_attend`` goes to the referring social-care org, deadline ``scheduled_for`` + 24 h.
* Status news (accepted, declined, allocated, closed) is the receiver's information about the
  person going to the referrer: a share like any other (category ``referral``). A
  cancellation or an amendment is the referrer's news for the receiver, who must stop work
  on it or re-read it.
* Overdue steps and missing appointment outcomes go to the organisation that owes the work,
  about its own work: operational, no person (the referral id is enough for its own records).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from isp_common.db import UnitOfWork
from isp_schemas.alerts import (
    AppointmentOutcomeMissingAlert,
    AssessmentAttendanceAlert,
    AttendanceUnrecordedAlert,
    DidNotAttendAlert,
    ReferralOverdueAlert,
    ReferralReceivedAlert,
    ReferralStatusAlert,
)
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import (
    ReferralAccepted,
    ReferralAllocated,
    ReferralAmended,
    ReferralAppointmentOutcomeMissing,
    ReferralAssessmentMissed,
    ReferralAttendanceUnrecorded,
    ReferralCancelled,
    ReferralClosed,
    ReferralDeclined,
    ReferralOverdue,
    ReferralRequested,
)

from .. import facts
from ..disclosure import queue_operational, share_alert
from ..domain.shares import Share
from .timed import FactHandler, TimedHandler

DNA_NOTICE = timedelta(hours=24)


def referral_requested(uow: UnitOfWork, event: CloudEvent, data: ReferralRequested, now: datetime) -> set[str]:
    """Keep the referral (a fact: who works with the family, a significant-harm ground), then share it."""
    facts.record_referral(uow, event, data)
    share_referral(uow, event, data, now)
    return {data.person.nhs_number}


def _referral_share(event: CloudEvent, data: ReferralRequested) -> Share:
    return Share(
        alert_type=ReferralReceivedAlert.event_type,
        sender=data.from_org,
        recipient=data.to_org,
        nhs_number=data.person.nhs_number,
        person=data.person.model_dump(mode="json", exclude_none=True),
        source_event_id=event.id,
        required=("referral",),
        optional=("risk",),
        children=[c.model_dump(mode="json", exclude_none=True) for c in data.children],
        children_category="risk",
        occurred_at=event.time,
        source_event=event,
    )


def share_referral(uow: UnitOfWork, event: CloudEvent, data: ReferralRequested, now: datetime) -> None:
    """``referral_received`` to the receiving organisation (the decider of a referral)."""
    share = _referral_share(event, data)

    def build(alert_id: str, basis: dict[str, Any], categories: tuple[str, ...]) -> ReferralReceivedAlert:
        risk = "risk" in categories
        return ReferralReceivedAlert(
            alert_id=alert_id,
            sender_org=data.from_org,
            person=data.person,
            lawful_basis=basis,
            referral_id=data.referral_id,
            direction=data.direction,
            from_org=data.from_org,
            threshold=data.threshold,
            rag=data.rag if risk else None,
            children=data.children if risk else None,
            summary=data.summary,
            priority=data.priority,
        )

    share_alert(uow, share, build, now)


def assessment_missed(uow: UnitOfWork, event: CloudEvent, data: ReferralAssessmentMissed, now: datetime) -> None:
    """A parent referred by social care missed the assessment: tell social care within 24 hours."""
    _tell_of_assessment(uow, event, data, DidNotAttendAlert, data.recorded_at, now)


def _tell_of_assessment(
    uow: UnitOfWork,
    event: CloudEvent,
    data: ReferralAssessmentMissed | ReferralAttendanceUnrecorded,
    alert: type[AssessmentAttendanceAlert],
    occurred_at: datetime,
    now: datetime,
) -> None:
    """News of the assessment of a referral from social care (``alert``: a DNA, or no outcome
    recorded), shared with the referring social care organisation, deadline ``scheduled_for`` + 24 h."""
    deadline = data.scheduled_for + DNA_NOTICE
    share = _assessment_share(event, data, alert, occurred_at)

    def build(alert_id: str, basis: dict[str, Any], _categories: tuple[str, ...]) -> AssessmentAttendanceAlert:
        return alert(
            alert_id=alert_id,
            person=data.person,
            lawful_basis=basis,
            sender_org=data.to_org,
            appointment_id=data.appointment_id,
            referral_id=data.referral_id,
            scheduled_for=data.scheduled_for,
            deadline=deadline,
        )

    share_alert(uow, share, build, now)


def _assessment_share(
    event: CloudEvent,
    data: ReferralAssessmentMissed | ReferralAttendanceUnrecorded,
    alert: type[AssessmentAttendanceAlert],
    occurred_at: datetime,
) -> Share:
    return Share(
        alert_type=alert.event_type,
        sender=data.to_org,
        recipient=data.from_org,
        nhs_number=data.person.nhs_number,
        person=data.person.model_dump(mode="json", exclude_none=True),
        source_event_id=event.id,
        required=("attendance",),
        deadline=data.scheduled_for + DNA_NOTICE,
        occurred_at=occurred_at,
        source_event=event,
    )


def expected_shares(event: CloudEvent, data: Any) -> list[Share]:
    """The shares an event of this topic will decide, where that is known before handling it (for
    reading ahead: :func:`isp_notifications.handlers.read_ahead`); others are simply not listed."""
    if isinstance(data, ReferralAssessmentMissed):
        return [_assessment_share(event, data, DidNotAttendAlert, data.recorded_at)]
    if isinstance(data, ReferralRequested):
        return [_referral_share(event, data)]
    if isinstance(data, ReferralAttendanceUnrecorded):
        return [_assessment_share(event, data, AttendanceUnrecordedAlert, data.at)]
    return []


ReferralNews = (
    ReferralAccepted | ReferralDeclined | ReferralAllocated | ReferralClosed | ReferralCancelled | ReferralAmended
)


def _status(
    uow: UnitOfWork,
    event: CloudEvent,
    data: ReferralNews,
    state: str,
    now: datetime,
    *,
    reason: str | None = None,
    outcome: str | None = None,
    changed: list[str] | None = None,
) -> None:
    to_receiver = state in ("cancelled", "amended")
    sender, recipient = (data.from_org, data.to_org) if to_receiver else (data.to_org, data.from_org)
    share = Share(
        alert_type=ReferralStatusAlert.event_type,
        sender=sender,
        recipient=recipient,
        nhs_number=data.person.nhs_number,
        person=data.person.model_dump(mode="json", exclude_none=True),
        source_event_id=event.id,
        required=("referral",),
        occurred_at=data.at,
        source_event=event,
    )

    def build(alert_id: str, basis: dict[str, Any], _categories: tuple[str, ...]) -> ReferralStatusAlert:
        return ReferralStatusAlert(
            alert_id=alert_id,
            sender_org=sender,
            person=data.person,
            lawful_basis=basis,
            referral_id=data.referral_id,
            state=state,
            reason=reason,
            outcome=outcome,
            changed=changed,
        )

    share_alert(uow, share, build, now)


def referral_accepted(uow: UnitOfWork, event: CloudEvent, data: ReferralAccepted, now: datetime) -> None:
    _status(uow, event, data, "accepted", now)


def referral_declined(uow: UnitOfWork, event: CloudEvent, data: ReferralDeclined, now: datetime) -> None:
    _status(uow, event, data, "declined", now, reason=data.reason)


def referral_allocated(uow: UnitOfWork, event: CloudEvent, data: ReferralAllocated, now: datetime) -> None:
    _status(uow, event, data, "allocated", now)


def referral_closed(uow: UnitOfWork, event: CloudEvent, data: ReferralClosed, now: datetime) -> None:
    _status(uow, event, data, "closed", now, reason=data.reason, outcome=data.outcome)


def referral_cancelled(uow: UnitOfWork, event: CloudEvent, data: ReferralCancelled, now: datetime) -> None:
    _status(uow, event, data, "cancelled", now, reason=data.reason)


def referral_amended(uow: UnitOfWork, event: CloudEvent, data: ReferralAmended, now: datetime) -> None:
    _status(uow, event, data, "amended", now, changed=list(data.changed))


def referral_ended(
    uow: UnitOfWork, event: CloudEvent, data: ReferralDeclined | ReferralClosed | ReferralCancelled, now: datetime
) -> set[str]:
    """A declined, closed or cancelled referral is no longer a ground (kept even if it comes first)."""
    facts.end_referral(uow, event, data)
    return set()


def referral_changed(uow: UnitOfWork, event: CloudEvent, data: ReferralAmended, now: datetime) -> set[str]:
    """An amendment updates the facts (threshold, children): the person's open shares are decided again."""
    facts.amend_referral(uow, event, data)
    return {data.person.nhs_number}


def attendance_unrecorded(
    uow: UnitOfWork, event: CloudEvent, data: ReferralAttendanceUnrecorded, now: datetime
) -> None:
    """The provider never recorded whether the parent attended the assessment: at the 24-hour
    deadline the referring social care organisation is told, as it would be of a DNA."""
    _tell_of_assessment(uow, event, data, AttendanceUnrecordedAlert, data.at, now)


def referral_overdue(uow: UnitOfWork, event: CloudEvent, data: ReferralOverdue, now: datetime) -> None:
    alert = ReferralOverdueAlert(
        alert_id="pending",
        sender_org=data.responsible_org,
        referral_id=data.referral_id,
        due=data.due,
        due_on=data.due_on,
        responsible_org=data.responsible_org,
    )
    queue_operational(
        uow, alert, sender=data.responsible_org, recipient=data.responsible_org, source_event_id=event.id, now=now
    )
    if data.escalate_to and data.escalate_to != data.responsible_org:
        # outside working hours an emergency goes to the out-of-hours team too (ids only, no person)
        queue_operational(
            uow, alert, sender=data.responsible_org, recipient=data.escalate_to, source_event_id=event.id, now=now
        )


def appointment_outcome_missing(
    uow: UnitOfWork, event: CloudEvent, data: ReferralAppointmentOutcomeMissing, now: datetime
) -> None:
    alert = AppointmentOutcomeMissingAlert(
        alert_id="pending",
        sender_org=data.provider_org,
        appointment_id=data.appointment_id,
        referral_id=data.referral_id,
        provider_org=data.provider_org,
        scheduled_for=data.scheduled_for,
    )
    queue_operational(
        uow, alert, sender=data.provider_org, recipient=data.provider_org, source_event_id=event.id, now=now
    )


HANDLERS: dict[str, TimedHandler] = {
    ReferralAssessmentMissed.event_type: assessment_missed,
    ReferralAccepted.event_type: referral_accepted,
    ReferralAllocated.event_type: referral_allocated,
    ReferralOverdue.event_type: referral_overdue,
    ReferralAppointmentOutcomeMissing.event_type: appointment_outcome_missing,
    ReferralAttendanceUnrecorded.event_type: attendance_unrecorded,
}
"""Handlers that only decide (or queue operational alerts)."""

FACTS: dict[str, FactHandler] = {
    ReferralRequested.event_type: referral_requested,
    ReferralDeclined.event_type: referral_ended,
    ReferralClosed.event_type: referral_ended,
    ReferralCancelled.event_type: referral_ended,
    ReferralAmended.event_type: referral_changed,
}
"""Handlers that keep a fact first; the news of a declined, closed, cancelled or amended referral
is then shared by :data:`NEWS` (see :func:`isp_notifications.handlers.handlers_by_topic`)."""

NEWS: dict[str, TimedHandler] = {
    ReferralDeclined.event_type: referral_declined,
    ReferralClosed.event_type: referral_closed,
    ReferralCancelled.event_type: referral_cancelled,
    ReferralAmended.event_type: referral_amended,
}

DECIDERS: dict[str, TimedHandler] = {
    ReferralRequested.event_type: share_referral,
    ReferralAssessmentMissed.event_type: assessment_missed,
    ReferralAccepted.event_type: referral_accepted,
    ReferralAllocated.event_type: referral_allocated,
    ReferralAttendanceUnrecorded.event_type: attendance_unrecorded,
    **NEWS,
}
"""What decides each causing event's shares again (never re-keeping a fact)."""
