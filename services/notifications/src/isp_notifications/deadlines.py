"""What the deadline timer does on each tick (every ``deadline_check_interval`` seconds):
close withheld shares no longer open to a new decision (:mod:`.redecision`), escalate alerts
that missed their deadline and endpoints that keep failing (:mod:`.delivery.escalation`), and
flag written conference reports not received by ``report_due``. Each takes a unit of work and
``now``."""

from __future__ import annotations

from datetime import datetime

from isp_common import metrics
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas.alerts import ReportOverdueAlert
from sqlmodel import col, select

from .delivery.escalation import escalate_failing_endpoints, escalate_missed_deadlines
from .disclosure import queue_operational
from .domain.conferences import report_expected
from .redecision import close_expired
from .tables import ConferenceRecord, InvitationRecord


def check_deadlines(uow: UnitOfWork, now: datetime, endpoint_failure_escalation: float) -> None:
    close_expired(uow, now)
    escalate_missed_deadlines(uow, now)
    escalate_failing_endpoints(uow, now, endpoint_failure_escalation)
    flag_overdue_reports(uow, now)


def flag_overdue_reports(uow: UnitOfWork, now: datetime) -> int:
    """Flag to each convening organisation, once, the written reports not received by ``report_due``."""
    today = london_date(now)
    flagged = 0
    rows = uow.session.exec(
        select(InvitationRecord, ConferenceRecord)
        .where(InvitationRecord.conference_id == ConferenceRecord.id)
        .where(col(ConferenceRecord.cancelled).is_(False))
        .where(ConferenceRecord.report_due < today)
        .where(col(InvitationRecord.sent).is_(True))
        .where(col(InvitationRecord.report_received_at).is_(None))
        .where(col(InvitationRecord.report_overdue_flagged).is_(False))
    ).all()
    for invitation, conference in rows:
        if not report_expected(invitation.report_requested, invitation.response):
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
            now=now,
            key=invitation.invitee,
        )
        invitation.report_overdue_flagged = True
        uow.session.add(invitation)
        metrics.count_on_commit(uow, "isp_deadlines_missed", type="conference_report")
        flagged += 1
    return flagged
