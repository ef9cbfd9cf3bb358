from isp_common.settings import ServiceSettings, off_the_alert_path_fetch_wait, service_config
from pydantic import Field


class Settings(ServiceSettings):
    """The register's settings: its own under ``ISP_REGISTER_``, the shared ones under ``ISP_``."""

    model_config = service_config("register")

    service_name: str = "register"
    port: int = 8002
    database_url: str = ""
    consumer_fetch_max_wait_ms: int = off_the_alert_path_fetch_wait()
    review_reminder_days: int = Field(
        7, ge=0, description="How many days before an entry's review date the ReviewDue reminder is raised."
    )
