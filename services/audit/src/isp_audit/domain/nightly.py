"""When the nightly run (reconciliation, then erasure) is due: once a Europe/London night,
after the configured hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from isp_common.workingdays import LONDON, london_date


@dataclass(frozen=True)
class NightlyPolicy:
    hour: int
    """Europe/London hour after which the night's run may start."""
    retention_days: int
    grace_seconds: float
    """Alerts and records younger than this are not yet expected to have their partner."""
    ig_org: str
    """The organisation told about reconciliation mismatches."""

    def after_hour(self, now: datetime) -> bool:
        return now.astimezone(LONDON).hour >= self.hour


def night_of(now: datetime) -> str:
    """The London night a run at ``now`` counts for, as an ISO date."""
    day: date = london_date(now)
    return day.isoformat()
