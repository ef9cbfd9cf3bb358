"""HTTP adapter for notifications (alerts, acknowledgements, subscriptions: issue 3)."""

from isp_common.runtime import ServiceRuntime


def install(runtime: ServiceRuntime) -> None:
    return None
