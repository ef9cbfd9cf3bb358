"""The audit service's settings: its own under ``ISP_AUDIT_<NAME>``, shared ones ``ISP_<NAME>``."""

from pathlib import Path

from isp_common.settings import ServiceSettings, off_the_alert_path_fetch_wait, service_config
from pydantic import Field


class Settings(ServiceSettings):
    model_config = service_config("audit")

    service_name: str = "audit"
    port: int = 8004
    database_url: str = ""
    consumer_fetch_max_wait_ms: int = off_the_alert_path_fetch_wait()

    checkpoint_every_records: int = Field(1000, ge=1, description="Sign the head after this many new records...")
    checkpoint_every_seconds: float = Field(
        300.0,
        gt=0,
        description="...or this long after the last checkpoint, whichever comes first (if there are new records).",
    )
    checkpoint_poll_seconds: float = Field(2.0, gt=0)
    checkpoint_key_dir: Path | None = Field(
        None, description="Where the Ed25519 checkpoint key lives (default <var>/keys)."
    )
    retention_days: int = Field(
        8 * 365, ge=1, description="Personal fields of records shared longer ago than this are erased."
    )
    partnership_ig_org: str = Field("ISP-IG", description="The organisation told about reconciliation mismatches.")
    nightly_hour: int = Field(
        2, ge=0, le=23, description="Europe/London hour after which the nightly reconciliation and erasure run."
    )
    nightly_poll_seconds: float = Field(60.0, gt=0)
    reconciliation_grace_seconds: float = Field(
        300.0, ge=0, description="Alerts and records younger than this are not yet expected to have their partner."
    )
    verify_per_minute: float = Field(
        2.0, gt=0, description="Whole-chain verifications each organisation may ask for per minute (GET /v1/verify)."
    )
    verify_burst: int = Field(3, ge=1, description="...and at once, before that rate applies.")
    alerts_metadata_max_age_ms: int = Field(5000, description="How soon a new organisation's alerts topic is noticed.")
    alerts_fetch_min_bytes: int = Field(
        256 * 1024,
        ge=1,
        description="The alerts ledger asks the broker for at least this much at a time (or what came within "
        "alerts_fetch_max_wait_ms): a few large batches, each one transaction and one offset commit, instead "
        "of many small ones. The ledger is not on an alert's way to its recipient.",
    )
    alerts_fetch_max_wait_ms: int = Field(500, ge=0, description="...and waits at most this long for it.")

    def production_problems(self) -> list[str]:
        """Besides every service's: the checkpoint key is kept apart from every other key, and only
        the audit service can read it (a key others can read signs forged checkpoints)."""
        problems = super().production_problems()
        if self.environment != "production":
            return problems
        if self.checkpoint_key_dir is None or self.checkpoint_key_dir.resolve() == self.resolved_key_dir.resolve():
            problems.append(
                "ISP_AUDIT_CHECKPOINT_KEY_DIR must name a directory of its own (not ISP_KEY_DIR, which other "
                "services mount)"
            )
        else:
            for path in (self.checkpoint_key_dir, self.checkpoint_key_dir / "audit-checkpoint-key.pem"):
                if path.exists() and path.stat().st_mode & 0o077:
                    problems.append(f"{path} may be read by other users (chmod go-rwx it)")
        return problems

    @property
    def resolved_checkpoint_key_dir(self) -> Path:
        return self.checkpoint_key_dir or self.resolved_key_dir

    @property
    def checkpoint_file(self) -> Path:
        return self.var_dir / "audit-checkpoints.jsonl"
