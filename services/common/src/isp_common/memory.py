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

import ctypes
import functools
from collections.abc import Callable, Mapping

ALLOCATOR_ENV: dict[str, str] = {"MALLOC_ARENA_MAX": "2"}
"""glibc malloc settings for a service process. A value the operator set wins."""


def with_allocator_settings(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with :data:`ALLOCATOR_ENV` added where it does not say otherwise."""
    return {**ALLOCATOR_ENV, **env}


class QuietTrim:
    """Hands the allocator's free memory back to the system once a burst of events is over.

    After a burst, glibc keeps the freed memory of its arenas for reuse (18 MB in referrals and
    notifications after the flat-out benchmark). The consumers :meth:`note` what they handle; a
    timer calls :meth:`tick`, which trims (``malloc_trim(0)``, a few milliseconds) at the first tick
    that finds no events since the one before, once per burst: never while events flow."""

    def __init__(self, trim: Callable[[], bool] | None = None) -> None:
        self._trim = trim or malloc_trim
        self.handled = 0
        self._at_last_tick = 0
        self._at_last_trim = 0
        self.trims = 0

    def note(self, events: int) -> None:
        self.handled += events

    def tick(self) -> bool:
        """Trim if a burst has just ended; return whether it did."""
        busy = self.handled != self._at_last_tick
        self._at_last_tick = self.handled
        if busy or self.handled == self._at_last_trim:
            return False
        self._at_last_trim = self.handled
        self.trims += 1
        return self._trim()


def malloc_trim() -> bool:
    """glibc's ``malloc_trim(0)``: return what the heap and arenas hold free to the system. False
    where there is no glibc (the call is skipped)."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - present only in glibc
    except (OSError, AttributeError):
        return None
    return libc
