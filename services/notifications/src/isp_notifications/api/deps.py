"""The dependencies of this service's routes, beyond ``isp_common.deps``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from isp_common.deps import Caller, RuntimeDep, require_roles

from ..context import Notifications

Member = Annotated[Caller, Depends(require_roles("social_care", "provider", "dsl", "admin"))]
"""Any member organisation's user: every route acts for the caller's own organisation."""


def context_of(runtime: RuntimeDep) -> Notifications:
    context = runtime.context
    assert isinstance(context, Notifications)
    return context


ContextDep = Annotated[Notifications, Depends(context_of)]
