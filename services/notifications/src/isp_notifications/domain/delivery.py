"""Webhook delivery rules (CONTRACT §5): what a try's outcome means, the retry schedule, and
the heartbeat an idle subscription gets.

A 2xx answer is delivery; anything else is retried after :func:`retry_delay`, for
``window`` seconds after the first try (at least 24 h in production), then given up as failed.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

HEARTBEAT_TYPE = "uk.isp.subscription.heartbeat.v1"

TryResult = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True)
class RetrySchedule:
    base: float
    """First retry delay (seconds), doubled per try."""
    cap: float
    """Longest delay between two tries."""
    window: float
    """Keep retrying this long after the first try."""


@dataclass(frozen=True)
class Step:
    """What follows a try: ``delivered``, ``failed`` for good, or ``retry`` at ``next_attempt_at``."""

    result: TryResult
    next_attempt_at: datetime | None = None


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based): exponential, capped, with
    "equal jitter" (half the step fixed, half random) so retries spread out but never bunch
    up at zero."""
    step = min(cap, base * 2.0 ** (attempt - 1))
    jitter = rng.uniform(0, step / 2) if rng is not None else random.uniform(0, step / 2)
    return step / 2 + jitter


def after_try(ok: bool, attempt: int, first_attempt_at: datetime, now: datetime, schedule: RetrySchedule) -> Step:
    """The step after try number ``attempt`` (1-based) of a delivery first tried at ``first_attempt_at``."""
    if ok:
        return Step("delivered")
    if now - first_attempt_at >= timedelta(seconds=schedule.window):
        return Step("failed")
    return Step("retry", now + timedelta(seconds=retry_delay(attempt, schedule.base, schedule.cap)))


def heartbeat(subscription_id: str, event_count: int, failing: bool, now: datetime) -> tuple[str, str]:
    """A heartbeat (FHIR topic-based subscriptions' ``heartbeat``) as ``(webhook_id, body)``: the
    running event count lets the receiver see a gap and replay with ``GET /v1/alerts?after=<count>``."""
    webhook_id = "hb_" + uuid.uuid4().hex
    body = {
        "specversion": "1.0",
        "id": webhook_id,
        "source": "urn:isp:service:notifications",
        "type": HEARTBEAT_TYPE,
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "subscription": subscription_id,
        "eventnumber": event_count,
        "data": {
            "subscription_id": subscription_id,
            "events_since_start": event_count,
            "status": "error" if failing else "active",
        },
    }
    return webhook_id, json.dumps(body, separators=(",", ":"))
