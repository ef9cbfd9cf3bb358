"""Conference alerts (DOMAIN rule 5): invitations with notice in working days, cancellations,
invitees' answers, and reports not received by ``report_due``.

An invitation is a share of the conference's details about each parent named (consent is
per person), so each (invitee, parent) pair is decided on its own. The notice follows
``isp_common.workingdays.notice``: ``short_notice`` invitations still go, flagged, and ask for
a written report. Invitees answer ``attending``, ``written_report`` or ``cannot_attend``
(protocol: a treatment service that cannot attend submits a written report). A report is
expected when asked for (short notice) or promised (``written_report``/``cannot_attend``);
one not received by the end of ``report_due`` (London) is flagged to the convening
organisation, once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import WorkingCalendar, london_date, notice
from isp_schemas.alerts import ConferenceCancelledAlert, ConferenceInvitationAlert, ReportOverdueAlert
from isp_schemas.envelope import CloudEvent
from isp_schemas.socialcare import ConferenceCancelled, ConferenceScheduled
from sqlmodel import select

from ..disclosure import Share, queue_operational, share_alert
from ..tables import ConferenceRecord, InvitationRecord

RESPONSES = ("attending", "written_report", "cannot_attend")
REPORT_EXPECTED = ("written_report", "cannot_attend")


def conference_scheduled(
    uow: UnitOfWork,
    event: CloudEvent,
    data: ConferenceScheduled,
    calendar: WorkingCalendar,
    now: datetime | None = None,
) -> None:
    convener = event.source_org
    given = notice(data.issued_at, data.scheduled_for, calendar)
    conference = uow.session.get(ConferenceRecord, data.conference_id) or ConferenceRecord(
        id=data.conference_id,
        org=convener,
        kind=data.kind,
        scheduled_for=data.scheduled_for.astimezone(UTC),
        issued_at=data.issued_at.astimezone(UTC),
        report_due=given.report_due,
        short_notice=given.short_notice,
        invitees=[],
    )
    conference.kind = data.kind
    conference.scheduled_for, conference.issued_at = data.scheduled_for.astimezone(UTC), data.issued_at.astimezone(UTC)
    conference.report_due, conference.short_notice = given.report_due, given.short_notice
    conference.invitees, conference.cancelled = list(data.invitees), False
    uow.session.add(conference)
    children = [c.model_dump(mode="json", exclude_none=True) for c in data.children]
    for invitee in dict.fromkeys(data.invitees):
        if invitee == convener:
            continue
        invitation = uow.session.get(InvitationRecord, (data.conference_id, invitee)) or InvitationRecord(
            conference_id=data.conference_id, invitee=invitee
        )
        invitation.report_requested = invitation.report_requested or given.short_notice
        for parent in data.parents:
            share = Share(
                alert_type=ConferenceInvitationAlert.event_type,
                sender=convener,
                recipient=invitee,
                nhs_number=parent.nhs_number,
                person=parent.model_dump(mode="json", exclude_none=True),
                source_event_id=event.id,
                required=("conference",),
                children=children,
                children_category="conference",
                key=parent.nhs_number,
            )

            def build(alert_id, basis, _categories, parent=parent):
                return ConferenceInvitationAlert(
                    alert_id=alert_id,
                    sender_org=convener,
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

            if share_alert(uow, share, build, now).shared:
                invitation.sent = True
        uow.session.add(invitation)


def conference_cancelled(
    uow: UnitOfWork, event: CloudEvent, data: ConferenceCancelled, now: datetime | None = None
) -> None:
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
        queue_operational(uow, alert, sender=conference.org, recipient=invitation.invitee, source_event_id=event.id)


class NotInvited(LookupError):
    """The organisation was not sent an invitation to that conference."""


def answer(uow: UnitOfWork, conference_id: str, invitee: str, response: str, now: datetime) -> InvitationRecord:
    invitation = uow.session.get(InvitationRecord, (conference_id, invitee))
    if invitation is None or not invitation.sent:
        raise NotInvited(conference_id)
    if response not in RESPONSES:
        raise ValueError(f"response must be one of {', '.join(RESPONSES)}")
    invitation.response, invitation.responded_at = response, now
    uow.session.add(invitation)
    return invitation


def report_received(uow: UnitOfWork, conference_id: str, invitee: str, now: datetime) -> InvitationRecord:
    invitation = uow.session.get(InvitationRecord, (conference_id, invitee))
    if invitation is None or not invitation.sent:
        raise NotInvited(conference_id)
    invitation.report_received_at = invitation.report_received_at or now
    uow.session.add(invitation)
    return invitation


def flag_overdue_reports(uow: UnitOfWork, now: datetime | None = None) -> int:
    """Flag to each convening organisation the written reports not received by ``report_due``."""
    now = now or datetime.now(UTC)
    today = london_date(now)
    flagged = 0
    rows = uow.session.exec(
        select(InvitationRecord, ConferenceRecord)
        .where(InvitationRecord.conference_id == ConferenceRecord.id)
        .where(ConferenceRecord.cancelled == False)  # noqa: E712
        .where(ConferenceRecord.report_due < today)
        .where(InvitationRecord.sent == True)  # noqa: E712
        .where(InvitationRecord.report_received_at.is_(None))
        .where(InvitationRecord.report_overdue_flagged == False)  # noqa: E712
    ).all()
    for invitation, conference in rows:
        if not (invitation.report_requested or invitation.response in REPORT_EXPECTED):
            continue
        alert = ReportOverdueAlert(
            alert_id="pending",
            sender_org=conference.org,
            conference_id=conference.id,
            report_due=conference.report_due,
            scheduled_for=as_utc(conference.scheduled_for),
            invitee=invitation.invitee,
        )
        queue_operational(
            uow,
            alert,
            sender=conference.org,
            recipient=conference.org,
            source_event_id=f"report-overdue/{conference.id}",
            key=invitation.invitee,
        )
        invitation.report_overdue_flagged = True
        uow.session.add(invitation)
        flagged += 1
    return flagged


def handlers(calendar: WorkingCalendar) -> dict:
    def scheduled(uow: UnitOfWork, event: CloudEvent, data: ConferenceScheduled) -> None:
        conference_scheduled(uow, event, data, calendar)

    return {
        ConferenceScheduled.event_type: scheduled,
        ConferenceCancelled.event_type: conference_cancelled,
    }
