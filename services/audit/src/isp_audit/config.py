from isp_common.settings import ServiceSettings
from pydantic import AliasChoices, Field


class Settings(ServiceSettings):
    service_name: str = "audit"
    port: int = Field(8004, validation_alias=AliasChoices("ISP_AUDIT_PORT", "port"))
    database_url: str = Field("", validation_alias=AliasChoices("ISP_AUDIT_DATABASE_URL", "database_url"))
