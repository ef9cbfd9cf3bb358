"""The composition root: the only place that builds the runtime, the audit context, the
agents, the API and the pages. Tests call :func:`build` with their own engine and clock."""

from __future__ import annotations

from typing import Unpack

from isp_common.bootstrap import Collaborators
from isp_common.pages import install_page_set
from isp_common.runtime import ServiceRuntime

from . import agents, api, checkpoints, guard, jobs, metrics, pages
from .context import Audit
from .settings import Settings


def build(settings: Settings | None = None, **collaborators: Unpack[Collaborators]) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP audit",
        description="The tamper-evident record of every share, and the queries information-governance officers need.",
        **collaborators,
    )
    guard.protect(runtime.engine)
    audit = Audit.from_settings(settings, checkpoints.ensure_signing_key(settings.resolved_checkpoint_key_dir))
    runtime.context = audit
    agents.subscribe(runtime, settings, audit)
    metrics.register(runtime, audit)
    for router in api.routers:
        runtime.api.include_router(router)
    install_page_set(runtime.api, pages.page_set(secure_cookie=settings.environment != "embedded"))
    for router in pages.routers:
        runtime.api.include_router(router)

    async def restore_checkpoint_file() -> None:
        jobs.restore_checkpoint_file(runtime.engine, audit.checkpoint_file)

    runtime.on_startup(restore_checkpoint_file)
    return runtime
