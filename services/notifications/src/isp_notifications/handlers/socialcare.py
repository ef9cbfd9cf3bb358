"""Social care (``isp.socialcare.v1``): keep the section 47 enquiries and plans decisions rest
on, and turn conferences into alerts (DOMAIN rule 5).

An invitation is a share of the conference's details about each parent named (consent is
per person), so each (invitee, parent) pair is decided on its own. The notice follows
:mod:`isp_notifications.domain.conferences`: ``short_notice`` invitations still go, flagged,
and ask for a written report. A cancellation goes only to invitees who were told of the
conference (telling the others would disclose that it existed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_schemas.alerts import ConferenceCancelledAlert, ConferenceInvitationAlert
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Child, Person
from isp_schemas.socialcare import (
    ConferenceCancelled,
    ConferenceScheduled,
    EnquiryClosed,
    EnquiryOpened,
    PlanEnded,
    PlanStarted,
)
from sqlmodel import select

from .. import facts
from ..disclosure import queue_operational, share_alert
from ..domain.conferences import Notice, WorkingCalendar, notice
from ..domain.shares import BuildData, Share
from ..tables import ConferenceRecord, InvitationRecord
from .timed import FactHandler, TimedHandler

# -- the facts (each returns the people whose open shares it may change) -----------------------


def enquiry_opened(uow: UnitOfWork, event: CloudEvent, data: EnquiryOpened, now: datetime) -> set[str]:
    facts.record_enquiry(uow, event.source_org, data)
    return _people(uow, data.parents, data.child)


def enquiry_closed(uow: UnitOfWork, event: CloudEvent, data: EnquiryClosed, now: datetime) -> set[str]:
    facts.close_enquiry(uow, event, data)
    return set()


def plan_started(uow: UnitOfWork, event: CloudEvent, data: PlanStarted, now: datetime) -> set[str]:
    facts.record_plan(uow, event.source_org, data)
    return _people(uow, data.parents, data.child)


def plan_ended(uow: UnitOfWork, event: CloudEvent, data: PlanEnded, now: datetime) -> set[str]:
    facts.end_plan(uow, event, data)
    return set()


def _people(uow: UnitOfWork, parents: list[Person], child: Child) -> set[str]:
    named = [p.nhs_number for p in parents]
    return facts.people_linked(uow.session, named, [child.model_dump(mode="json", exclude_none=True)])


# -- conferences -----------------------------------------------------------------------------


def conference_scheduled(
    uow: UnitOfWork, event: CloudEvent, data: ConferenceScheduled, now: datetime, calendar: WorkingCalendar
) -> None:
    """Keep the conference, then invite (:func:`invite`)."""
    _keep_conference(uow, event.source_org, data, notice(data.issued_at, data.scheduled_for, calendar))
    invite(uow, event, data, now, calendar)


def invite(
    uow: UnitOfWork, event: CloudEvent, data: ConferenceScheduled, now: datetime, calendar: WorkingCalendar
) -> None:
    """Invite each invitee about each parent named, on that parent's own basis (a child protection
    conference on its own statutory ground), or, when no parent is named, about the children alone.
    The decider of a scheduled conference: it never changes the kept conference."""
    conference = uow.session.get(ConferenceRecord, data.conference_id)
    if conference is not None and conference.cancelled:
        return
    convener = event.source_org
    given = notice(data.issued_at, data.scheduled_for, calendar)
    for invitee in dict.fromkeys(data.invitees):
        if invitee == convener:
            continue
        invitation = uow.session.get(InvitationRecord, (data.conference_id, invitee)) or InvitationRecord(
            conference_id=data.conference_id, invitee=invitee
        )
        invitation.report_requested = invitation.report_requested or given.short_notice
        parents: list[Person | None] = list(data.parents) or [None]
        for parent in parents:
            share, build = _invitation(event, data, given, invitee, parent)
            if share_alert(uow, share, build, now).shared:
                invitation.sent = True
        uow.session.add(invitation)


def _keep_conference(uow: UnitOfWork, convener: str, data: ConferenceScheduled, given: Notice) -> None:
    scheduled_for, issued_at = data.scheduled_for.astimezone(UTC), data.issued_at.astimezone(UTC)
    conference = uow.session.get(ConferenceRecord, data.conference_id) or ConferenceRecord(
        id=data.conference_id,
        org=convener,
        kind=data.kind,
        scheduled_for=scheduled_for,
        issued_at=issued_at,
        report_due=given.report_due,
        short_notice=given.short_notice,
        invitees=[],
    )
    conference.kind = data.kind
    conference.scheduled_for, conference.issued_at = scheduled_for, issued_at
    conference.report_due, conference.short_notice = given.report_due, given.short_notice
    conference.invitees, conference.cancelled = list(data.invitees), False
    uow.session.add(conference)


def _invitation(
    event: CloudEvent, data: ConferenceScheduled, given: Notice, invitee: str, parent: Person | None
) -> tuple[Share, BuildData]:
    """The share of the conference's details about ``parent`` (or, with none named, about the
    children alone) with ``invitee``, and its alert."""
    share = Share(
        alert_type=ConferenceInvitationAlert.event_type,
        sender=event.source_org,
        recipient=invitee,
        nhs_number=parent.nhs_number if parent else None,
        person=parent.model_dump(mode="json", exclude_none=True) if parent else None,
        source_event_id=event.id,
        required=("conference",),
        children=[c.model_dump(mode="json", exclude_none=True) for c in data.children],
        children_category="conference",
        key=parent.nhs_number if parent else "",
        conference_kind=data.kind,
        occurred_at=data.issued_at,
        source_event=event,
    )

    def build(alert_id: str, basis: dict[str, Any], _categories: tuple[str, ...]) -> ConferenceInvitationAlert:
        return ConferenceInvitationAlert(
            alert_id=alert_id,
            sender_org=event.source_org,
            person=parent,
            lawful_basis=basis,
            conference_id=data.conference_id,
            kind=data.kind,
            scheduled_for=data.scheduled_for,
            location=data.location,
            children=data.children,
            notice_working_days=given.notice_working_days,
            short_notice=given.short_notice,
            report_due=given.report_due,
            written_report_requested=given.short_notice,
        )

    return share, build


def conference_cancelled(uow: UnitOfWork, event: CloudEvent, data: ConferenceCancelled, now: datetime) -> None:
    """Tell each invitee that was sent an invitation (operational: the invitee already knows of it)."""
    conference = uow.session.get(ConferenceRecord, data.conference_id)
    if conference is None:
        return
    conference.cancelled = True
    uow.session.add(conference)
    invitations = uow.session.exec(
        select(InvitationRecord).where(InvitationRecord.conference_id == data.conference_id)
    ).all()
    for invitation in invitations:
        if not invitation.sent:  # never told of it: a cancellation would disclose that it existed
            continue
        alert = ConferenceCancelledAlert(
            alert_id="pending",
            sender_org=conference.org,
            conference_id=data.conference_id,
            scheduled_for=as_utc(conference.scheduled_for),
            reason=data.reason,
        )
        queue_operational(
            uow, alert, sender=conference.org, recipient=invitation.invitee, source_event_id=event.id, now=now
        )


FACTS: dict[str, FactHandler] = {
    EnquiryOpened.event_type: enquiry_opened,
    EnquiryClosed.event_type: enquiry_closed,
    PlanStarted.event_type: plan_started,
    PlanEnded.event_type: plan_ended,
}
"""The handlers that keep facts."""


def conference_handlers(calendar: WorkingCalendar) -> dict[str, TimedHandler]:
    """The handlers that decide about conferences, the notice counted on ``calendar``."""

    def scheduled(uow: UnitOfWork, event: CloudEvent, data: ConferenceScheduled, now: datetime) -> None:
        conference_scheduled(uow, event, data, now, calendar)

    return {ConferenceScheduled.event_type: scheduled, ConferenceCancelled.event_type: conference_cancelled}


def conference_deciders(calendar: WorkingCalendar) -> dict[str, TimedHandler]:
    """What decides a scheduled conference's invitations again (never re-keeping the conference)."""

    def decide(uow: UnitOfWork, event: CloudEvent, data: ConferenceScheduled, now: datetime) -> None:
        invite(uow, event, data, now, calendar)

    return {ConferenceScheduled.event_type: decide}
