"""Thin faust adapters: subscribe each topic's handlers; start the delivery loop and timers."""

from isp_common.runtime import ServiceRuntime
from isp_common.workingdays import WorkingCalendar

from .config import Settings
from .delivery.loop import DeliveryLoop
from .handlers import handlers_by_topic


def register(runtime: ServiceRuntime, settings: Settings, calendar: WorkingCalendar) -> DeliveryLoop:
    for topic, handlers in handlers_by_topic(calendar).items():
        runtime.subscribe(topic, handlers)
    loop = DeliveryLoop(runtime, settings)
    runtime.on_startup(loop.start)
    runtime.every(settings.deadline_check_interval, loop.check_deadlines, name="deadlines")
    return loop
