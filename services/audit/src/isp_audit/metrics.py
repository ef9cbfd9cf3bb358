"""The audit service's own metrics: the chain's length (read at scrape time) and, from
:func:`isp_audit.verify.verify`, how long each verification took and whether it passed. So that
the "verify failed" alert has something to watch, the chain is also verified every
:data:`VERIFY_EVERY` seconds in the background, as ``GET /v1/verify`` does (without its access record).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from isp_common.runtime import ServiceRuntime
from prometheus_client.metrics_core import Metric
from sqlalchemy import text

from . import commands
from .context import Audit
from .tables import DISCLOSURE_TABLE

VERIFY_EVERY = 3600.0
"""Seconds between background verifications of the chain."""
log = logging.getLogger(__name__)


def register(runtime: ServiceRuntime, audit: Audit) -> None:
    """Export the chain's length; verify the chain every :data:`VERIFY_EVERY` seconds."""
    metrics = runtime.metrics

    def chain_length() -> Iterator[Metric]:
        with runtime.engine.connect() as conn:
            length = conn.execute(text(f"SELECT coalesce(max(seq), 0) FROM {DISCLOSURE_TABLE}")).scalar() or 0
        family = metrics.gauge("isp_audit_chain_length", "Records in the audit hash chain (its highest seq).")
        metrics.sample(family, float(length))
        yield family

    metrics.collect_with(chain_length)

    async def verify_chain() -> None:
        verdict = await asyncio.to_thread(commands.verify_trail, runtime.engine, audit)
        if not verdict.ok:
            log.error("audit chain verification failed at record %s: %s", verdict.first_bad_seq, verdict.reason)

    runtime.every(VERIFY_EVERY, verify_chain, name="verify_chain")
