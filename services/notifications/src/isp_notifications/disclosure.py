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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from isp_common import telemetry
from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.alerts import DisclosureWithheldAlert
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from pydantic import BaseModel
from sqlmodel import select

from . import facts, policy
from .tables import AlertRecord, Delivery, InformingStatement, Subscription

log = logging.getLogger(__name__)
NOT_YET_TOLD = "not yet told"


@dataclass(frozen=True)
class Share:
    """An intended share of information about a person from ``sender`` to ``recipient``."""

    alert_type: str
    sender: str
    recipient: str
    nhs_number: str | None
    person: dict | None
    source_event_id: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    children: list = field(default_factory=list)
    children_category: str | None = None
    """The category the children's details fall under (None: the alert carries no children)."""
    purpose: str = policy.SAFEGUARDING
    deadline: datetime | None = None
    emergency: bool = False
    register_match: bool = False
    key: str = ""
    """Extra part of the alert id when one event makes several alerts to one recipient."""

    @property
    def alert_id(self) -> str:
        return alert_id_for(self.source_event_id, self.alert_type, self.recipient, self.key)


def alert_id_for(source_event_id: str, alert_type: str, recipient: str, key: str = "") -> str:
    name = f"{source_event_id}/{alert_type}/{recipient}" + (f"/{key}" if key else "")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


BuildData = Callable[[str, dict, tuple[str, ...]], BaseModel]
"""``build(alert_id, lawful_basis, categories)`` -> the alert's data, with only covered categories."""


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


def share_alert(uow: UnitOfWork, share: Share, build: BuildData, now: datetime | None = None) -> policy.Decision:
    """Decide and queue, with the audit record, in the caller's unit of work."""
    now = now or datetime.now(UTC)
    if uow.session.get(AlertRecord, share.alert_id) is not None:
        return policy.Decision(True, reason="already queued")
    decision = decide(uow, share, now)
    if decision.shared:
        data = build(share.alert_id, decision.basis, decision.categories)
        children = share.children if share.children_category in decision.categories else []
        record = queue_alert(uow, share.alert_id, share.alert_type, share.sender, share.recipient, data, share.deadline)
        record.lawful_basis = decision.basis
        record.purpose = share.purpose
        record.data_categories = list(decision.categories)
        record.children = list(children)
        record.nhs_number = share.nhs_number
        record.audited = True
        record.source_event_id = share.source_event_id
        publish_record(
            uow,
            alert_id=share.alert_id,
            alert_type=share.alert_type,
            decision="shared",
            discloser=share.sender,
            recipient=share.recipient,
            nhs_number=share.nhs_number,
            children=children,
            purpose=share.purpose,
            categories=list(decision.categories),
            basis=decision.basis,
            informed=informing(uow, share.sender, share.nhs_number) if decision.statutory else (None, None),
            source_event_id=share.source_event_id,
            channel="kafka",
            at=now,
        )
    else:
        withhold(uow, share, decision.reason or "no lawful basis", now)
    log.info(
        "disclosure %s: alert %s type %s from %s to %s",
        "shared" if decision.shared else "withheld",
        share.alert_id,
        share.alert_type,
        share.sender,
        share.recipient,
    )
    return decision


def withhold(uow: UnitOfWork, share: Share, reason: str, now: datetime) -> None:
    """Audit a withheld share and tell the sending organisation's DSL."""
    publish_record(
        uow,
        alert_id=share.alert_id,
        alert_type=share.alert_type,
        decision="withheld",
        discloser=share.sender,
        recipient=share.recipient,
        nhs_number=share.nhs_number,
        children=[],
        purpose=share.purpose,
        categories=[*share.required, *share.optional],
        basis=None,
        informed=(None, None),
        source_event_id=share.source_event_id,
        channel="kafka",
        at=now,
        reason=reason,
    )
    tell_sender_withheld(
        uow,
        share.alert_id,
        share.alert_type,
        share.sender,
        share.recipient,
        share.person,
        reason,
        share.source_event_id,
    )


def tell_sender_withheld(
    uow: UnitOfWork,
    alert_id: str,
    alert_type: str,
    sender: str,
    recipient: str,
    person: dict | None,
    reason: str,
    source_event_id: str | None,
) -> None:
    if person is None:  # only a register match carries no person, and it always has a ground
        log.warning("withheld alert %s has no person: sender not alerted", alert_id)
        return
    withheld_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{alert_id}/withheld"))
    if uow.session.get(AlertRecord, withheld_id) is not None:
        return
    data = DisclosureWithheldAlert(
        alert_id=withheld_id,
        person=person,
        sender_org=sender,
        withheld_type=alert_type,
        intended_recipient=recipient,
        reason=reason,
        source_event_id=source_event_id,
        withheld_alert_id=alert_id,
    )
    queue_alert(uow, withheld_id, DisclosureWithheldAlert.event_type, sender, sender, data, None)


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
    data: BaseModel,
    deadline: datetime | None,
) -> AlertRecord:
    """Put the alert on the recipient's topic (through the outbox) and queue its webhooks."""
    nhs_number = getattr(getattr(data, "person", None), "nhs_number", None)
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
    )
    uow.session.add(record)
    uow.publish(event, topics.alerts(recipient), key=topics.message_key(event))
    queue_webhooks(uow, record)
    return record


def queue_webhooks(uow: UnitOfWork, record: AlertRecord) -> None:
    subs = uow.session.exec(
        select(Subscription).where(Subscription.org == record.recipient, Subscription.active == True)  # noqa: E712
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
                id="msg_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{record.id}/{sub.id}").hex,
                alert_id=record.id,
                subscription_id=sub.id,
                org=sub.org,
                event_number=sub.event_count,
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                traceparent=telemetry.current_traceparent(),
            )
        )


def queue_operational(
    uow: UnitOfWork,
    data: BaseModel,
    *,
    sender: str,
    recipient: str,
    source_event_id: str,
    key: str = "",
    deadline: datetime | None = None,
) -> AlertRecord | None:
    """An operational alert (no lawful basis: to a party about its own work, or to its own DSL)."""
    alert_type = data.event_type  # type: ignore[attr-defined]
    alert_id = alert_id_for(source_event_id, alert_type, recipient, key)
    if uow.session.get(AlertRecord, alert_id) is not None:
        return None
    data = data.model_copy(update={"alert_id": alert_id})
    return queue_alert(uow, alert_id, alert_type, sender, recipient, data, deadline)


def publish_record(
    uow: UnitOfWork,
    *,
    alert_id: str,
    alert_type: str,
    decision: str,
    discloser: str,
    recipient: str,
    nhs_number: str | None,
    children: list,
    purpose: str,
    categories: list[str],
    basis: dict | None,
    informed: tuple[bool | None, str | None],
    source_event_id: str | None,
    channel: str,
    at: datetime,
    reason: str | None = None,
) -> None:
    record = DisclosureRecorded(
        alert_id=alert_id,
        alert_type=alert_type,
        decision=decision,
        discloser=discloser,
        recipient=recipient,
        person=nhs_number,
        children=children,
        purpose=purpose,
        data_categories=categories,
        lawful_basis=basis,
        service_user_informed=informed[0],
        not_informed_reason=informed[1],
        source_event_id=source_event_id,
        channel=channel,
        trace_id=telemetry.current_trace_id(),
        shared_at=at,
        reason=reason,
    )
    event = CloudEvent.create(
        type=DisclosureRecorded.event_type,
        source_org=discloser,
        data=record,
        subject=nhs_number,
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"audit/{alert_id}/{decision}")),
    )
    uow.publish(event, topics.AUDIT, key=nhs_number)


def record_receipt(uow: UnitOfWork, alert: AlertRecord, now: datetime) -> None:
    """The recipient acknowledged an audited alert: record the receiving end of the share."""
    publish_record(
        uow,
        alert_id=alert.id,
        alert_type=alert.type,
        decision="received",
        discloser=alert.sender,
        recipient=alert.recipient,
        nhs_number=alert.nhs_number,
        children=alert.children,
        purpose=alert.purpose or policy.SAFEGUARDING,
        categories=alert.data_categories,
        basis=alert.lawful_basis,
        informed=(None, None),
        source_event_id=alert.source_event_id,
        channel="api",
        at=now,
    )
