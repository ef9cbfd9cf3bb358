"""The gateway's settings: its own under ``ISP_GATEWAY_<NAME>``, shared ones ``ISP_<NAME>``."""

from isp_common.settings import ServiceSettings, off_the_alert_path_fetch_wait, service_config
from pydantic import Field


class Settings(ServiceSettings):
    model_config = service_config("gateway")

    service_name: str = "gateway"
    port: int = 8005
    database_url: str = ""
    consumer_fetch_max_wait_ms: int = off_the_alert_path_fetch_wait()

    rate_per_second: float = Field(
        200.0, gt=0, description="Events each organisation may publish per second, on average."
    )
    burst: int = Field(1000, ge=1, description="Events an organisation may publish at once before the rate applies.")
    max_batch: int = Field(500, ge=1, le=500, description="Most events in one batch (CONTRACT §10: 500).")
    send_timeout_seconds: float = Field(15.0, gt=0, description="How long to wait for the broker's acknowledgement.")
