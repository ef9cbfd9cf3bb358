"""Sharing one alert with one organisation: decide, then queue the alert and its audit record
in the same transaction (no alert can leave without its record), or audit the withholding
and tell the sending organisation's designated safeguarding lead.

Audit policy (decided here, documented in the service README):

* every policy decision about a share (``shared`` or ``withheld``) is recorded, channel
  ``kafka`` (the alert's first channel; webhooks carry the same alert id);
* a recipient's acknowledgement of an audited alert is recorded as ``received``, channel
  ``api``, so the trail holds both ends of each share;
* operational alerts (to an organisation's own DSL, or that carry no person) are not
  disclosures and are not recorded. Referral status news does carry a person across
  organisations, so it goes through the policy like any other share.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from isp_common import telemetry
from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.alerts import AlertBase, DisclosureWithheldAlert
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from sqlmodel import col, select

from . import facts
from .domain import policy
from .domain.shares import BuildData, Share, alert_id_for, audit_event_id, delivery_id_for, withheld_alert_id
from .tables import AlertRecord, Delivery, InformingStatement, Subscription

log = logging.getLogger(__name__)
NOT_YET_TOLD = "not yet told"


@dataclass(frozen=True)
class Audited:
    """One alert as its audit records name it: the share it is, between whom, about whom."""

    alert_id: str
    alert_type: str
    discloser: str
    recipient: str
    nhs_number: str | None
    purpose: str
    source_event_id: str | None

    @classmethod
    def of_share(cls, share: Share) -> Audited:
        return cls(
            share.alert_id,
            share.alert_type,
            share.sender,
            share.recipient,
            share.nhs_number,
            share.purpose,
            share.source_event_id,
        )

    @classmethod
    def of_alert(cls, alert: AlertRecord) -> Audited:
        return cls(
            alert.id,
            alert.type,
            alert.sender,
            alert.recipient,
            alert.nhs_number,
            alert.purpose or policy.SAFEGUARDING,
            alert.source_event_id,
        )


def decide(uow: UnitOfWork, share: Share, now: datetime) -> policy.Decision:
    children = facts.linked_children(uow.session, share.nhs_number) + list(share.children)
    known = facts.facts_about(
        uow.session, share.nhs_number, children, emergency=share.emergency, register_match=share.register_match
    )
    request = policy.Request(
        recipient=share.recipient,
        purpose=share.purpose,
        required=share.required,
        optional=share.optional,
        at=now,
        person=share.nhs_number,
        children=[policy.ChildRef.of(c) for c in children],
    )
    return policy.decide(request, known)


def share_alert(uow: UnitOfWork, share: Share, build: BuildData, now: datetime) -> policy.Decision:
    """Decide and queue, with the audit record, in the caller's unit of work."""
    if uow.session.get(AlertRecord, share.alert_id) is not None:
        return policy.Decision(True, reason="already queued")
    decision = decide(uow, share, now)
    if decision.shared:
        _queue_shared(uow, share, decision, build, now)
    else:
        withhold(uow, Audited.of_share(share), share.person, [*share.required, *share.optional], decision.reason, now)
    log.info(
        "disclosure %s: alert %s type %s from %s to %s",
        "shared" if decision.shared else "withheld",
        share.alert_id,
        share.alert_type,
        share.sender,
        share.recipient,
    )
    return decision


def _queue_shared(uow: UnitOfWork, share: Share, decision: policy.Decision, build: BuildData, now: datetime) -> None:
    """The alert with only the categories its basis covers, and the ``shared`` record, together."""
    assert decision.basis is not None  # a share always has its lawful basis
    data = build(share.alert_id, decision.basis, decision.categories)
    children = share.children_sent(decision.categories)
    record = queue_alert(
        uow, share.alert_id, share.alert_type, share.sender, share.recipient, data, share.deadline, now
    )
    record.lawful_basis = decision.basis
    record.purpose = share.purpose
    record.data_categories = list(decision.categories)
    record.children = list(children)
    record.nhs_number = share.nhs_number
    record.audited = True
    record.source_event_id = share.source_event_id
    informed = informing(uow, share.sender, share.nhs_number) if decision.statutory else (None, None)
    publish_record(
        uow,
        Audited.of_share(share),
        "shared",
        children=children,
        categories=list(decision.categories),
        basis=decision.basis,
        informed=informed,
        channel="kafka",
        at=now,
    )


def withhold(
    uow: UnitOfWork,
    about: Audited,
    person: dict[str, Any] | None,
    categories: list[str],
    reason: str | None,
    now: datetime,
) -> None:
    """Audit a withheld share and tell the sending organisation's DSL."""
    reason = reason or "no lawful basis"
    publish_record(
        uow, about, "withheld", children=[], categories=categories, basis=None, channel="kafka", at=now, reason=reason
    )
    tell_sender_withheld(uow, about, person, reason, now)


def tell_sender_withheld(
    uow: UnitOfWork, about: Audited, person: dict[str, Any] | None, reason: str, now: datetime
) -> None:
    if person is None:  # only a register match carries no person, and it always has a ground
        log.warning("withheld alert %s has no person: sender not alerted", about.alert_id)
        return
    withheld_id = withheld_alert_id(about.alert_id)
    if uow.session.get(AlertRecord, withheld_id) is not None:
        return
    data = DisclosureWithheldAlert(
        alert_id=withheld_id,
        person=person,
        sender_org=about.discloser,
        withheld_type=about.alert_type,
        intended_recipient=about.recipient,
        reason=reason,
        source_event_id=about.source_event_id,
        withheld_alert_id=about.alert_id,
    )
    queue_alert(uow, withheld_id, data.event_type, about.discloser, about.discloser, data, None, now)


def informing(uow: UnitOfWork, sender: str, nhs_number: str | None) -> tuple[bool, str | None]:
    """Whether the sender has told the service user of statutory shares (default: not yet)."""
    statement = uow.session.get(InformingStatement, (sender, nhs_number)) if nhs_number else None
    if statement is None:
        return False, NOT_YET_TOLD
    return statement.informed, None if statement.informed else statement.reason or NOT_YET_TOLD


def queue_alert(
    uow: UnitOfWork,
    alert_id: str,
    alert_type: str,
    sender: str,
    recipient: str,
    data: AlertBase,
    deadline: datetime | None,
    now: datetime,
) -> AlertRecord:
    """Put the alert on the recipient's topic (through the outbox) and queue its webhooks."""
    nhs_number = data.person.nhs_number if data.person else None
    # absent, not null: a field left out was withheld (or does not apply); a register match has no person
    body = data.model_dump(mode="json", exclude_none=True)
    event = CloudEvent.create(type=alert_type, source_org=sender, data=body, subject=nhs_number, id=alert_id)
    record = AlertRecord(
        id=alert_id,
        type=alert_type,
        recipient=recipient,
        sender=sender,
        nhs_number=nhs_number,
        event=event.model_dump(mode="json", exclude_none=True),
        deadline=deadline.astimezone(UTC) if deadline else None,
        created_at=now,
    )
    uow.session.add(record)
    uow.publish(event, topics.alerts(recipient), key=topics.message_key(event))
    queue_webhooks(uow, record, now)
    return record


def queue_webhooks(uow: UnitOfWork, record: AlertRecord, now: datetime) -> None:
    """One delivery per subscription of the recipient that takes this type, numbered in its running count."""
    subs = uow.session.exec(
        select(Subscription).where(Subscription.org == record.recipient, col(Subscription.active).is_(True))
    ).all()
    for sub in subs:
        if sub.types and "*" not in sub.types and record.type not in sub.types:
            continue
        sub.event_count += 1
        body = dict(record.event)
        body["subscription"] = sub.id
        body["eventnumber"] = sub.event_count
        uow.session.add(sub)
        uow.session.add(
            Delivery(
                id=delivery_id_for(record.id, sub.id),
                alert_id=record.id,
                subscription_id=sub.id,
                org=sub.org,
                event_number=sub.event_count,
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                traceparent=telemetry.current_traceparent(),
                next_attempt_at=now,
            )
        )


def queue_operational(
    uow: UnitOfWork,
    data: AlertBase,
    *,
    sender: str,
    recipient: str,
    source_event_id: str,
    now: datetime,
    key: str = "",
    deadline: datetime | None = None,
) -> AlertRecord | None:
    """An operational alert (no lawful basis: to a party about its own work, or to its own DSL)."""
    alert_type = data.event_type
    alert_id = alert_id_for(source_event_id, alert_type, recipient, key)
    if uow.session.get(AlertRecord, alert_id) is not None:
        return None
    data = data.model_copy(update={"alert_id": alert_id})
    return queue_alert(uow, alert_id, alert_type, sender, recipient, data, deadline, now)


def publish_record(
    uow: UnitOfWork,
    about: Audited,
    decision: str,
    *,
    children: list[dict[str, Any]],
    categories: list[str],
    basis: dict[str, Any] | None,
    channel: str,
    at: datetime,
    informed: tuple[bool | None, str | None] = (None, None),
    reason: str | None = None,
) -> None:
    """Queue the audit record of ``decision`` about the alert (``shared``, ``withheld``, ``received``)."""
    record = DisclosureRecorded(
        alert_id=about.alert_id,
        alert_type=about.alert_type,
        decision=decision,
        discloser=about.discloser,
        recipient=about.recipient,
        person=about.nhs_number,
        children=children,
        purpose=about.purpose,
        data_categories=categories,
        lawful_basis=basis,
        service_user_informed=informed[0],
        not_informed_reason=informed[1],
        source_event_id=about.source_event_id,
        channel=channel,
        trace_id=telemetry.current_trace_id(),
        shared_at=at,
        reason=reason,
    )
    event = CloudEvent.create(
        type=DisclosureRecorded.event_type,
        source_org=about.discloser,
        data=record,
        subject=about.nhs_number,
        id=audit_event_id(about.alert_id, decision),
    )
    uow.publish(event, topics.AUDIT, key=about.nhs_number)


def record_receipt(uow: UnitOfWork, alert: AlertRecord, now: datetime) -> None:
    """The recipient acknowledged an audited alert: record the receiving end of the share."""
    publish_record(
        uow,
        Audited.of_alert(alert),
        "received",
        children=alert.children,
        categories=alert.data_categories,
        basis=alert.lawful_basis,
        channel="api",
        at=now,
    )
