"""The notifications service's own collaborators, on ``runtime.context`` (set by :func:`.bootstrap.build`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from isp_common.workingdays import WorkingCalendar

from .delivery.loop import DeliveryLoop
from .handlers.timed import TimedHandler
from .settings import Settings


@dataclass(frozen=True)
class Notifications:
    settings: Settings
    calendar: WorkingCalendar
    """England's working days with this deployment's bank-holiday overrides (conference notice)."""
    delivery: DeliveryLoop
    """The webhook delivery loop, posting with the HTTP client the composition root was given."""
    deciders: Mapping[str, TimedHandler]
    """Event type -> what makes its shares; run again to decide a withheld share (re-decision, release)."""
