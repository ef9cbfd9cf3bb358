"""Thin faust adapters: the audit topic's consumer, the checkpoint timer, the nightly jobs and
the alerts ledger."""

from __future__ import annotations

import asyncio

from isp_common.runtime import ServiceRuntime

from . import handlers, jobs
from .context import Audit
from .ledger import AlertsLedger
from .settings import Settings


def subscribe(runtime: ServiceRuntime, settings: Settings, audit: Audit) -> None:
    for topic, topic_handlers in handlers.by_topic(runtime.clock).items():
        runtime.subscribe(topic, topic_handlers)

    async def sign_head() -> None:
        policy, key, file, org = audit.checkpoints, audit.signing_key, audit.checkpoint_file, audit.ig_org
        await asyncio.to_thread(jobs.sign_head, runtime.uow, key, policy, file, org, runtime.clock.now())

    runtime.every(settings.checkpoint_poll_seconds, sign_head, name="sign_head")

    async def nightly_jobs() -> None:
        await asyncio.to_thread(jobs.run_nightly, runtime.uow, audit.nightly, runtime.clock.now())

    runtime.every(settings.nightly_poll_seconds, nightly_jobs, name="nightly")

    ledger = AlertsLedger(
        settings.kafka_bootstrap,
        f"isp-{runtime.name}-alerts-ledger",
        runtime.uow,
        settings.alerts_metadata_max_age_ms,
        runtime.clock,
    )

    async def alerts_ledger() -> None:
        await ledger.run()

    runtime.faust.task(alerts_ledger)
