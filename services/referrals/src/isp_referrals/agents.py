"""Thin faust adapters: subscribe each topic's handlers, and run the deadline timer."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from isp_common.runtime import ServiceRuntime

from .deadlines import prompt_missing_outcomes, raise_overdue
from .domain import DueRules
from .handlers import handlers_by_topic

log = logging.getLogger(__name__)


def register(runtime: ServiceRuntime, rules: DueRules) -> None:
    for topic, handlers in handlers_by_topic(rules).items():
        runtime.subscribe(topic, handlers)

    def check_deadlines() -> tuple[int, int]:
        now = datetime.now(UTC)
        with runtime.uow() as uow:
            overdue = raise_overdue(uow, now, rules)
            prompted = prompt_missing_outcomes(uow, now)
            uow.commit()
        return overdue, prompted

    async def referral_deadlines() -> None:
        overdue, prompted = await asyncio.to_thread(check_deadlines)
        if overdue or prompted:
            log.info("deadlines: %d overdue raised, %d appointment outcomes prompted", overdue, prompted)

    runtime.every(runtime.settings.timer_interval, referral_deadlines)
