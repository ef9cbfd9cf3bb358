"""Reconciliation in the database: alerts delivered vs disclosure records (the rules are in
:mod:`isp_audit.domain.reconciliation`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.alerts import ReconciliationMismatchAlert
from isp_schemas.envelope import CloudEvent
from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from .domain import chain
from .domain import reconciliation as rules
from .domain.reconciliation import Mismatch, Report
from .tables import AlertSeen as A
from .tables import DisclosureRecord as R
from .tables import ReconciliationRun


def _must_have_a_record(cutoff: str) -> ColumnElement[bool]:
    """An alert shared with another organisation under a lawful basis, old enough to check."""
    return and_(col(A.basis).is_not(None), col(A.sender_org) != col(A.recipient), col(A.seen_at) < cutoff)


def _must_have_an_alert(cutoff: str) -> ColumnElement[bool]:
    """A shared or received record, old enough to check."""
    return and_(col(R.decision).in_(rules.DECISIONS_EXPECTING_AN_ALERT), col(R.recorded_at) < cutoff)


def _checks(cutoff: str) -> dict[str, Select[str, str]]:
    """Each check's query: (alert id, recipient) of every mismatch."""
    has_record = exists().where(
        col(R.alert_id) == col(A.alert_id), col(R.recipient) == col(A.recipient), col(R.decision) == "shared"
    )
    has_alert = exists().where(col(A.alert_id) == col(R.alert_id), col(A.recipient) == col(R.recipient))
    W = aliased(R)
    withheld_too = exists().where(
        col(W.alert_id) == col(R.alert_id),
        col(W.recipient) == col(R.recipient),
        col(W.decision) == "withheld",
        or_(col(R.supersedes).is_(None), col(R.supersedes) != col(W.id)),
    )
    superseded = exists().where(
        col(W.id) == col(R.supersedes), col(W.recipient) == col(R.recipient), col(W.decision) == "withheld"
    )
    return {
        rules.SHARED_ALERT_HAS_NO_RECORD: select(col(A.alert_id), col(A.recipient)).where(
            _must_have_a_record(cutoff), ~has_record
        ),
        rules.RECORD_HAS_NO_ALERT: select(col(R.alert_id), col(R.recipient)).where(
            _must_have_an_alert(cutoff), ~has_alert
        ),
        rules.SHARED_AND_WITHHELD: select(col(R.alert_id), col(R.recipient)).where(
            col(R.decision) == "shared", withheld_too
        ),
        rules.SUPERSEDES_UNKNOWN: select(col(R.alert_id), col(R.recipient)).where(
            col(R.supersedes).is_not(None), col(R.recorded_at) < cutoff, ~superseded
        ),
    }


def reconcile(session: Session, now: datetime, grace_seconds: float) -> Report:
    """Run every check; list up to ``LIST_LIMIT`` mismatches and count them all."""
    cutoff = rules.cutoff(now, grace_seconds)
    mismatches: list[Mismatch] = []
    total = 0
    for check, stmt in _checks(cutoff).items():
        total += session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        for alert_id, recipient in session.execute(stmt.limit(rules.LIST_LIMIT - len(mismatches))):
            mismatches.append(Mismatch(check, alert_id, recipient, rules.CHECKS[check]))
    alerts = session.execute(select(func.count()).where(_must_have_a_record(cutoff))).scalar_one()
    records = session.execute(select(func.count()).where(_must_have_an_alert(cutoff))).scalar_one()
    return Report(alerts, records, mismatches, total)


def nightly(uow: UnitOfWork, ig_org: str, now: datetime, grace_seconds: float, run_on: str) -> Report:
    """Reconcile, record the run of night ``run_on`` and alert partnership IG about each mismatch
    (up to ``ALERT_LIMIT``) through the outbox; the caller commits."""
    report = reconcile(uow.session, now, grace_seconds)
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
    for mismatch in report.mismatches[: rules.ALERT_LIMIT]:
        alert_id = rules.mismatch_alert_id(run_on, mismatch)
        data = ReconciliationMismatchAlert(
            alert_id=alert_id,
            sender_org=ig_org,
            check=mismatch.check,
            reference=mismatch.reference,
            detail=rules.alert_detail(mismatch, report.total_mismatches),
        )
        event = CloudEvent.create(type=data.event_type, source_org=ig_org, data=data, id=alert_id, time=now)
        uow.publish(event, topics.alerts(ig_org), key=alert_id)
    return report


def ran_on(session: Session, day: str) -> bool:
    stmt = select(col(ReconciliationRun.id)).where(col(ReconciliationRun.run_on) == day).limit(1)
    return session.execute(stmt).first() is not None
