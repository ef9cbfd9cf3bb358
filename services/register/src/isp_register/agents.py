"""Thin faust adapters: the register topic's consumer and the review timer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from isp_common.runtime import ServiceRuntime

from .matching import HANDLERS_BY_TOPIC
from .reviews import flag_reviews

log = logging.getLogger(__name__)


def register(runtime: ServiceRuntime, reminder_days: int, clock: Callable[[], datetime]) -> None:
    for topic, handlers in HANDLERS_BY_TOPIC.items():
        runtime.subscribe(topic, handlers)

    def flag_once() -> None:
        with runtime.uow() as uow:
            flagged = flag_reviews(uow, clock(), reminder_days)
            uow.commit()
        if flagged.due or flagged.overdue or flagged.weeks_missed:
            log.info(
                "register reminders raised: %d due, %d overdue, %d weekly reviews missed",
                len(flagged.due),
                len(flagged.overdue),
                len(flagged.weeks_missed),
            )

    async def flag_review_deadlines() -> None:
        await asyncio.to_thread(flag_once)

    runtime.every(runtime.settings.timer_interval, flag_review_deadlines)
