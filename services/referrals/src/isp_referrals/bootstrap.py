"""The composition root: the only place that builds the runtime (engine, clock, producers, the faust
app) and the service's own collaborators. Tests call :func:`build` with fakes."""

from __future__ import annotations

from typing import Unpack

from isp_common.bootstrap import Collaborators
from isp_common.runtime import ServiceRuntime

from . import agents
from .api import referrals, transitions
from .context import Referrals
from .domain import DueRules
from .settings import Settings

DESCRIPTION = (
    "Referrals both ways between treatment providers and children's social care: thresholds, "
    "triage, allocation, the due dates the protocol sets (in working days), appointments and DNAs."
)


def build(settings: Settings | None = None, **collaborators: Unpack[Collaborators]) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP referrals",
        description=DESCRIPTION,
        **collaborators,
    )
    context = Referrals(
        rules=DueRules(
            calendar=settings.working_calendar(),
            assessment_booking_working_days=settings.assessment_booking_working_days,
            allocation_weekday=settings.allocation_weekday,
            emergency_response_hours=settings.emergency_response_hours,
        )
    )
    runtime.context = context
    agents.register(runtime, context)
    runtime.api.include_router(referrals.router)
    runtime.api.include_router(transitions.router)
    return runtime
