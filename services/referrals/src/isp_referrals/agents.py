"""Thin faust adapters: subscribe each topic's handlers, and run the deadline timer."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from isp_common.runtime import ServiceRuntime

from .context import Referrals
from .deadlines import prompt_missing_outcomes, raise_attendance_unrecorded, raise_overdue
from .handlers import handlers_by_topic, read_ahead

log = logging.getLogger(__name__)


def register(runtime: ServiceRuntime, referrals: Referrals) -> None:
    for topic, handlers in handlers_by_topic(referrals.rules, runtime.clock).items():
        runtime.subscribe(topic, handlers, prefetch=read_ahead)
    timer = partial(referral_deadlines, runtime, referrals)
    runtime.every(runtime.settings.timer_interval, timer, name="referral_deadlines")


async def referral_deadlines(runtime: ServiceRuntime, referrals: Referrals) -> None:
    overdue, prompted, unrecorded = await asyncio.to_thread(check_deadlines, runtime, referrals)
    if overdue or prompted or unrecorded:
        log.info(
            "deadlines: %d overdue raised, %d appointment outcomes prompted, %d unrecorded assessments raised",
            overdue,
            prompted,
            unrecorded,
        )


def check_deadlines(runtime: ServiceRuntime, referrals: Referrals) -> tuple[int, int, int]:
    """One tick of the timer, in one transaction: missed due dates and response deadlines raised,
    missing outcomes prompted, assessments still unrecorded after 24 hours raised."""
    now = runtime.clock.now()
    with runtime.uow() as uow:
        overdue = raise_overdue(uow, now, referrals.rules)
        prompted = prompt_missing_outcomes(uow, now)
        unrecorded = raise_attendance_unrecorded(uow, now)
        uow.commit()
    return overdue, prompted, unrecorded
