"""Settings for the notifications service.

Shared settings come from ``ISP_...`` (see ``isp_common.settings``). The service's own
settings are read from ``ISP_NOTIFICATIONS_<NAME>`` (e.g. ``ISP_NOTIFICATIONS_WEBHOOK_RETRY_BASE``)
and may also be passed by field name in code and tests. Defaults are production's: webhook
retries span more than 24 hours; tests shorten them through the environment.
"""

from isp_common.settings import ServiceSettings, service_config
from pydantic import AliasChoices, Field, SecretStr

from .delivery.sealing import key_problem


class Settings(ServiceSettings):
    """The notifications service's settings: its own under ``ISP_NOTIFICATIONS_``, the shared ones under ``ISP_``."""

    model_config = service_config("notifications")

    service_name: str = "notifications"
    port: int = 8003
    database_url: str = ""

    delivery_poll_interval: float = Field(0.5, description="Seconds between delivery-loop passes.")
    webhook_timeout: float = Field(10.0, description="Per-attempt timeout.")
    webhook_concurrency: int = Field(32, description="Webhook attempts in flight at once.")
    webhook_retry_base: float = Field(30.0, description="First retry delay (seconds), doubled per try.")
    webhook_retry_max_delay: float = Field(3600.0, description="Longest delay between two tries.")
    webhook_retry_window: float = Field(
        26 * 3600.0,
        description="Keep retrying this long after the first try (at least 24 h in production) before giving up.",
    )
    heartbeat_interval: float = Field(
        300.0,
        description="An idle subscription gets a signed heartbeat this often (seconds); 0 turns heartbeats off.",
    )
    endpoint_failure_escalation: float = Field(
        3600.0, description="A webhook endpoint failing this long (seconds) is escalated to the sender's DSL."
    )
    deadline_check_interval: float = Field(5.0, description="Seconds between deadline scans.")
    partnership_ig_org: str = Field(
        "PARTNERSHIP",
        validation_alias=AliasChoices("ISP_PARTNERSHIP_IG_ORG", "partnership_ig_org"),
        description="The partnership IG organisation, told of every release on professional judgement (CONTRACT §6).",
    )
    webhook_secret_key: SecretStr = Field(
        SecretStr(""),
        description="Fernet key(s) that encrypt webhook signing secrets at rest, space- or comma-separated: the "
        "first encrypts, every one decrypts (so a key is rotated by putting the new one first). Required in "
        "production; the embedded default makes one in <keys>/webhook-secrets.key.",
    )
    webhook_secret_overlap: float = Field(
        24 * 3600.0,
        ge=0,
        description="After a secret is rotated, deliveries are signed with the old one too for this long (seconds).",
    )
    max_subscriptions_per_org: int = Field(
        20, ge=1, description="Active webhook subscriptions one organisation may have."
    )

    def production_problems(self) -> list[str]:
        """Besides every service's: webhook secrets are encrypted with a key of production's own."""
        problems = super().production_problems()
        if self.environment != "production":
            return problems
        problem = key_problem(self.webhook_secret_key.get_secret_value())
        if problem:
            problems.append(f"ISP_NOTIFICATIONS_WEBHOOK_SECRET_KEY {problem}")
        return problems
