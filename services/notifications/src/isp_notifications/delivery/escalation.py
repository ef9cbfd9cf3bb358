"""Escalation to the sender's designated safeguarding lead (an alert on the sender's topic)
when an alert does not reach its recipient in time: an alert with a deadline neither
delivered by webhook nor acknowledged by then, and a delivery whose endpoint has failed for
``endpoint_failure_escalation`` seconds. The deadline timer runs these
(:func:`isp_notifications.deadlines.check_deadlines`); each takes a unit of work and ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from isp_common import metrics
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_schemas.alerts import DeliveryEscalationAlert
from sqlalchemy import func
from sqlmodel import col, select

from ..disclosure import queue_operational
from ..tables import AlertRecord, Delivery


def escalate(
    uow: UnitOfWork, alert: AlertRecord, why: str, missed: datetime, now: datetime, delivery: Delivery | None = None
) -> None:
    """Tell the sender's DSL that ``alert`` did not reach its recipient in time."""
    data = DeliveryEscalationAlert(
        alert_id="pending",
        sender_org=alert.sender,
        person=alert.event.get("data", {}).get("person"),
        escalated_alert_id=alert.id,
        escalated_type=alert.type,
        recipient=alert.recipient,
        missed_deadline=missed,
        attempts=delivery.attempts if delivery else None,
        last_error=_last_error(alert, delivery),
    )
    queue_operational(
        uow,
        data,
        sender=alert.sender,
        recipient=alert.sender,
        source_event_id=f"escalation/{alert.id}",
        now=now,
        key=why,
    )


def _last_error(alert: AlertRecord, delivery: Delivery | None) -> str | None:
    """The last failure, for a sender whose alert did not reach another organisation's endpoint; never
    for an organisation's own endpoint (it chose the URL: what answered there would be a port scanner)."""
    if delivery is None or delivery.org == alert.sender:
        return None
    return delivery.last_error


def escalate_missed_deadlines(uow: UnitOfWork, now: datetime) -> int:
    """Alerts with a deadline (the DNA's 24 hours) neither delivered nor acknowledged by it."""
    rows = uow.session.exec(
        select(AlertRecord).where(
            col(AlertRecord.deadline).is_not(None),
            col(AlertRecord.deadline) <= now,
            col(AlertRecord.escalated).is_(False),
            col(AlertRecord.acknowledged_at).is_(None),
            col(AlertRecord.status).in_(("pending", "failed")),
        )
    ).all()
    for alert in rows:
        last = uow.session.exec(
            select(Delivery).where(Delivery.alert_id == alert.id).order_by(col(Delivery.attempts).desc())
        ).first()
        escalate(uow, alert, "deadline", as_utc(alert.deadline) or now, now, last)
        alert.escalated = True
        uow.session.add(alert)
        metrics.count_on_commit(uow, "isp_deadlines_missed", type=alert.type)
    return len(rows)


def past_deadline(uow: UnitOfWork, now: datetime) -> list[tuple[str, int]]:
    """How many alerts of each type are past their deadline, neither delivered nor acknowledged
    (escalated or not): for the ``isp_alerts_past_deadline`` gauge."""
    rows = uow.session.exec(
        select(AlertRecord.type, func.count())
        .where(
            col(AlertRecord.deadline).is_not(None),
            col(AlertRecord.deadline) <= now,
            col(AlertRecord.acknowledged_at).is_(None),
            col(AlertRecord.status).in_(("pending", "failed")),
        )
        .group_by(AlertRecord.type)
    ).all()
    return [(alert_type, int(count)) for alert_type, count in rows]


def escalate_failing_endpoints(uow: UnitOfWork, now: datetime, after: float) -> int:
    """Deliveries whose endpoint has been failing for ``after`` seconds."""
    since = now - timedelta(seconds=after)
    rows = uow.session.exec(
        select(Delivery).where(
            col(Delivery.status).in_(("pending", "failed")),
            col(Delivery.escalated).is_(False),
            col(Delivery.first_failure_at).is_not(None),
            col(Delivery.first_failure_at) <= since,
        )
    ).all()
    count = 0
    for delivery in rows:
        delivery.escalated = True
        uow.session.add(delivery)
        alert = uow.session.get(AlertRecord, delivery.alert_id)
        if alert is None or alert.type == DeliveryEscalationAlert.event_type:
            continue  # never escalate an escalation: it would go round the same failing endpoint
        failing_since = as_utc(delivery.first_failure_at) or since  # never None: selected for it
        escalate(
            uow, alert, f"endpoint/{delivery.subscription_id}", failing_since + timedelta(seconds=after), now, delivery
        )
        count += 1
    return count
