"""Ingest: one record per share (alert id + recipient + decision), appended to the chain;
and the ledger of alerts delivered on the alerts topics, for reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime

from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from sqlmodel import Session, select

from . import chain
from .records import build_row, record_id
from .tables import AlertSeen, DisclosureRecord


def head(session: Session) -> tuple[int, str]:
    """(size, hash) of the chain: (0, GENESIS) when it is empty."""
    row = session.exec(
        select(DisclosureRecord.seq, DisclosureRecord.hash).order_by(DisclosureRecord.seq.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, chain.GENESIS)


def disclosure_values(data: DisclosureRecorded) -> dict:
    values = data.model_dump(mode="json")
    values["children"] = [child.model_dump(mode="json", exclude_none=True) for child in data.children]
    values["shared_at"] = chain.utc_text(data.shared_at)
    values["id"] = record_id(data.alert_id, data.recipient, data.decision)
    return values


def append_disclosure(
    session: Session, data: DisclosureRecorded, now: datetime | None = None
) -> DisclosureRecord | None:
    """Append ``data`` to the chain unless that share is already recorded (then None).

    The single writer is the one consumer of ``isp.audit.v1``; were a second to race it,
    ``seq`` (primary key) and ``prev_hash`` (unique) make one of them fail and retry.
    """
    existing = session.exec(
        select(DisclosureRecord.seq).where(
            DisclosureRecord.alert_id == data.alert_id,
            DisclosureRecord.recipient == data.recipient,
            DisclosureRecord.decision == data.decision,
        )
    ).first()
    if existing is not None:
        return None
    size, prev_hash = head(session)
    recorded_at = chain.utc_text(now or datetime.now(UTC))
    row = build_row(size + 1, prev_hash, disclosure_values(data), recorded_at, chain.new_salt())
    record = DisclosureRecord(**row)
    session.add(record)
    return record


def disclosure_recorded(uow: UnitOfWork, event: CloudEvent, data: DisclosureRecorded) -> None:
    append_disclosure(uow.session, data)


def alert_delivered(session: Session, topic: str, event: CloudEvent, now: datetime | None = None) -> bool:
    """Note an alert seen on ``topic`` (idempotent); False when it is not an alert."""
    recipient = topics.alerts_org(topic)
    if recipient is None or not event.type.startswith("uk.isp.alert."):
        return False
    alert_id = event.data.get("alert_id") or event.id
    if session.get(AlertSeen, (alert_id, recipient)) is not None:
        return True
    basis = event.data.get("lawful_basis")
    session.add(
        AlertSeen(
            alert_id=alert_id,
            recipient=recipient,
            type=event.type,
            sender_org=event.data.get("sender_org") or event.source_org,
            basis=basis.get("kind") if isinstance(basis, dict) else None,
            event_time=chain.utc_text(event.time),
            seen_at=chain.utc_text(now or datetime.now(UTC)),
        )
    )
    return True


HANDLERS_BY_TOPIC = {topics.AUDIT: {DisclosureRecorded.event_type: disclosure_recorded}}
