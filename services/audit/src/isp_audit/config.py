from pathlib import Path

from isp_common.settings import ServiceSettings
from pydantic import AliasChoices, Field


class Settings(ServiceSettings):
    service_name: str = "audit"
    port: int = Field(8004, validation_alias=AliasChoices("ISP_AUDIT_PORT", "port"))
    database_url: str = Field("", validation_alias=AliasChoices("ISP_AUDIT_DATABASE_URL", "database_url"))

    checkpoint_every_records: int = Field(
        1000,
        ge=1,
        validation_alias=AliasChoices("ISP_AUDIT_CHECKPOINT_EVERY_RECORDS", "checkpoint_every_records"),
        description="Sign the head after this many new records...",
    )
    checkpoint_every_seconds: float = Field(
        300.0,
        gt=0,
        validation_alias=AliasChoices("ISP_AUDIT_CHECKPOINT_EVERY_SECONDS", "checkpoint_every_seconds"),
        description="...or this long after the last checkpoint, whichever comes first (if there are new records).",
    )
    checkpoint_poll_seconds: float = Field(
        2.0, gt=0, validation_alias=AliasChoices("ISP_AUDIT_CHECKPOINT_POLL_SECONDS", "checkpoint_poll_seconds")
    )
    checkpoint_key_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("ISP_AUDIT_CHECKPOINT_KEY_DIR", "checkpoint_key_dir"),
        description="Where the Ed25519 checkpoint key lives (default <var>/keys).",
    )
    retention_days: int = Field(
        8 * 365,
        ge=1,
        validation_alias=AliasChoices("ISP_AUDIT_RETENTION_DAYS", "retention_days"),
        description="Personal fields of records shared longer ago than this are erased.",
    )
    partnership_ig_org: str = Field(
        "ISP-IG",
        validation_alias=AliasChoices("ISP_AUDIT_PARTNERSHIP_IG_ORG", "partnership_ig_org"),
        description="The organisation told about reconciliation mismatches.",
    )
    nightly_hour: int = Field(
        2,
        ge=0,
        le=23,
        validation_alias=AliasChoices("ISP_AUDIT_NIGHTLY_HOUR", "nightly_hour"),
        description="Europe/London hour after which the nightly reconciliation and erasure run.",
    )
    nightly_poll_seconds: float = Field(
        60.0, gt=0, validation_alias=AliasChoices("ISP_AUDIT_NIGHTLY_POLL_SECONDS", "nightly_poll_seconds")
    )
    reconciliation_grace_seconds: float = Field(
        300.0,
        ge=0,
        validation_alias=AliasChoices("ISP_AUDIT_RECONCILIATION_GRACE_SECONDS", "reconciliation_grace_seconds"),
        description="Alerts and records younger than this are not yet expected to have their partner.",
    )
    alerts_metadata_max_age_ms: int = Field(
        5000,
        validation_alias=AliasChoices("ISP_AUDIT_ALERTS_METADATA_MAX_AGE_MS", "alerts_metadata_max_age_ms"),
        description="How soon a new organisation's alerts topic is noticed.",
    )

    @property
    def resolved_checkpoint_key_dir(self) -> Path:
        return self.checkpoint_key_dir or self.resolved_key_dir

    @property
    def checkpoint_file(self) -> Path:
        return self.var_dir / "audit-checkpoints.jsonl"
