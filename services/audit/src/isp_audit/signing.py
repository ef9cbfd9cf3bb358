"""Taking a checkpoint: sign the head when N records or M seconds have passed since the last."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.audit import CheckpointSigned
from isp_schemas.envelope import CloudEvent
from sqlmodel import select

from . import chain
from .checkpoints import LOG_NAME, SignedCheckpoint, append_to_file, sign
from .handlers import head
from .tables import Checkpoint


@dataclass(frozen=True)
class CheckpointPolicy:
    every_records: int
    every_seconds: float


def due(size: int, last: Checkpoint | None, now: datetime, policy: CheckpointPolicy) -> bool:
    """True when the head should be signed now (never for an empty or unchanged chain)."""
    last_size = last.size if last else 0
    if size <= last_size:
        return False
    if size - last_size >= policy.every_records:
        return True
    if last is None:
        return True
    return (now - chain.parse_utc_text(last.time)).total_seconds() >= policy.every_seconds


def take_checkpoint(
    uow: UnitOfWork,
    key: Ed25519PrivateKey,
    policy: CheckpointPolicy,
    now: datetime | None = None,
    org: str = "ISP-IG",
) -> SignedCheckpoint | None:
    """Sign the head if due: a row and an outbox event in this unit of work (caller commits)."""
    now = now or datetime.now(UTC)
    size, head_hash = head(uow.session)
    last = uow.session.exec(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)).first()
    if not due(size, last, now, policy):
        return None
    signed = sign(key, size, head_hash, chain.utc_text(now))
    uow.session.add(Checkpoint(**signed.__dict__))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    data = CheckpointSigned(log=LOG_NAME, public_key=base64.b64encode(public).decode(), **signed.__dict__)
    event = CloudEvent.create(
        type=CheckpointSigned.event_type, source_org=org, data=data, subject=None, id=f"audit-checkpoint-{size}"
    )
    uow.publish(event, topics.AUDIT_CHECKPOINTS, key=LOG_NAME)
    return signed


def checkpoint_now(uow_factory, key: Ed25519PrivateKey, policy: CheckpointPolicy, file: Path, org: str) -> None:
    with uow_factory() as uow:
        signed = take_checkpoint(uow, key, policy, org=org)
        uow.commit()
    if signed is not None:
        append_to_file(file, signed)
