from isp_common.settings import ServiceSettings
from pydantic import AliasChoices, Field


class Settings(ServiceSettings):
    service_name: str = "referrals"
    port: int = Field(8001, validation_alias=AliasChoices("ISP_REFERRALS_PORT", "port"))
    database_url: str = Field("", validation_alias=AliasChoices("ISP_REFERRALS_DATABASE_URL", "database_url"))
