"""The referrals service's settings: its own under ``ISP_REFERRALS_<NAME>``, shared ones ``ISP_<NAME>``."""

from isp_common.settings import ServiceSettings, service_config
from pydantic import Field


class Settings(ServiceSettings):
    model_config = service_config("referrals")

    service_name: str = "referrals"
    port: int = 8001
    database_url: str = ""
    assessment_booking_working_days: int = Field(
        5, ge=1, description="Working days after acceptance by which the assessment appointment must be booked."
    )
    allocation_weekday: int = Field(
        0,
        ge=0,
        le=4,
        description="The weekday (0 = Monday) of the weekly allocation meeting for non-emergency referrals.",
    )
    emergency_response_hours: int = Field(
        4,
        ge=1,
        le=24,
        description=(
            "Hours the receiving organisation has to answer an emergency referral to social care; never later "
            "than the end of the day it was made."
        ),
    )
