from isp_common.settings import ServiceSettings
from pydantic import AliasChoices, Field


class Settings(ServiceSettings):
    service_name: str = "notifications"
    port: int = Field(8003, validation_alias=AliasChoices("ISP_NOTIFICATIONS_PORT", "port"))
    database_url: str = Field("", validation_alias=AliasChoices("ISP_NOTIFICATIONS_DATABASE_URL", "database_url"))
