"""The composition root: the only place that builds engines, producers and the faust app."""

from isp_common.runtime import ServiceRuntime
from isp_common.workingdays import WorkingCalendar

from . import agents, api
from .config import Settings


def build(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP notifications",
        description="Consent-aware disclosure: every alert to another organisation, its lawful basis and its delivery.",
    )
    calendar = WorkingCalendar(settings.extra_bank_holidays, settings.removed_bank_holidays)
    runtime.state_delivery = agents.register(runtime, settings, calendar)  # type: ignore[attr-defined]
    api.install(runtime, settings)
    return runtime
