"""Reactions to the events this service consumes, one module per topic: keep the facts
decisions rest on, and turn causing events into alerts (shared, withheld or operational).

Every handler takes a unit of work first and never commits (the event processor commits it
with the inbox mark). Handlers that decide take ``now`` as well; :func:`handlers_by_topic`
binds it to the runtime's clock, so each entry is ``handler(uow, event, data)``.
"""

from __future__ import annotations

from isp_common.clock import Clock
from isp_common.consumer import Handler
from isp_common.workingdays import WorkingCalendar
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn

from . import consent, referrals, register, socialcare, treatment
from .timed import TimedHandler, at_now


def handlers_by_topic(calendar: WorkingCalendar, clock: Clock) -> dict[str, dict[str, Handler]]:
    def timed(handlers: dict[str, TimedHandler]) -> dict[str, Handler]:
        return {event_type: at_now(clock, handler) for event_type, handler in handlers.items()}

    return {
        topics.CONSENT: {
            ConsentGiven.event_type: consent.consent_given,
            **timed({ConsentWithdrawn.event_type: consent.consent_withdrawn}),
        },
        topics.SOCIALCARE: {**socialcare.FACTS, **timed(socialcare.conference_handlers(calendar))},
        topics.REFERRALS: timed(referrals.HANDLERS),
        topics.TREATMENT: timed(treatment.HANDLERS),
        topics.REGISTER: timed(register.HANDLERS),
    }
