"""Settings for the notifications service.

Shared settings come from ``ISP_...`` (see ``isp_common.settings``). The service's own
settings are read from ``ISP_NOTIFICATIONS_<NAME>`` (e.g. ``ISP_NOTIFICATIONS_WEBHOOK_RETRY_BASE``)
and may also be passed by field name in code and tests. Defaults are production's: webhook
retries span more than 24 hours; tests shorten them through the environment.
"""

from isp_common.settings import ServiceSettings
from pydantic import AliasChoices, Field


def _own(name: str) -> AliasChoices:
    return AliasChoices(f"ISP_NOTIFICATIONS_{name.upper()}", name)


class Settings(ServiceSettings):
    service_name: str = "notifications"
    port: int = Field(8003, validation_alias=_own("port"))
    database_url: str = Field("", validation_alias=_own("database_url"))

    delivery_poll_interval: float = Field(
        0.5, validation_alias=_own("delivery_poll_interval"), description="Seconds between delivery-loop passes."
    )
    webhook_timeout: float = Field(10.0, validation_alias=_own("webhook_timeout"), description="Per-attempt timeout.")
    webhook_concurrency: int = Field(
        32, validation_alias=_own("webhook_concurrency"), description="Webhook attempts in flight at once."
    )
    webhook_retry_base: float = Field(
        30.0, validation_alias=_own("webhook_retry_base"), description="First retry delay (seconds), doubled per try."
    )
    webhook_retry_max_delay: float = Field(
        3600.0, validation_alias=_own("webhook_retry_max_delay"), description="Longest delay between two tries."
    )
    webhook_retry_window: float = Field(
        26 * 3600.0,
        validation_alias=_own("webhook_retry_window"),
        description="Keep retrying this long after the first try (at least 24 h in production) before giving up.",
    )
    heartbeat_interval: float = Field(
        300.0,
        validation_alias=_own("heartbeat_interval"),
        description="An idle subscription gets a signed heartbeat this often (seconds); 0 turns heartbeats off.",
    )
    endpoint_failure_escalation: float = Field(
        3600.0,
        validation_alias=_own("endpoint_failure_escalation"),
        description="A webhook endpoint failing this long (seconds) is escalated to the sender's DSL.",
    )
    deadline_check_interval: float = Field(
        5.0, validation_alias=_own("deadline_check_interval"), description="Seconds between deadline scans."
    )
