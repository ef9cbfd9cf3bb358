"""A consent withdrawn at 10:00 stops every share decided after 10:00, including alerts
already queued but not yet sent (CONTRACT §6): this module stops the queued ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.tables import OutboxMessage, QuarantinedOutboxMessage
from isp_common.times import as_utc
from sqlmodel import col, select

from .delivery.deliveries import cancel_delivery
from .disclosure import Audited, withhold
from .tables import AlertRecord, Delivery, SourceEvent, WithheldShare


def stop_queued_under(uow: UnitOfWork, consent_id: str, nhs_number: str, now: datetime) -> int:
    """A consent was withdrawn: stop every alert shared under it that has not yet been sent.

    An alert whose outbox row has not reached the broker is taken back (its withholding is
    audited and the sender told); pending webhook deliveries are cancelled. Returns how many
    alerts were stopped on some channel.
    """
    stopped = 0
    alerts = uow.session.exec(
        select(AlertRecord).where(AlertRecord.nhs_number == nhs_number, AlertRecord.status == "pending")
    ).all()
    for alert in alerts:
        if (alert.lawful_basis or {}).get("consent_id") != consent_id:
            continue
        hit = _cancel_deliveries(uow, alert.id, now)
        outbox: list[OutboxMessage | QuarantinedOutboxMessage] = [
            *uow.session.exec(
                select(OutboxMessage).where(OutboxMessage.event_id == alert.id, col(OutboxMessage.sent_at).is_(None))
            ),
            # a quarantined row has not reached the broker either: an operator's release must not send it
            *uow.session.exec(select(QuarantinedOutboxMessage).where(QuarantinedOutboxMessage.event_id == alert.id)),
        ]
        for row in outbox:
            uow.session.delete(row)
        if outbox:
            _withhold_queued(uow, alert, "consent withdrawn before the alert was sent", now)
        if hit or outbox:
            stopped += 1
    return stopped


def _cancel_deliveries(uow: UnitOfWork, alert_id: str, now: datetime) -> bool:
    pending = uow.session.exec(
        select(Delivery).where(Delivery.alert_id == alert_id, Delivery.status == "pending")
    ).all()
    for delivery in pending:
        cancel_delivery(uow, delivery, "consent withdrawn", now)
    return bool(pending)


def _withhold_queued(uow: UnitOfWork, alert: AlertRecord, reason: str, now: datetime) -> None:
    """Take the alert back: audited withheld, the sender told, and the share kept open to a new
    decision (another basis may yet hold) while its causing event is kept."""
    alert.status = "withheld"
    uow.session.add(alert)
    person: dict[str, Any] | None = alert.event.get("data", {}).get("person")
    withhold(uow, Audited.of_alert(alert), person, alert.data_categories, reason, now)
    kept = uow.session.get(SourceEvent, alert.source_event_id) if alert.source_event_id else None
    if kept is None:
        return
    share = uow.session.get(WithheldShare, alert.id) or WithheldShare(
        alert_id=alert.id,
        alert_type=alert.type,
        sender=alert.sender,
        recipient=alert.recipient,
        nhs_number=alert.nhs_number,
        source_event_id=kept.id,
        purpose=alert.purpose or "safeguarding",
        categories=list(alert.data_categories),
        reason=reason,
        withheld_at=now,
        deadline=as_utc(alert.deadline),
        open_until=now,
    )
    # open again (a share released earlier and now taken back, too) until its causing event's time is up
    share.state, share.reason, share.released_at, share.released_basis = "open", reason, None, None
    share.open_until = max(as_utc(share.open_until) or now, as_utc(kept.kept_until) or now)
    uow.session.add(share)
