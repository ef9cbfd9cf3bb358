"""Event handlers by topic: keep the facts, and turn causing events into alerts.

Every handler is ``handler(uow, event, data, now=None)``-shaped (the processor passes no
``now``; unit tests pass explicit times) and never commits.
"""

from __future__ import annotations

from datetime import UTC, datetime

from isp_common.db import UnitOfWork
from isp_common.workingdays import WorkingCalendar
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.socialcare import EnquiryClosed, EnquiryOpened, PlanEnded, PlanStarted

from . import facts, withdrawal
from .alerts import conferences, referrals, register, treatment


def consent_withdrawn(uow: UnitOfWork, event: CloudEvent, data: ConsentWithdrawn, now: datetime | None = None) -> None:
    """Record the withdrawal and stop what was queued under the consent but not yet sent."""
    if facts.record_withdrawal(uow, event, data) is not None:
        withdrawal.stop_queued_under(uow, data.consent_id, data.person.nhs_number, now or datetime.now(UTC))


def handlers_by_topic(calendar: WorkingCalendar) -> dict[str, dict]:
    return {
        topics.CONSENT: {
            ConsentGiven.event_type: facts.consent_given,
            ConsentWithdrawn.event_type: consent_withdrawn,
        },
        topics.SOCIALCARE: {
            EnquiryOpened.event_type: facts.enquiry_opened,
            EnquiryClosed.event_type: facts.enquiry_closed,
            PlanStarted.event_type: facts.plan_started,
            PlanEnded.event_type: facts.plan_ended,
            **conferences.handlers(calendar),
        },
        topics.REFERRALS: referrals.HANDLERS,
        topics.TREATMENT: treatment.HANDLERS,
        topics.REGISTER: register.HANDLERS,
    }
