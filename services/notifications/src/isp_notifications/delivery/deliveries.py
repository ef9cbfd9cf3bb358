"""What a delivery pass reads and writes: the due deliveries, the check before each try, the
outcome of a try, and the idle subscriptions due a heartbeat. Each takes a unit of work and
``now``, so unit tests drive them with explicit times.

* A due delivery is re-checked first: a withheld alert, a deleted subscription, or a consent
  withdrawn since the alert was queued cancels it (CONTRACT §6: a withdrawal stops alerts
  queued but not yet sent).
* The outcome of a try follows :func:`isp_notifications.domain.delivery.after_try`.
* Every try is written to the delivery log (``notifications_delivery_attempt``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from sqlmodel import col, select

from .. import facts
from ..domain import policy
from ..domain.delivery import RetrySchedule, Step, after_try
from ..tables import AlertRecord, Delivery, DeliveryAttempt, Subscription
from .sealing import SecretBox
from .webhooks import Outcome

BATCH = 50


def due(uow: UnitOfWork, now: datetime, limit: int = BATCH) -> list[Delivery]:
    return list(
        uow.session.exec(
            select(Delivery)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(col(Delivery.next_attempt_at))
            .limit(limit)
        )
    )


def still_to_send(uow: UnitOfWork, delivery: Delivery, now: datetime) -> Subscription | None:
    """The subscription to send to, or None after cancelling a delivery that must not go."""
    sub = uow.session.get(Subscription, delivery.subscription_id)
    alert = uow.session.get(AlertRecord, delivery.alert_id)
    reason = None
    if sub is None or not sub.active:
        reason = "subscription deleted"
    elif alert is None or alert.status == "withheld":
        reason = "alert withheld"
    elif alert.lawful_basis and not _basis_holds(uow, alert, now):
        reason = "consent withdrawn or expired"
    if reason is None:
        return sub
    cancel_delivery(uow, delivery, reason, now)
    return None


def cancel_delivery(uow: UnitOfWork, delivery: Delivery, reason: str, now: datetime) -> None:
    """Stop a pending delivery for good, and say why in its delivery log."""
    delivery.status, delivery.last_error = "cancelled", reason
    uow.session.add(delivery)
    _log(uow, delivery, now, "cancelled", reason)


def _log(
    uow: UnitOfWork, delivery: Delivery, now: datetime, result: str, error: str | None, tried: Outcome | None = None
) -> None:
    """One line of the delivery log: a try (with its answer) or a cancellation."""
    uow.session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            subscription_id=delivery.subscription_id,
            attempt=delivery.attempts,
            at=now,
            status_code=tried.status_code if tried else None,
            outcome=result,
            error=error,
            duration_ms=tried.duration_ms if tried else None,
        )
    )


def _basis_holds(uow: UnitOfWork, alert: AlertRecord, now: datetime) -> bool:
    request = policy.Request(
        recipient=alert.recipient,
        purpose=alert.purpose or policy.SAFEGUARDING,
        required=tuple(alert.data_categories),
        at=now,
        person=alert.nhs_number,
    )
    known = policy.Facts(consents=facts.consents_of(uow.session, alert.nhs_number))
    return policy.basis_still_holds(alert.lawful_basis, request, known)


def record_outcome(
    uow: UnitOfWork, delivery: Delivery, outcome: Outcome, now: datetime, schedule: RetrySchedule
) -> Step:
    """Write down one try and what follows it: delivered, a retry, or failed for good (returned)."""
    sub = uow.session.get(Subscription, delivery.subscription_id)
    alert = uow.session.get(AlertRecord, delivery.alert_id)
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    step = after_try(outcome.ok, delivery.attempts, as_utc(delivery.first_attempt_at), now, schedule)
    if step.result == "delivered":
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        if alert is not None and alert.status in ("pending", "failed"):
            alert.status, alert.delivered_at = "delivered", now
            uow.session.add(alert)
        if sub is not None:
            sub.failing_since = None
    else:
        delivery.last_error = outcome.error
        delivery.first_failure_at = delivery.first_failure_at or now
        if sub is not None:
            sub.failing_since = sub.failing_since or now
        if step.result == "failed":
            delivery.status = "failed"
            if alert is not None and alert.status == "pending":
                alert.status = "failed"
                uow.session.add(alert)
        elif step.next_attempt_at is not None:
            delivery.next_attempt_at = step.next_attempt_at
    if sub is not None:
        sub.last_sent_at = now
        uow.session.add(sub)
    uow.session.add(delivery)
    _log(uow, delivery, now, step.result, outcome.error, outcome)
    return step


def signing_keys(sub: Subscription, box: SecretBox, now: datetime) -> tuple[str, ...]:
    """The secrets a try to ``sub`` is signed with at ``now``: its secret, and while a rotation's
    overlap lasts, the one it replaced (Standard Webhooks: several signatures, any one verifies)."""
    keys = [box.open(sub.secret_sealed)]
    until = as_utc(sub.previous_secret_until)
    if sub.previous_secret_sealed and until is not None and now < until:
        keys.append(box.open(sub.previous_secret_sealed))
    return tuple(keys)


def idle_subscriptions(uow: UnitOfWork, now: datetime, interval: float) -> list[Subscription]:
    """Active subscriptions sent nothing for ``interval`` seconds (none when heartbeats are off)."""
    if interval <= 0:
        return []
    since = now - timedelta(seconds=interval)
    subs = uow.session.exec(select(Subscription).where(col(Subscription.active).is_(True))).all()
    return [s for s in subs if as_utc(s.last_sent_at or s.created_at) <= since]


def record_heartbeat(uow: UnitOfWork, subscription_id: str, outcome: Outcome, now: datetime) -> None:
    """Write a heartbeat try to the delivery log; a heartbeat counts as the subscription's last send."""
    sub = uow.session.get(Subscription, subscription_id)
    if sub is not None:
        sub.last_sent_at = now
        uow.session.add(sub)
    uow.session.add(
        DeliveryAttempt(
            subscription_id=subscription_id,
            kind="heartbeat",
            attempt=1,
            at=now,
            status_code=outcome.status_code,
            error=outcome.error,
            outcome="delivered" if outcome.ok else "failed",
            duration_ms=outcome.duration_ms,
        )
    )
