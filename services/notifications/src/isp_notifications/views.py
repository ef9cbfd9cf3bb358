"""What the HTTP API reads: the caller's own subscriptions, delivery log, alerts and consents.

A thing of another organisation is ``Forbidden``; one that does not exist (or an alert taken
back before it left) is ``NotFound``.
"""

from __future__ import annotations

from datetime import date

from isp_common.errors import Forbidden, NotFound
from sqlmodel import Session, col, select

from .domain.consents import consent_state
from .domain.errors import SubscriptionUnnamed
from .models import AlertPage, AlertPublic, AlertStatus, ConsentPublic
from .tables import AlertRecord, ConsentRecord, Delivery, DeliveryAttempt, Subscription

# -- subscriptions ----------------------------------------------------------------------------


def own_subscription(session: Session, org: str, subscription_id: str) -> Subscription:
    sub = session.get(Subscription, subscription_id)
    if sub is None or not sub.active:
        raise NotFound(f"No subscription {subscription_id}.")
    if sub.org != org:
        raise Forbidden("This is not your organisation's subscription.")
    return sub


def subscriptions_of(session: Session, org: str) -> list[Subscription]:
    stmt = select(Subscription).where(Subscription.org == org, col(Subscription.active).is_(True))
    return list(session.exec(stmt).all())


def delivery_log(session: Session, org: str, subscription_id: str, limit: int) -> list[DeliveryAttempt]:
    """The subscription's tries, newest first."""
    own_subscription(session, org, subscription_id)
    stmt = (
        select(DeliveryAttempt)
        .where(DeliveryAttempt.subscription_id == subscription_id)
        .order_by(col(DeliveryAttempt.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt).all())


# -- alerts -----------------------------------------------------------------------------------


def own_alert(session: Session, org: str, alert_id: str) -> AlertRecord:
    alert = session.get(AlertRecord, alert_id)
    if alert is None or alert.status == "withheld":  # taken back before it left: never the recipient's
        raise NotFound(f"No alert {alert_id}.")
    if alert.recipient != org:
        raise Forbidden("This alert is for another organisation.")
    return alert


def alerts_for(session: Session, org: str, status: AlertStatus | None, limit: int) -> AlertPage:
    """The organisation's alerts, newest first (never one taken back before it left)."""
    stmt = select(AlertRecord).where(AlertRecord.recipient == org, AlertRecord.status != "withheld")
    if status:
        stmt = stmt.where(AlertRecord.status == status)
    rows = session.exec(stmt.order_by(col(AlertRecord.created_at).desc()).limit(limit)).all()
    return AlertPage(items=[AlertPublic.of(a) for a in rows])


def replay(
    session: Session, org: str, subscription_id: str | None, after: int, status: AlertStatus | None, limit: int
) -> AlertPage:
    """A subscription's alerts after number ``after`` of its running count, in order."""
    sub = _replayed_subscription(session, org, subscription_id)
    stmt = (
        select(Delivery, AlertRecord)
        .where(Delivery.alert_id == AlertRecord.id, Delivery.subscription_id == sub.id)
        .where(Delivery.event_number > after)
        .where(AlertRecord.status != "withheld")
    )
    if status:
        stmt = stmt.where(AlertRecord.status == status)
    rows = session.exec(stmt.order_by(col(Delivery.event_number)).limit(limit)).all()
    return AlertPage(items=[AlertPublic.of(a, d.event_number) for d, a in rows], event_count=sub.event_count)


def _replayed_subscription(session: Session, org: str, subscription_id: str | None) -> Subscription:
    """The named subscription, or the organisation's only one."""
    if subscription_id:
        return own_subscription(session, org, subscription_id)
    subs = subscriptions_of(session, org)
    if len(subs) != 1:
        raise SubscriptionUnnamed()
    return subs[0]


# -- consents ---------------------------------------------------------------------------------


def consent_for_recorder(session: Session, org: str, consent_id: str, today: date) -> ConsentPublic:
    """A consent as this service holds it, for the organisation that recorded it."""
    row = session.get(ConsentRecord, consent_id)
    if row is None:
        raise NotFound(f"No consent {consent_id} has been received.")
    if row.recorded_by != org:
        raise Forbidden("Only the organisation that recorded a consent can read it.")
    return ConsentPublic.of(row, consent_state(row.given_on, row.expires_on, row.withdrawn_at, today))
