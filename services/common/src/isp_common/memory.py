"""The glibc allocator settings a service process runs with.

Measured with ``python -m benchmarks.throughput --loads max:2000 --idle 0 --raw-messages 1000``
(docs/operations.md, "Memory"): about 130 MB of a service's resident memory is its imports and
start-up. Most of what the flat-out run added on top was glibc malloc arenas: glibc gives each
thread that allocates under contention an arena of its own, up to eight per core, and keeps
what each one ever held. A service's worker threads (the default executor behind
``asyncio.to_thread``, AnyIO's pool behind synchronous endpoints: 15 to 38 threads after the run)
left 13 to 45 MB in arenas. Python allocates under the GIL, so more arenas buy no parallelism;
:data:`ALLOCATOR_ENV` caps them at two (the main thread's and one the workers share; one measured
the same). glibc reads it when the process starts, so it goes in the process's environment: the
launcher sets it for each service, and so does the image (deploy/Dockerfile).
"""

from __future__ import annotations

from collections.abc import Mapping

ALLOCATOR_ENV: dict[str, str] = {"MALLOC_ARENA_MAX": "2"}
"""glibc malloc settings for a service process. A value the operator set wins."""


def with_allocator_settings(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with :data:`ALLOCATOR_ENV` added where it does not say otherwise."""
    return {**ALLOCATOR_ENV, **env}
