"""The composition root: the only place that builds engines, producers and the faust app."""

from isp_common.runtime import ServiceRuntime

from . import api
from .config import Settings


def build(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP safeguarding register",
        description="Each service's safeguarding register, monthly reviews, the DSL's weekly review, cross-area flags.",
    )
    api.install(runtime)
    return runtime
