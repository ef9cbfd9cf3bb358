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

What a burst leaves behind is trimmed as well (:func:`heap_trimmer`): glibc keeps the heap's freed
memory for later, and returns to the system only what is free at the heap's top. A consumed batch, a
relayed page of the outbox, a connection beyond the pool's ten leave holes below memory still in use.
Measured in the services during the flat-out benchmark, ``malloc_trim(0)`` gave back 1 to 17 MB of a
service's resident memory (referrals after its first burst: 141 -> 124 MB) and took 0.1 to 1.5 ms.
A service trims once it has gone quiet after work (:class:`QuietTrim`: checked every
``memory_trim_interval`` seconds, a setting; 0 turns it off), not while it works: trimming every
second during a burst gave back pages the next batch faulted in again, and in process cost a decision
about 3 % more CPU (394 against 405 µs, rounds taken in turn).
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

ALLOCATOR_ENV: dict[str, str] = {"MALLOC_ARENA_MAX": "2"}
"""glibc malloc settings for a service process. A value the operator set wins."""


def with_allocator_settings(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with :data:`ALLOCATOR_ENV` added where it does not say otherwise."""
    return {**ALLOCATOR_ENV, **env}


def heap_trimmer() -> Callable[[], bool] | None:
    """glibc's ``malloc_trim(0)``: give the system back every whole page the heaps hold free (True if
    any was). ``None`` where the C library has no such call (musl, macOS): nothing to trim there.
    ctypes lets the GIL go for the call, so the service's other threads run on meanwhile."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: bool(trim(0))


QUIET_BELOW_CORES = 0.1
"""A process that used less than this share of a core since the last check is quiet (idle, a
service uses 0.01-0.04; at 100 alerts a second, 0.1-0.3)."""


@dataclass
class QuietTrim:
    """Trims (``trim``) once each time the process goes quiet after work: at a :meth:`check` that
    finds it used less than ``quiet_below`` of a core since the one before, unless it has trimmed
    since it last worked. Nothing is trimmed while it works, and nothing again while it stays idle."""

    trim: Callable[[], bool]
    quiet_below: float = QUIET_BELOW_CORES
    cpu: Callable[[], float] = time.process_time
    clock: Callable[[], float] = time.monotonic
    _last: tuple[float, float] | None = field(default=None, init=False)
    _trimmed: bool = field(default=False, init=False)

    def check(self) -> bool:
        """True if it trimmed now."""
        now, used = self.clock(), self.cpu()
        last, self._last = self._last, (now, used)
        if last is None or now <= last[0]:
            return False
        if (used - last[1]) / (now - last[0]) >= self.quiet_below:
            self._trimmed = False  # working: trim once it is quiet again
            return False
        if self._trimmed:
            return False
        self.trim()
        self._trimmed = True
        return True
