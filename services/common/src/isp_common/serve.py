"""Run a service's runtime under uvicorn (``python -m isp_<service>``)."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from . import logs
from .runtime import ServiceRuntime


def serve(build: Callable[[], ServiceRuntime]) -> None:
    """Logs as :mod:`isp_common.logs` says (JSON lines, or text with ``ISP_LOG_FORMAT=text``); the
    runtime's own access log replaces uvicorn's, which would log raw paths and query strings."""
    handler = logs.configure("isp")
    runtime = build()
    handler.filters = [logs.ContextFilter(runtime.name)]
    uvicorn.run(
        runtime.api,
        host=runtime.settings.host,
        port=runtime.settings.port,
        log_level="warning",
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
