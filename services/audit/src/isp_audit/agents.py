"""Thin faust adapters: the audit topic's consumer, the checkpoint timer, the nightly jobs and
the alerts ledger."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.db import UnitOfWork
from isp_common.runtime import ServiceRuntime
from isp_common.workingdays import LONDON

from . import reconciliation, retention
from .config import Settings
from .handlers import HANDLERS_BY_TOPIC
from .ledger import AlertsLedger
from .signing import CheckpointPolicy, checkpoint_now

log = logging.getLogger(__name__)


def register(runtime: ServiceRuntime, settings: Settings, key: Ed25519PrivateKey) -> None:
    for topic, handlers in HANDLERS_BY_TOPIC.items():
        runtime.subscribe(topic, handlers)
    policy = CheckpointPolicy(settings.checkpoint_every_records, settings.checkpoint_every_seconds)

    async def sign_head() -> None:
        await asyncio.to_thread(
            checkpoint_now, runtime.uow, key, policy, settings.checkpoint_file, settings.partnership_ig_org
        )

    runtime.every(settings.checkpoint_poll_seconds, sign_head, name="sign_head")

    async def nightly_jobs() -> None:
        await asyncio.to_thread(run_nightly, runtime.uow, settings, datetime.now(UTC))

    runtime.every(settings.nightly_poll_seconds, nightly_jobs, name="nightly")

    ledger = AlertsLedger(
        settings.kafka_bootstrap, f"isp-{runtime.name}-alerts-ledger", runtime.uow, settings.alerts_metadata_max_age_ms
    )

    @runtime.faust.task
    async def alerts_ledger() -> None:
        await ledger.run()


def run_nightly(new_uow: Callable[[], UnitOfWork], settings: Settings, now: datetime, force: bool = False) -> bool:
    """Once a night (after ``nightly_hour`` Europe/London): reconcile, then erase expired records.

    ``new_uow`` is ``runtime.uow``; returns False when it is not yet time or tonight's run is done.
    """
    local = now.astimezone(LONDON)
    with new_uow() as uow:
        if not force and (
            local.hour < settings.nightly_hour or reconciliation.ran_on(uow.session, local.date().isoformat())
        ):
            return False
        report = reconciliation.nightly(uow, settings.partnership_ig_org, now, settings.reconciliation_grace_seconds)
        erasure = retention.erase_expired(uow.session, settings.retention_days, "retention-policy", now)
        uow.commit()
    log.info("nightly: %d mismatches; %s records erased", report.total_mismatches, erasure.records if erasure else 0)
    return True
