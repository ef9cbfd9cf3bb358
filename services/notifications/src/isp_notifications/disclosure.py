"""Sharing one alert with one organisation: decide, then queue the alert and its
audit record in the same transaction (no alert can leave without its record),
or audit the withholding and tell the sending organisation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from isp_common import telemetry
from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.alerts import DisclosureWithheldAlert
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from sqlmodel import select

from . import policy
from .tables import AlertRecord, ConsentRecord

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Share:
    """An intended share of information about ``nhs_number`` from ``sender`` to ``recipient``."""

    alert_type: str
    sender: str
    recipient: str
    nhs_number: str | None
    person: dict | None
    children: list
    purpose: str
    data_categories: tuple[str, ...]
    source_event_id: str
    deadline: datetime | None = None
    emergency: bool = False


def facts_for(uow: UnitOfWork, share: Share) -> policy.Facts:
    consents = []
    if share.nhs_number:
        rows = uow.session.exec(select(ConsentRecord).where(ConsentRecord.nhs_number == share.nhs_number))
        consents = [
            policy.Consent(
                consent_id=r.id,
                recipients=r.recipients,
                purposes=r.purposes,
                data_categories=r.data_categories,
                given_on=r.given_on,
                expires_on=r.expires_on,
                withdrawn_at=_aware(r.withdrawn_at),
            )
            for r in rows
        ]
    return policy.Facts(consents=consents, emergency=share.emergency)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def share_alert(uow: UnitOfWork, share: Share, build_data: Any, now: datetime | None = None) -> policy.Decision:
    """Decide and queue. ``build_data(alert_id, lawful_basis, categories)`` returns the alert's data model."""
    now = now or datetime.now(UTC)
    request = policy.Request(
        recipient=share.recipient,
        purpose=share.purpose,
        data_categories=share.data_categories,
        at=now,
        today=now.astimezone(LONDON).date(),
    )
    decision = policy.decide(request, facts_for(uow, share))
    alert_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{share.source_event_id}/{share.alert_type}/{share.recipient}"))
    if decision.shared:
        data = build_data(alert_id, decision.basis, decision.categories)
        queue_alert(
            uow, alert_id, share.alert_type, share.sender, share.recipient, share.nhs_number, data, share.deadline
        )
    else:
        withheld_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{alert_id}/withheld"))
        data = DisclosureWithheldAlert(
            alert_id=withheld_id,
            person=share.person,
            lawful_basis=None,
            sender_org=share.sender,
            withheld_type=share.alert_type,
            intended_recipient=share.recipient,
            reason=decision.reason or "no lawful basis",
            source_event_id=share.source_event_id,
        )
        queue_alert(
            uow,
            withheld_id,
            DisclosureWithheldAlert.event_type,
            share.sender,
            share.sender,
            share.nhs_number,
            data,
            None,
        )
    record_decision(uow, share, alert_id, decision, now)
    return decision


def queue_alert(
    uow: UnitOfWork,
    alert_id: str,
    alert_type: str,
    sender: str,
    recipient: str,
    nhs_number: str | None,
    data: Any,
    deadline: datetime | None,
) -> AlertRecord:
    event = CloudEvent.create(type=alert_type, source_org=sender, data=data, subject=nhs_number, id=alert_id)
    record = AlertRecord(
        id=alert_id,
        type=alert_type,
        recipient=recipient,
        sender=sender,
        nhs_number=nhs_number,
        event=event.model_dump(mode="json"),
        deadline=deadline,
    )
    uow.session.add(record)
    uow.publish(event, topics.alerts(recipient), key=nhs_number)
    return record


def record_decision(uow: UnitOfWork, share: Share, alert_id: str, decision: policy.Decision, now: datetime) -> None:
    record = DisclosureRecorded(
        alert_id=alert_id,
        alert_type=share.alert_type,
        decision="shared" if decision.shared else "withheld",
        discloser=share.sender,
        recipient=share.recipient,
        person=share.nhs_number,
        children=share.children if decision.shared else [],
        purpose=share.purpose,
        data_categories=list(decision.categories if decision.shared else share.data_categories),
        lawful_basis=decision.basis,
        service_user_informed=None,
        not_informed_reason=None,
        source_event_id=share.source_event_id,
        channel="kafka",
        trace_id=telemetry.current_trace_id(),
        shared_at=now,
        reason=decision.reason,
    )
    event = CloudEvent.create(
        type=DisclosureRecorded.event_type,
        source_org=share.sender,
        data=record,
        subject=share.nhs_number,
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"audit/{alert_id}/{record.decision}")),
    )
    uow.publish(event, topics.AUDIT, key=share.nhs_number)
