"""Thin faust adapters: subscribe each topic's handlers; start the delivery loop; the deadline timer."""

from __future__ import annotations

from isp_common.runtime import ServiceRuntime

from . import deadlines
from .context import Notifications
from .handlers import handlers_by_topic, read_ahead


def register(runtime: ServiceRuntime, context: Notifications) -> None:
    for topic, handlers in handlers_by_topic(context.calendar, runtime.clock).items():
        runtime.subscribe(topic, handlers, prefetch=read_ahead)
    runtime.on_startup(context.delivery.start)
    settings = context.settings

    async def check_deadlines() -> None:
        with runtime.uow() as uow:
            deadlines.check_deadlines(uow, runtime.clock.now(), settings.endpoint_failure_escalation)
            uow.commit()

    runtime.every(settings.deadline_check_interval, check_deadlines, name="deadlines")
