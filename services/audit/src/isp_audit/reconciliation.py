"""Reconciliation: every alert shared with another organisation has exactly one ``shared``
record, and every ``shared`` or ``received`` record points to an alert that was delivered.

Which alerts must reconcile: those carrying a ``lawful_basis`` to an organisation other than
the sender (referral_received, did_not_attend, treatment_disengaged, conference_invitation,
register_cross_area). Operational alerts (lawful_basis null: disclosure_withheld,
referral_status, escalations, reminders, this service's own mismatch alerts) share nothing
with another organisation and have no record. A ``withheld`` record names an alert that was
never sent, so it needs none. Alerts and records younger than the grace period are left for
the next run (the record and the alert travel on different topics).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from isp_common.db import UnitOfWork
from isp_common.workingdays import london_date
from isp_schemas import topics
from isp_schemas.alerts import ReconciliationMismatchAlert
from isp_schemas.envelope import CloudEvent
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from . import chain
from .tables import AlertSeen as A
from .tables import DisclosureRecord as R
from .tables import ReconciliationRun

LIST_LIMIT = 1000
ALERT_LIMIT = 50


@dataclass(frozen=True)
class Mismatch:
    check: str
    reference: str
    recipient: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return self.__dict__.copy()


@dataclass
class Report:
    alerts: int
    records: int
    mismatches: list[Mismatch]
    total_mismatches: int

    @property
    def ok(self) -> bool:
        return self.total_mismatches == 0

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "alerts_checked": self.alerts,
            "records_checked": self.records,
            "mismatch_count": self.total_mismatches,
            "mismatches": [m.as_dict() for m in self.mismatches],
        }


def reconcile(session: Session, now: datetime | None = None, grace_seconds: float = 300.0) -> Report:
    now = now or datetime.now(UTC)
    cutoff = chain.utc_text(now - timedelta(seconds=grace_seconds))
    shared_alert = and_(A.basis.is_not(None), A.sender_org != A.recipient, A.seen_at < cutoff)
    has_record = exists().where(R.alert_id == A.alert_id, R.recipient == A.recipient, R.decision == "shared")
    has_alert = exists().where(A.alert_id == R.alert_id, A.recipient == R.recipient)
    record_expects_alert = and_(R.decision.in_(("shared", "received")), R.recorded_at < cutoff)
    W = aliased(R)
    contradicted = exists().where(W.alert_id == R.alert_id, W.recipient == R.recipient, W.decision == "withheld")

    checks = [
        (
            "shared_alert_has_no_record",
            select(A.alert_id, A.recipient).where(shared_alert, ~has_record),
            "alert delivered with a lawful basis but no shared record",
        ),
        (
            "record_has_no_alert",
            select(R.alert_id, R.recipient).where(record_expects_alert, ~has_alert),
            "record points to an alert never delivered",
        ),
        (
            "shared_and_withheld",
            select(R.alert_id, R.recipient).where(R.decision == "shared", contradicted),
            "the same share is recorded as both shared and withheld",
        ),
    ]
    mismatches: list[Mismatch] = []
    total = 0
    for check, stmt, detail in checks:
        total += session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        for alert_id, recipient in session.execute(stmt.limit(LIST_LIMIT - len(mismatches))):
            mismatches.append(Mismatch(check, alert_id, recipient, detail))
    alerts = session.execute(select(func.count()).where(shared_alert)).scalar_one()
    records = session.execute(select(func.count()).where(record_expects_alert)).scalar_one()
    return Report(alerts, records, mismatches, total)


def nightly(uow: UnitOfWork, ig_org: str, now: datetime, grace_seconds: float) -> Report:
    """Reconcile and alert partnership IG about each mismatch (up to ALERT_LIMIT); caller commits.

    Alert ids derive from the run date and the mismatch, so a rerun the same night repeats none.
    """
    report = reconcile(uow.session, now, grace_seconds)
    run_on = london_date(now).isoformat()  # the night, as agents.run_nightly reckons it
    uow.session.add(
        ReconciliationRun(
            id=str(uuid.uuid4()),
            run_on=run_on,
            at=chain.utc_text(now),
            alerts=report.alerts,
            records=report.records,
            mismatches=report.total_mismatches,
        )
    )
    for mismatch in report.mismatches[:ALERT_LIMIT]:
        alert_id = str(
            uuid.uuid5(
                uuid.NAMESPACE_URL,
                f"reconciliation/{run_on}/{mismatch.check}/{mismatch.reference}/{mismatch.recipient}",
            )
        )
        more = report.total_mismatches - ALERT_LIMIT
        detail = f"{mismatch.detail} (recipient {mismatch.recipient})" + (f"; {more} more" if more > 0 else "")
        data = ReconciliationMismatchAlert(
            alert_id=alert_id, sender_org=ig_org, check=mismatch.check, reference=mismatch.reference, detail=detail
        )
        event = CloudEvent.create(type=data.event_type, source_org=ig_org, data=data, id=alert_id)
        uow.publish(event, topics.alerts(ig_org), key=alert_id)
    return report


def ran_on(session: Session, day: str) -> bool:
    stmt = select(ReconciliationRun.id).where(ReconciliationRun.run_on == day).limit(1)
    return session.execute(stmt).first() is not None
