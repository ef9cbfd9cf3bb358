"""Run a service's runtime under uvicorn (``python -m isp_<service>``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import uvicorn

from . import logs
from .runtime import ServiceRuntime


def serve(build: Callable[[], ServiceRuntime]) -> None:
    """Logs as :mod:`isp_common.logs` says (JSON lines, or text with ``ISP_LOG_FORMAT=text``); the
    runtime's own access log replaces uvicorn's, which would log raw paths and query strings."""
    logs.configure(build.__module__.split(".")[0].removeprefix("isp_"))  # isp_audit.bootstrap: audit
    runtime = build()
    refuse_unsafe_production(runtime)
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


def refuse_unsafe_production(runtime: ServiceRuntime) -> None:
    """Production fails closed: a service whose settings have any production problem logs each and
    exits (code 2) before it serves anything."""
    problems = runtime.settings.production_problems()
    if not problems:
        return
    log = logging.getLogger("isp.serve")
    for problem in problems:
        log.critical("refusing to start in production: %s", problem)
    sys.exit(2)
