"""The FastAPI dependencies every router uses, as ``Annotated`` aliases.

Each reads from the :class:`~isp_common.runtime.ServiceRuntime` on ``app.state``; nothing is a
module global, so a test app built by a service's bootstrap with fakes gets the fakes.

- :data:`RuntimeDep`: the runtime (settings, engine, clock, the service's ``context``);
- :data:`UowDep`: a unit of work, rolled back unless the command commits;
- :data:`ClockDep`: the runtime's clock;
- :data:`CallerDep`: the authenticated caller; ``Annotated[Caller, Depends(require_roles(...))]``
  for a role check.

Routes and dependencies that touch the database are plain ``def``: FastAPI runs them in a
worker thread, so the event loop never waits on the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends

from .auth import Caller, CurrentCaller, require_roles
from .clock import Clock
from .db import UnitOfWork
from .runtime import RuntimeDep, ServiceRuntime, runtime_of


def unit_of_work(runtime: RuntimeDep) -> Iterator[UnitOfWork]:
    with runtime.uow() as uow:
        yield uow


def clock_of(runtime: RuntimeDep) -> Clock:
    return runtime.clock


UowDep = Annotated[UnitOfWork, Depends(unit_of_work)]
ClockDep = Annotated[Clock, Depends(clock_of)]
CallerDep = CurrentCaller

__all__ = [
    "Caller",
    "CallerDep",
    "ClockDep",
    "RuntimeDep",
    "ServiceRuntime",
    "UowDep",
    "require_roles",
    "runtime_of",
]
