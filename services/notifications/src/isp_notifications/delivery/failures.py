"""Readable logs of failing webhook endpoints: a subscription's failures are logged naming the
subscription and its organisation once per backoff step (the wait before the next try grows,
up to the retry schedule's cap), not once per try, however many alerts queue behind a dead
endpoint; then once when deliveries to it are given up, and once when it delivers again.
Never a URL or a body: the error is an HTTP status or an exception's class.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from ..domain.delivery import RetrySchedule, Step

log = logging.getLogger("isp_notifications.delivery")


def capped_step(schedule: RetrySchedule) -> int:
    """The try after which the wait stops growing (the step at which ``base * 2**(n-1)`` reaches the cap)."""
    if schedule.base <= 0 or schedule.cap <= schedule.base:
        return 1
    return 1 + math.ceil(math.log2(schedule.cap / schedule.base))


class FailureLog:
    """What has been said about each failing subscription since it last delivered (one process's view)."""

    def __init__(self, schedule: RetrySchedule) -> None:
        self.top = capped_step(schedule)
        self._said: dict[str, int] = {}

    def after_try(
        self, subscription_id: str, org: str, step: Step, attempts: int, error: str | None, now: datetime
    ) -> None:
        if step.result == "delivered":
            if self._said.pop(subscription_id, None) is not None:
                log.info("webhook subscription %s of %s: delivering again", subscription_id, org)
            return
        level = self.top + 1 if step.result == "failed" else min(attempts, self.top)
        if level <= self._said.get(subscription_id, 0):
            return
        self._said[subscription_id] = level
        if step.result == "failed":
            log.error(
                "webhook subscription %s of %s: a delivery was given up after %d tries over the retry window (%s); "
                "further failures are not logged until it delivers again",
                subscription_id,
                org,
                attempts,
                error,
            )
            return
        wait = (step.next_attempt_at - now).total_seconds() if step.next_attempt_at else 0.0
        log.warning(
            "webhook subscription %s of %s: delivery failing (%s); try %d, next in about %.3g s%s",
            subscription_id,
            org,
            error,
            attempts,
            wait,
            "; the wait no longer grows, so this is logged again only when a delivery is given up"
            if level == self.top
            else "",
        )
