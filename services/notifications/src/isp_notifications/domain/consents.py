"""When a withdrawal takes effect, and whether a consent is in force on a day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal

from isp_common.workingdays import LONDON, london_date
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent

ConsentState = Literal["active", "withdrawn", "expired", "not_yet_in_force"]


def withdrawal_time(event: CloudEvent, data: ConsentWithdrawn) -> datetime:
    """When a withdrawal takes effect: the event's time, or the start of ``withdrawn_on``
    (London) when that date is earlier than the event's own date (a late-recorded withdrawal)."""
    at = event.time
    if data.withdrawn_on < london_date(at):
        at = datetime.combine(data.withdrawn_on, time(0), tzinfo=LONDON)
    return at.astimezone(UTC)


def consent_state(given_on: date, expires_on: date | None, withdrawn_at: datetime | None, today: date) -> ConsentState:
    """A consent as its recorder sees it today: withdrawn (at any time), expired (after
    ``expires_on``, the last day it holds), not yet in force (given after today), or active."""
    if withdrawn_at is not None:
        return "withdrawn"
    if expires_on is not None and today > expires_on:
        return "expired"
    if given_on > today:
        return "not_yet_in_force"
    return "active"
