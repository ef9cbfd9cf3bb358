"""The composition root: the runtime (probes, tokens, limits, metrics), the gateway's signer and
rate limit, and the API. Tests call :func:`build` with their own engine, clock and producer."""

from __future__ import annotations

from typing import Unpack

from isp_common.bootstrap import Collaborators
from isp_common.eventkeys import ensure_signer
from isp_common.ratelimit import RateLimit
from isp_common.runtime import ServiceRuntime

from . import api
from .context import Gateway
from .settings import Settings


def build(settings: Settings | None = None, **collaborators: Unpack[Collaborators]) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP events gateway",
        description="Partners without a Kafka client publish events over HTTP; the gateway validates them as a "
        "consumer would, signs them on the caller's behalf and answers once the broker has them.",
        **collaborators,
    )
    runtime.context = Gateway(
        signer=ensure_signer(settings.resolved_event_key_file, create=settings.environment == "embedded"),
        limit=RateLimit(rate=settings.rate_per_second, burst=max(settings.burst, settings.max_batch)),
        max_batch=settings.max_batch,
        send_timeout=settings.send_timeout_seconds,
    )
    for router in api.routers:
        runtime.api.include_router(router)
    return runtime
