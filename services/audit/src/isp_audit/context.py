"""The audit service's own collaborators, put on ``runtime.context`` by the bootstrap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.ratelimit import RateLimit

from .checkpoints import PUBLIC_KEY_FILE
from .domain.checkpointing import CheckpointPolicy
from .domain.nightly import NightlyPolicy
from .settings import Settings


@dataclass(frozen=True)
class Audit:
    signing_key: Ed25519PrivateKey
    """Signs checkpoints of the chain's head (not the JWT key)."""
    public_key_file: Path
    """The public half, the only key ``verify`` trusts."""
    checkpoint_file: Path
    """Every checkpoint is also a line here (JSON lines)."""
    checkpoints: CheckpointPolicy
    nightly: NightlyPolicy
    verify_limit: RateLimit
    """How often each organisation may have the whole chain verified (each walk reads every record)."""

    @classmethod
    def from_settings(cls, settings: Settings, signing_key: Ed25519PrivateKey) -> Audit:
        return cls(
            signing_key=signing_key,
            public_key_file=settings.resolved_checkpoint_key_dir / PUBLIC_KEY_FILE,
            checkpoint_file=settings.checkpoint_file,
            checkpoints=CheckpointPolicy(settings.checkpoint_every_records, settings.checkpoint_every_seconds),
            nightly=nightly_policy(settings),
            verify_limit=RateLimit(rate=settings.verify_per_minute / 60, burst=settings.verify_burst),
        )

    @property
    def ig_org(self) -> str:
        return self.nightly.ig_org

    @property
    def grace_seconds(self) -> float:
        return self.nightly.grace_seconds


def nightly_policy(settings: Settings) -> NightlyPolicy:
    return NightlyPolicy(
        hour=settings.nightly_hour,
        retention_days=settings.retention_days,
        grace_seconds=settings.reconciliation_grace_seconds,
        ig_org=settings.partnership_ig_org,
    )
