"""The composition root: the only place that builds engines, producers and the faust app."""

from isp_common.runtime import ServiceRuntime

from . import agents, api, pages
from .api import Clock, system_clock
from .config import Settings


def build(settings: Settings | None = None, clock: Clock = system_clock) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP safeguarding register",
        description="Each service's safeguarding register, monthly reviews, the DSL's weekly review, cross-area flags.",
    )
    agents.register(runtime, settings.review_reminder_days, clock)
    api.install(runtime, clock)
    pages.install(runtime, clock)
    return runtime
