"""Settings shared by every service (pydantic-settings, ``ISP_`` prefix).

Defaults run on a laptop against the embedded broker; production overrides them
through the environment. Each service subclasses :class:`ServiceSettings` and
adds its own port and database URL under ``ISP_<SERVICE>_...`` as the contract
names them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_PARTNERSHIP_KEY = "embedded-partnership-key-change-me"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ISP_", extra="ignore", populate_by_name=True)

    service_name: str = "isp"
    port: int = 8000
    host: str = "127.0.0.1"
    database_url: str = ""

    environment: Literal["embedded", "production"] = Field(
        "embedded",
        description="'embedded' allows http/loopback webhooks and a locally generated signing key.",
    )
    var_dir: Path = Field(Path("var"), description="Where SQLite files, keys and faust state live.")
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_partitions: int = 6
    topic_replication: int = 1
    broker_rebalance_timeout: float = Field(
        5.0, description="Low for the embedded broker: its JoinGroup waits this long."
    )
    broker_session_timeout: float = 10.0
    handler_attempts: int = Field(3, description="Tries before an event is dead-lettered.")
    handler_retry_delay: float = 0.2
    outbox_poll_interval: float = 0.2
    outbox_batch_size: int = 500
    timer_interval: float = Field(5.0, description="How often deadline timers scan for due work.")

    key_dir: Path | None = Field(None, description="JWT signing keys (embedded default).")
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str | None = None

    extra_bank_holidays: list[date] = Field(default_factory=list)
    removed_bank_holidays: list[date] = Field(default_factory=list)
    partnership_key: str = Field(
        EMBEDDED_PARTNERSHIP_KEY,
        description="HMAC key for pseudonymous person keys shared between services.",
    )

    @model_validator(mode="after")
    def _production_needs_its_own_secrets(self) -> ServiceSettings:
        """Hard to misuse: production must not run on the key every laptop has."""
        if self.environment == "production" and self.partnership_key == EMBEDDED_PARTNERSHIP_KEY:
            raise ValueError("ISP_PARTNERSHIP_KEY must be set in production (the embedded default is public)")
        return self

    @property
    def resolved_key_dir(self) -> Path:
        return self.key_dir or self.var_dir / "keys"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / (self.service_name + '.db')}"

    @property
    def faust_data_dir(self) -> Path:
        return self.var_dir / f"{self.service_name}-faust"

    def working_calendar(self):
        """The shared working-day calendar with this deployment's bank-holiday overrides."""
        from .workingdays import WorkingCalendar

        return WorkingCalendar(extra_holidays=self.extra_bank_holidays, removed_holidays=self.removed_bank_holidays)
