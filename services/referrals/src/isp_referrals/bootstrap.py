"""The composition root: the only place that builds engines, producers and the faust app."""

from isp_common.runtime import ServiceRuntime
from isp_common.workingdays import WorkingCalendar

from . import agents, api
from .config import Settings
from .domain import DueRules


def build(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP referrals",
        description=(
            "Referrals both ways between treatment providers and children's social care: thresholds, "
            "triage, allocation, the due dates the protocol sets (in working days), appointments and DNAs."
        ),
    )
    rules = DueRules(
        calendar=WorkingCalendar(settings.extra_bank_holidays, settings.removed_bank_holidays),
        assessment_booking_working_days=settings.assessment_booking_working_days,
        allocation_weekday=settings.allocation_weekday,
    )
    agents.register(runtime, rules)
    api.install(runtime, rules)
    return runtime
