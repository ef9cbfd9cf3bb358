"""Thin faust adapters: the register topic's consumer and the review timer."""

from __future__ import annotations

import asyncio
import logging

from isp_common.runtime import ServiceRuntime

from . import commands
from .handlers import HANDLERS_BY_TOPIC

log = logging.getLogger(__name__)


def flag_review_deadlines(runtime: ServiceRuntime, reminder_days: int) -> commands.Flagged:
    """One run of the review timer, in its own transaction, at the runtime's clock."""
    with runtime.uow() as uow:
        flagged = commands.flag_reviews(uow, runtime.clock.now(), reminder_days)
        uow.commit()
    if flagged.due or flagged.overdue or flagged.weeks_missed:
        log.info(
            "register reminders raised: %d due, %d overdue, %d weekly reviews missed",
            len(flagged.due),
            len(flagged.overdue),
            len(flagged.weeks_missed),
        )
    return flagged


def subscribe(runtime: ServiceRuntime, reminder_days: int) -> None:
    """Consume ``isp.register.v1``, and run the review timer every ``timer_interval`` seconds."""
    for topic, handlers in HANDLERS_BY_TOPIC.items():
        runtime.subscribe(topic, handlers)

    async def flag_review_deadlines_now() -> None:
        await asyncio.to_thread(flag_review_deadlines, runtime, reminder_days)

    runtime.every(runtime.settings.timer_interval, flag_review_deadlines_now, name="flag_review_deadlines")
