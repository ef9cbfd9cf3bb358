"""Ingest: one record per share (alert id + recipient + decision), appended to the chain."""

from __future__ import annotations

import uuid

from isp_common.db import UnitOfWork
from isp_common.tables import utcnow
from isp_schemas import topics
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from sqlmodel import select

from . import chain
from .tables import DisclosureRecord


def chained_body(record: DisclosureRecord) -> dict:
    body = record.model_dump(mode="json", exclude={"hash", "prev_hash"})
    return body


def disclosure_recorded(uow: UnitOfWork, event: CloudEvent, data: DisclosureRecorded) -> None:
    existing = uow.session.exec(
        select(DisclosureRecord.seq).where(
            DisclosureRecord.alert_id == data.alert_id,
            DisclosureRecord.recipient == data.recipient,
            DisclosureRecord.decision == data.decision,
        )
    ).first()
    if existing is not None:
        return
    head = uow.session.exec(select(DisclosureRecord).order_by(DisclosureRecord.seq.desc()).limit(1)).first()
    seq = (head.seq if head else 0) + 1
    prev_hash = head.hash if head else chain.GENESIS
    record = DisclosureRecord(
        seq=seq,
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"disclosure/{data.alert_id}/{data.recipient}/{data.decision}")),
        recorded_at=utcnow(),
        shared_at=data.shared_at,
        decision=data.decision,
        discloser=data.discloser,
        recipient=data.recipient,
        person=data.person,
        children=[c.model_dump(mode="json") if hasattr(c, "model_dump") else c for c in data.children],
        purpose=data.purpose,
        data_categories=list(data.data_categories),
        lawful_basis=data.lawful_basis.model_dump(mode="json")
        if hasattr(data.lawful_basis, "model_dump")
        else data.lawful_basis,
        service_user_informed=data.service_user_informed,
        not_informed_reason=data.not_informed_reason,
        source_event_id=data.source_event_id,
        alert_id=data.alert_id,
        alert_type=data.alert_type,
        channel=data.channel,
        trace_id=data.trace_id,
        reason=data.reason,
        prev_hash=prev_hash,
        hash="",
    )
    record.hash = chain.record_hash(prev_hash, chained_body(record))
    uow.session.add(record)


HANDLERS_BY_TOPIC = {topics.AUDIT: {DisclosureRecorded.event_type: disclosure_recorded}}
