"""Reactions to the events this service consumes, one module per topic: keep the facts
decisions rest on, and turn causing events into alerts (shared, withheld or operational).

Every handler takes a unit of work first and never commits (the event processor commits it
with the inbox mark), and ``now``, which :func:`handlers_by_topic` binds to the runtime's clock,
so each entry is ``handler(uow, event, data)``.

Three kinds of handler, composed here for each event type:

* a *fact* handler keeps a fact and returns the people whose open withheld shares it may change
  (a consent given, an enquiry opened, a referral made or amended);
* a *decider* makes an event's shares (:mod:`isp_notifications.disclosure`); the same decider
  runs again when a later fact arrives (:mod:`isp_notifications.redecision`) or a DSL releases
  a share, so it never keeps facts itself;
* then every open withheld share about those people is decided again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from isp_common import directory
from isp_common.clock import Clock
from isp_common.consumer import EventRejected, HandledElsewhere, Handler
from isp_common.db import UnitOfWork
from isp_common.workingdays import WorkingCalendar
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.treatment import AppointmentAttended, AppointmentBooked, AppointmentMissed

from .. import disclosure, facts, redecision
from . import consent, referrals, register, socialcare, treatment
from .timed import FactHandler, TimedHandler, at_now


def deciders(calendar: WorkingCalendar) -> dict[str, TimedHandler]:
    """Event type -> what makes that event's shares (run again on re-decision and release)."""
    return {**referrals.DECIDERS, **treatment.DECIDERS, **socialcare.conference_deciders(calendar)}


def _fact_then(fact: FactHandler, then: TimedHandler | None, decide: redecision.Deciders) -> TimedHandler:
    def handle(uow: UnitOfWork, event: CloudEvent, data: Any, now: datetime) -> None:
        people = fact(uow, event, data, now)
        if then is not None:
            then(uow, event, data, now)
        if people:
            # this event's own shares (decided by ``then``, or by the fact handler itself after it
            # kept the fact, as a referral's) were just decided on every fact there is: not again
            redecision.redecide_about(uow, people, now, decide, decided=event.id)

    handle.__name__ = getattr(fact, "__name__", "handle")
    return handle


def _compose(
    facts: dict[str, FactHandler], others: dict[str, TimedHandler], decide: redecision.Deciders
) -> dict[str, TimedHandler]:
    composed = dict(others)
    for event_type, fact in facts.items():
        composed[event_type] = _fact_then(fact, others.get(event_type), decide)
    return composed


def in_directory(handler: TimedHandler) -> TimedHandler:
    """``handler`` for an event whose every organisation is in the partnership directory; an event
    naming one that is not is dead-lettered with a reason that says so (CONTRACT §9)."""

    def handle(uow: UnitOfWork, event: CloudEvent, data: Any, now: datetime) -> None:
        unknown = directory.unknown_orgs(uow.session, event.source_org, data)
        if unknown:
            raise EventRejected(f"organisation {', '.join(unknown)} is not in the partnership directory")
        handler(uow, event, data, now)

    handle.__name__ = getattr(handler, "__name__", "handle")
    return handle


FACT_TYPES = frozenset({*consent.FACTS, *socialcare.FACTS, *referrals.FACTS})
"""The types whose handler keeps a fact, then decides again the withheld shares it may change."""

APPOINTMENTS = (AppointmentBooked.event_type, AppointmentAttended.event_type, AppointmentMissed.event_type)


def handlers_by_topic(calendar: WorkingCalendar, clock: Clock) -> dict[str, dict[str, Handler]]:
    decide = deciders(calendar)

    def partners(handlers: dict[str, TimedHandler]) -> dict[str, Handler]:
        """A partner topic's handlers: every organisation named must be in the directory."""
        return {event_type: at_now(clock, in_directory(handler)) for event_type, handler in handlers.items()}

    return {
        topics.CONSENT: partners(_compose(consent.FACTS, {}, decide)),
        topics.SOCIALCARE: partners(_compose(socialcare.FACTS, socialcare.conference_handlers(calendar), decide)),
        topics.REFERRALS: partners(_compose(referrals.FACTS, {**referrals.HANDLERS, **referrals.NEWS}, decide)),
        # appointments are the referrals service's to record (a miss it decides is a DNA comes
        # here as an assessment_missed): skipped unvalidated
        topics.TREATMENT: HandledElsewhere.beside(partners(treatment.HANDLERS), "referrals", APPOINTMENTS),
        topics.REGISTER: {event_type: at_now(clock, handler) for event_type, handler in register.HANDLERS.items()},
    }


def read_ahead(uow: UnitOfWork, events: Sequence[tuple[CloudEvent, Any]]) -> None:
    """Before a run of events is applied, in a few queries: the facts about every person they name
    (:func:`isp_notifications.facts.prefetch`), the facts its recording and changing events are
    about (:func:`isp_notifications.facts.prefetch_own`), the withheld shares a fact about those
    people may change (:func:`isp_notifications.redecision.prefetch`), and whether the shares they
    will decide and their causing events are held already
    (:func:`isp_notifications.disclosure.prefetch`)."""
    people: list[str] = []
    told_of: list[str] = []  # the people a fact is about: their withheld shares may be decided again
    for event, data in events:
        person = getattr(data, "person", None)
        nhs_number = getattr(person, "nhs_number", None)
        is_fact = event.type in FACT_TYPES
        if isinstance(nhs_number, str):
            people.append(nhs_number)
            if is_fact:
                told_of.append(nhs_number)
        if is_fact:  # and an enquiry's or a plan's parents
            told_of.extend(parent.nhs_number for parent in getattr(data, "parents", None) or ())
    facts.prefetch(uow.session, people)
    facts.prefetch_own(uow.session, [data for _event, data in events])
    redecision.prefetch(uow, told_of)
    shares = [share for event, data in events for share in referrals.expected_shares(event, data)]
    disclosure.prefetch(uow, shares, [event.id for event, _data in events])
