"""HTTP adapter for the safeguarding register (issue 6)."""

from isp_common.runtime import ServiceRuntime


def install(runtime: ServiceRuntime) -> None:
    return None
