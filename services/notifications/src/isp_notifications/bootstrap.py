"""The composition root: the only place that builds the runtime, the HTTP client and the
delivery loop. Collaborators are parameters, so tests pass fakes (an in-memory engine, a
``FixedClock``, a ``FakeHttpClient``) to the same ``build``."""

from __future__ import annotations

from typing import Unpack

import httpx
from isp_common.bootstrap import Collaborators
from isp_common.runtime import ServiceRuntime

from . import agents
from .api import ROUTERS
from .context import Notifications
from .delivery.loop import DeliveryLoop
from .delivery.urls import webhook_client
from .handlers import deciders
from .settings import Settings


def build(
    settings: Settings | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
    **collaborators: Unpack[Collaborators],
) -> ServiceRuntime:
    """The notifications service; ``http_client`` posts webhooks (default: one with the settings' timeout)."""
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP notifications",
        description="Consent-aware disclosure: every alert to another organisation, its lawful basis and its delivery.",
        **collaborators,
    )
    http = http_client or webhook_client(settings.environment, settings.webhook_timeout)  # pinned to checked IPs
    calendar = settings.working_calendar()
    context = Notifications(
        settings=settings,
        calendar=calendar,
        delivery=DeliveryLoop(runtime, settings, http),
        deciders=deciders(calendar),
    )
    runtime.context = context
    agents.register(runtime, context)
    for router in ROUTERS:
        runtime.api.include_router(router)
    return runtime
