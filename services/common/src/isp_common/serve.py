"""Run a service's runtime under uvicorn (``python -m isp_<service>``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import uvicorn

from .runtime import ServiceRuntime


def serve(build: Callable[[], ServiceRuntime]) -> None:
    logging.basicConfig(
        level=os.environ.get("ISP_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("faust").setLevel(logging.WARNING)
    logging.getLogger("mode").setLevel(logging.WARNING)
    runtime = build()
    uvicorn.run(
        runtime.api,
        host=runtime.settings.host,
        port=runtime.settings.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
