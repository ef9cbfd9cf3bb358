"""Reactions to events: one record per share (alert id + recipient + decision), appended to the
chain; and the ledger of alerts delivered on the alerts topics, for reconciliation. Each takes
a unit of work; the caller commits."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from isp_common.clock import Clock
from isp_common.consumer import Handler
from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from sqlmodel import Session, col, select

from .domain import chain
from .domain.records import build_row, record_id
from .tables import AlertSeen, DisclosureRecord


def head(session: Session) -> tuple[int, str]:
    """(size, hash) of the chain: (0, GENESIS) when it is empty."""
    stmt = select(DisclosureRecord.seq, DisclosureRecord.hash).order_by(col(DisclosureRecord.seq).desc()).limit(1)
    row = session.exec(stmt).first()
    return (row[0], row[1]) if row else (0, chain.GENESIS)


def disclosure_values(data: DisclosureRecorded) -> dict[str, Any]:
    values = data.model_dump(mode="json")
    values["children"] = [child.model_dump(mode="json", exclude_none=True) for child in data.children]
    values["shared_at"] = chain.utc_text(data.shared_at)
    values["id"] = record_id(data.alert_id, data.recipient, data.decision)
    return values


def append_disclosure(uow: UnitOfWork, data: DisclosureRecorded, now: datetime) -> DisclosureRecord | None:
    """Append ``data`` to the chain, recorded at ``now``, unless that share is already recorded (then None).

    The single writer is the one consumer of ``isp.audit.v1``; were a second to race it,
    ``seq`` (primary key) and ``prev_hash`` (unique) make one of them fail and retry.
    """
    session = uow.session
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
    row = build_row(size + 1, prev_hash, disclosure_values(data), chain.utc_text(now), chain.new_salt())
    record = DisclosureRecord(**row)
    session.add(record)
    return record


def disclosure_recorded(uow: UnitOfWork, event: CloudEvent, data: DisclosureRecorded, *, clock: Clock) -> None:
    append_disclosure(uow, data, clock.now())


def alert_delivered(uow: UnitOfWork, topic: str, event: CloudEvent, now: datetime) -> bool:
    """Note an alert seen on ``topic`` at ``now`` (idempotent); False when it is not an alert."""
    recipient = topics.alerts_org(topic)
    if recipient is None or not event.type.startswith("uk.isp.alert."):
        return False
    alert_id = event.data.get("alert_id") or event.id
    if uow.session.get(AlertSeen, (alert_id, recipient)) is not None:
        return True
    basis = event.data.get("lawful_basis")
    uow.session.add(
        AlertSeen(
            alert_id=alert_id,
            recipient=recipient,
            type=event.type,
            sender_org=event.data.get("sender_org") or event.source_org,
            basis=basis.get("kind") if isinstance(basis, dict) else None,
            event_time=chain.utc_text(event.time),
            seen_at=chain.utc_text(now),
        )
    )
    return True


def by_topic(clock: Clock) -> dict[str, dict[str, Handler]]:
    """The handlers of each topic this service consumes, recording with ``clock``."""
    return {topics.AUDIT: {DisclosureRecorded.event_type: partial(disclosure_recorded, clock=clock)}}
