"""The composition root: the only place that builds engines, producers and the faust app."""

from isp_common.runtime import ServiceRuntime

from . import agents, api
from .config import Settings


def build(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP referrals",
        description="Referrals between treatment providers and children's social care, appointments and DNAs.",
    )
    agents.register(runtime)
    api.install(runtime)
    return runtime
