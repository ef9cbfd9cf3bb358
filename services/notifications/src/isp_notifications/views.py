"""What the HTTP API reads: the caller's own subscriptions, delivery log, alerts and consents.

A thing of another organisation is ``Forbidden``; one that does not exist (or an alert taken
back before it left) is ``NotFound``.
"""

from __future__ import annotations

import base64
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from isp_common.errors import Forbidden, NotFound
from sqlalchemy import func, tuple_
from sqlmodel import Session, col, select

from .domain.consents import consent_state
from .domain.errors import BadCursor, SubscriptionUnnamed
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
    """The subscription's tries, newest first (not the cancellations: no try, and their reasons are the sender's)."""
    own_subscription(session, org, subscription_id)
    stmt = (
        select(DeliveryAttempt)
        .where(DeliveryAttempt.subscription_id == subscription_id, DeliveryAttempt.outcome != "cancelled")
        .order_by(col(DeliveryAttempt.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt).all())


# -- alerts -----------------------------------------------------------------------------------


def own_alert(session: Session, org: str, alert_id: str, hidden: Collection[str] = ()) -> AlertRecord:
    """The organisation's alert; one of a ``hidden`` type (the DSL's, to anyone else) does not exist for the caller."""
    alert = session.get(AlertRecord, alert_id)
    if alert is None or alert.status == "withheld" or alert.type in hidden:  # withheld: taken back before it left
        raise NotFound("No alert with that id.")
    if alert.recipient != org:
        raise Forbidden("This alert is for another organisation.")
    return alert


def alerts_for(
    session: Session,
    org: str,
    status: AlertStatus | None,
    limit: int,
    cursor: str | None = None,
    hidden: Collection[str] = (),
) -> AlertPage:
    """One page of the organisation's alerts, newest first (never one taken back before it left,
    nor one of a ``hidden`` type), how many there are in all, and the cursor of the next page."""
    stmt = select(AlertRecord).where(AlertRecord.recipient == org, AlertRecord.status != "withheld")
    if hidden:
        stmt = stmt.where(col(AlertRecord.type).not_in(hidden))
    if status:
        stmt = stmt.where(AlertRecord.status == status)
    total = _count(session, stmt)
    if cursor is not None:
        at, alert_id = _decode_cursor(cursor)
        stmt = stmt.where(tuple_(col(AlertRecord.created_at), col(AlertRecord.id)) < tuple_(at, alert_id))
    order = (col(AlertRecord.created_at).desc(), col(AlertRecord.id).desc())
    rows = list(session.exec(stmt.order_by(*order).limit(limit + 1)).all())
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = _encode_cursor(rows[-1]) if more else None
    return AlertPage(items=[AlertPublic.of(a) for a in rows], total=total, next=next_cursor)


def replay(
    session: Session,
    org: str,
    subscription_id: str | None,
    after: int,
    status: AlertStatus | None,
    limit: int,
    hidden: Collection[str] = (),
) -> AlertPage:
    """A subscription's alerts after number ``after`` of its running count, in order; ``next`` is
    the number of the page's last alert (the next ``after``) while more follow."""
    sub = _replayed_subscription(session, org, subscription_id)
    stmt = (
        select(Delivery, AlertRecord)
        .where(Delivery.alert_id == AlertRecord.id, Delivery.subscription_id == sub.id)
        .where(Delivery.event_number > after)
        .where(AlertRecord.status != "withheld")
    )
    if hidden:
        stmt = stmt.where(col(AlertRecord.type).not_in(hidden))
    if status:
        stmt = stmt.where(AlertRecord.status == status)
    total = _count(session, stmt)
    rows = list(session.exec(stmt.order_by(col(Delivery.event_number)).limit(limit + 1)).all())
    more, rows = len(rows) > limit, rows[:limit]
    next_after = str(rows[-1][0].event_number) if more else None
    items = [AlertPublic.of(a, d.event_number) for d, a in rows]
    return AlertPage(items=items, total=total, next=next_after, event_count=sub.event_count)


def _count(session: Session, stmt: Any) -> int:
    return int(session.exec(select(func.count()).select_from(stmt.subquery())).one())


def _encode_cursor(alert: AlertRecord) -> str:
    return base64.urlsafe_b64encode(f"{alert.created_at.isoformat()}|{alert.id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, alert_id = text.split("|", 1)
        return datetime.fromisoformat(at), alert_id
    except ValueError:  # bad base64, not UTF-8 (a ValueError too), no separator, not a time
        raise BadCursor() from None


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
        raise NotFound("No consent with that id has been received.")
    if row.recorded_by != org:
        raise Forbidden("Only the organisation that recorded a consent can read it.")
    return ConsentPublic.of(row, consent_state(row.given_on, row.expires_on, row.withdrawn_at, today))
