"""Run a service's runtime under uvicorn (``python -m isp_<service>``)."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import sys
from collections.abc import Callable, Mapping

# httpx imports its command-line client with itself whenever click, rich and pygments are installed
# (typer brings them, for the ``isp`` commands): about 6 MB of a service's resident memory for a
# client it never runs. A ``None`` entry makes that import fail, and httpx then goes without it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import uvicorn  # noqa: E402

from . import logs  # noqa: E402
from .runtime import ServiceRuntime  # noqa: E402
from .settings import ServiceSettings  # noqa: E402


def serve(build: Callable[..., ServiceRuntime]) -> None:
    """Logs as :mod:`isp_common.logs` says (JSON lines, or text with ``ISP_LOG_FORMAT=text``); the
    runtime's own access log replaces uvicorn's, which would log raw paths and query strings. The
    service's settings are checked before anything is built (no migration, no key made) and a
    production configuration with a problem stops here."""
    package = build.__module__.split(".")[0]  # isp_audit.bootstrap: isp_audit
    logs.configure(package.removeprefix("isp_"))
    refuse_unstated_environment(os.environ)
    settings: ServiceSettings = importlib.import_module(f"{package}.settings").Settings()
    refuse_unsafe_production(settings)
    wait_for_the_broker(settings)
    runtime = build(settings)
    collect_less_often()
    hand_over_the_gil_sooner()
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


GC_YOUNG_COLLECTION_AFTER = 10_000
"""Container objects allocated (net) before the cyclic collector's young collection (CPython's
default is 700). A consumed batch allocates thousands that reference counting frees anyway; at
700 the collector ran every 20 or so events, its older generations with it (22-25 µs of CPU per
DNA in referrals, in process); at 10,000 under 1 µs, with the same peak memory."""


def collect_less_often() -> None:
    """Run the cyclic garbage collector less often while serving: a young collection every
    :data:`GC_YOUNG_COLLECTION_AFTER` allocations, and what start-up built (modules, the app, the
    runtime: nearly every object the process holds) frozen out of every collection."""
    gc.set_threshold(GC_YOUNG_COLLECTION_AFTER, *gc.get_threshold()[1:])
    gc.freeze()


GIL_SWITCH_INTERVAL = 0.0005
"""Seconds a thread waiting for the GIL waits before it asks the running thread to hand it over
(CPython's default is 5 ms). A service applies each consumed batch in a worker thread, in Python,
while its event loop signs and sends the outbox and fetches: each signature, each socket call lets
the GIL go, and the loop then waited up to the whole interval to have it back. Measured in process
(the outbox relay against the embedded broker, another thread running Python meanwhile): 176-263
rows a second at 5 ms, 1,288-1,631 at 0.5 ms (16,000-18,000 with nothing else running). Shorter
intervals cost CPU in hand-overs (two Python threads' CPU time over their wall time: 1.04 at 0.5 ms,
1.07 at 0.2 ms, 1.00 at 5 ms)."""


def hand_over_the_gil_sooner() -> None:
    """A thread that let the GIL go for a C call (a signature, a socket) has it back within
    :data:`GIL_SWITCH_INTERVAL` of asking, however busy the service's other threads are."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)


def refuse_unstated_environment(environ: Mapping[str, str]) -> None:
    """A service never assumes where it runs: ``ISP_ENVIRONMENT`` must say (``make run`` and the test
    suites say ``embedded``; the image says ``production``). Unset, the process exits (code 2)."""
    if environ.get("ISP_ENVIRONMENT"):
        return
    logging.getLogger("isp.serve").critical(
        "refusing to start: ISP_ENVIRONMENT is not set; say production (real data, fails closed) or embedded "
        "(a laptop: make run sets it)"
    )
    sys.exit(2)


def wait_for_the_broker(settings: ServiceSettings) -> None:
    """A service started before its Kafka broker answers (its container first, the broker
    restarting) waits for it, asking again with back-off for up to ``kafka_start_timeout`` seconds.
    Then, if it still does not answer, one line says which broker, and the process exits (code 3,
    as for uvicorn's own start-up failures) before it builds anything: not a traceback."""
    from .kafka import client_auth, credentials
    from .kafka_clients import reach_broker

    log = logging.getLogger("isp.serve")
    timeout = settings.kafka_start_timeout
    if asyncio.run(reach_broker(settings.kafka_bootstrap, client_auth(credentials(settings)), timeout, log)):
        return
    log.critical(
        "refusing to start: the Kafka broker at %s did not answer within %.0fs (ISP_KAFKA_BOOTSTRAP; "
        "ISP_KAFKA_START_TIMEOUT says how long to wait)",
        settings.kafka_bootstrap,
        timeout,
    )
    sys.exit(3)


def refuse_unsafe_production(settings: ServiceSettings) -> None:
    """Production fails closed: a service whose settings have any production problem logs each and
    exits (code 2) before it builds or serves anything."""
    problems = settings.production_problems()
    if not problems:
        return
    log = logging.getLogger("isp.serve")
    for problem in problems:
        log.critical("refusing to start in production: %s", problem)
    sys.exit(2)
