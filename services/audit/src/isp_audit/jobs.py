"""The scheduled work: signing the head of the chain, and the nightly reconciliation and erasure.
Each takes a unit-of-work factory and the time; the agents run them on timers."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.audit import CheckpointSigned
from isp_schemas.envelope import CloudEvent
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from . import checkpoints, reconciliation, retention
from .domain import chain
from .domain.checkpointing import CheckpointPolicy
from .domain.nightly import NightlyPolicy, night_of
from .domain.retention import RETENTION_POLICY
from .handlers import head
from .tables import Checkpoint
from .verify import stored_checkpoints

log = logging.getLogger(__name__)


def take_checkpoint(
    uow: UnitOfWork, key: Ed25519PrivateKey, policy: CheckpointPolicy, now: datetime, org: str = "ISP-IG"
) -> checkpoints.SignedCheckpoint | None:
    """Sign the head if due: a row and an outbox event in this unit of work (caller commits)."""
    size, head_hash = head(uow.session)
    last = uow.session.exec(select(Checkpoint).order_by(col(Checkpoint.size).desc()).limit(1)).first()
    last_time = chain.parse_utc_text(last.time) if last else None
    if not policy.due(size, last.size if last else 0, last_time, now):
        return None
    signed = checkpoints.sign(key, size, head_hash, chain.utc_text(now), retention.erasure_head(uow.session))
    uow.session.add(Checkpoint(**signed.__dict__))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # the erasure head (once there is one) goes out on the event with the rest of the signed statement
    fields = {k: v for k, v in signed.__dict__.items() if k in CheckpointSigned.model_fields and v is not None}
    data = CheckpointSigned(log=checkpoints.LOG_NAME, public_key=base64.b64encode(public).decode(), **fields)
    event = CloudEvent.create(
        type=CheckpointSigned.event_type,
        source_org=org,
        data=data,
        subject=None,
        id=f"audit-checkpoint-{size}",
        time=now,
    )
    uow.publish(event, topics.AUDIT_CHECKPOINTS, key=checkpoints.LOG_NAME)
    return signed


def sign_head(
    new_uow: Callable[[], UnitOfWork],
    key: Ed25519PrivateKey,
    policy: CheckpointPolicy,
    file: Path,
    org: str,
    now: datetime,
) -> checkpoints.SignedCheckpoint | None:
    """Take a checkpoint if due, and once committed append it to the checkpoint file."""
    with new_uow() as uow:
        signed = take_checkpoint(uow, key, policy, now, org=org)
        uow.commit()
    if signed is not None:
        checkpoints.append_to_file(file, signed)
    return signed


def run_nightly(new_uow: Callable[[], UnitOfWork], policy: NightlyPolicy, now: datetime, force: bool = False) -> bool:
    """Once a night (after ``policy.hour`` Europe/London): reconcile, then erase expired records.

    ``new_uow`` is ``runtime.uow``; returns False when it is not yet time or tonight's run is done.
    """
    night = night_of(now)
    with new_uow() as uow:
        if not force and (not policy.after_hour(now) or reconciliation.ran_on(uow.session, night)):
            return False
        report = reconciliation.nightly(uow, policy.ig_org, now, policy.grace_seconds, night)
        erasure = retention.erase_expired(uow.session, policy.retention_days, RETENTION_POLICY, now)
        uow.commit()
    log.info("nightly: %d mismatches; %s records erased", report.total_mismatches, erasure.records if erasure else 0)
    return True


def restore_checkpoint_file(engine: Engine, file: Path) -> None:
    """Lines the file missed (a crash between commit and append) are written again."""
    in_file = set(checkpoints.read_file(file))
    for cp in stored_checkpoints(engine):
        if cp not in in_file:
            checkpoints.append_to_file(file, cp)
