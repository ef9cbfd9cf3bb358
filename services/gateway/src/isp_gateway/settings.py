"""The gateway's settings: its own under ``ISP_GATEWAY_<NAME>``, shared ones ``ISP_<NAME>``."""

from pathlib import Path

from isp_common.settings import ServiceSettings, service_config
from pydantic import Field


class Settings(ServiceSettings):
    model_config = service_config("gateway")

    service_name: str = "gateway"
    port: int = 8005
    database_url: str = ""

    event_key_file: Path | None = Field(
        None,
        description="The gateway's Ed25519 event-signing key, a private JWK (default <keys>/events/gateway.jwk, "
        "made on first use in the embedded default; required, mode 0600, in production).",
    )
    rate_per_second: float = Field(
        200.0, gt=0, description="Events each organisation may publish per second, on average."
    )
    burst: int = Field(1000, ge=1, description="Events an organisation may publish at once before the rate applies.")
    max_batch: int = Field(500, ge=1, le=500, description="Most events in one batch (CONTRACT §10: 500).")
    send_timeout_seconds: float = Field(15.0, gt=0, description="How long to wait for the broker's acknowledgement.")

    @property
    def resolved_event_key_file(self) -> Path:
        return self.event_key_file or self.resolved_key_dir / "events" / "gateway.jwk"
