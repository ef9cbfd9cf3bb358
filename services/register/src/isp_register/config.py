from isp_common.settings import ServiceSettings
from pydantic import AliasChoices, Field


class Settings(ServiceSettings):
    service_name: str = "register"
    port: int = Field(8002, validation_alias=AliasChoices("ISP_REGISTER_PORT", "port"))
    database_url: str = Field("", validation_alias=AliasChoices("ISP_REGISTER_DATABASE_URL", "database_url"))
    review_reminder_days: int = Field(
        7,
        ge=0,
        validation_alias=AliasChoices("ISP_REGISTER_REVIEW_REMINDER_DAYS", "review_reminder_days"),
        description="How many days before an entry's review date the ReviewDue reminder is raised.",
    )
