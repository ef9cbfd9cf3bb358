from isp_common.settings import ServiceSettings
from pydantic import AliasChoices, Field


class Settings(ServiceSettings):
    service_name: str = "register"
    port: int = Field(8002, validation_alias=AliasChoices("ISP_REGISTER_PORT", "port"))
    database_url: str = Field("", validation_alias=AliasChoices("ISP_REGISTER_DATABASE_URL", "database_url"))
