"""Thin faust adapters: the audit topic's consumer, the checkpoint timer, the nightly jobs, the
alerts ledger and the keeper of the dead-letter topic."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from isp_common.runtime import ServiceRuntime
from isp_schemas import topics

from . import handlers, jobs, rejections
from .context import Audit
from .ledger import AlertsLedger
from .settings import Settings

log = logging.getLogger(__name__)


def subscribe(runtime: ServiceRuntime, settings: Settings, audit: Audit) -> None:
    for topic, topic_handlers in handlers.by_topic(runtime.clock).items():
        runtime.subscribe(topic, topic_handlers, prefetch=handlers.READ_AHEAD.get(topic))

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
        runtime.kafka_auth,
        fetch_min_bytes=settings.alerts_fetch_min_bytes,
        fetch_max_wait_ms=settings.alerts_fetch_max_wait_ms,
    )

    async def alerts_ledger() -> None:
        await ledger.run()

    runtime.faust.task(alerts_ledger)
    keep_rejections(runtime)


def keep_rejections(runtime: ServiceRuntime) -> None:
    """Consume ``isp.deadletter.v1`` into one rejection per original event. faust acknowledges
    what its agent read even when the agent raises, so a batch that cannot be kept holds the
    partition and is tried again."""
    channel = runtime.faust.topic(topics.DEADLETTER, key_serializer="raw", value_serializer="raw")

    async def keep(stream: Any) -> None:
        async for events in stream.take_events(500, within=0.5):
            records = [(e.message.key, e.message.value, e.message.headers, e.message.timestamp) for e in events]
            letters = rejections.letters_of(records, runtime.clock.now())
            while True:
                try:
                    await asyncio.to_thread(rejections.keep_all, runtime.uow, letters)
                    break
                except Exception:
                    log.exception("could not keep %d dead letters; retrying", len(letters))
                    await asyncio.sleep(1.0)

    runtime.faust.agent(channel, name=f"{runtime.name}.rejections", concurrency=1)(keep)
