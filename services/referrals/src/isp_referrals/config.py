from isp_common.settings import ServiceSettings
from pydantic import AliasChoices, Field


class Settings(ServiceSettings):
    service_name: str = "referrals"
    port: int = Field(8001, validation_alias=AliasChoices("ISP_REFERRALS_PORT", "port"))
    database_url: str = Field("", validation_alias=AliasChoices("ISP_REFERRALS_DATABASE_URL", "database_url"))
    assessment_booking_working_days: int = Field(
        5,
        ge=1,
        validation_alias=AliasChoices(
            "ISP_REFERRALS_ASSESSMENT_BOOKING_WORKING_DAYS", "assessment_booking_working_days"
        ),
        description="Working days after acceptance by which the assessment appointment must be booked.",
    )
    allocation_weekday: int = Field(
        0,
        ge=0,
        le=4,
        validation_alias=AliasChoices("ISP_REFERRALS_ALLOCATION_WEEKDAY", "allocation_weekday"),
        description="The weekday (0 = Monday) of the weekly allocation meeting for non-emergency referrals.",
    )
