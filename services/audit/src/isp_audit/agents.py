"""Thin faust adapters: subscribe each topic's handlers."""

from isp_common.runtime import ServiceRuntime

from .handlers import HANDLERS_BY_TOPIC


def register(runtime: ServiceRuntime) -> None:
    for topic, handlers in HANDLERS_BY_TOPIC.items():
        runtime.subscribe(topic, handlers)
