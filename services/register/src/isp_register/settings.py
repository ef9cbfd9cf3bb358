from isp_common.settings import ServiceSettings, service_config
from pydantic import AliasChoices, Field


class Settings(ServiceSettings):
    """The register's settings: its own under ``ISP_REGISTER_``, the shared ones under ``ISP_``."""

    model_config = service_config("register")

    service_name: str = "register"
    port: int = 8002
    database_url: str = ""
    review_reminder_days: int = Field(
        7, ge=0, description="How many days before an entry's review date the ReviewDue reminder is raised."
    )
    # Shared ISP_HOST (deploy/Dockerfile sets it), which ServiceSettings.host does not alias, so the
    # register prefix would otherwise read ISP_REGISTER_HOST. Drop once isp_common aliases it.
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("ISP_HOST", "host"))
