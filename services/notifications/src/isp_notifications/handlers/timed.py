"""Handlers that decide take ``now``; :func:`at_now` binds it to a clock for the event processor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from isp_common.clock import Clock
from isp_common.consumer import Handler
from isp_common.db import UnitOfWork
from isp_schemas.envelope import CloudEvent

TimedHandler = Callable[[UnitOfWork, CloudEvent, Any, datetime], None]
FactHandler = Callable[[UnitOfWork, CloudEvent, Any, datetime], set[str]]
"""Records a fact; returns the people (NHS numbers) whose open withheld shares it may change."""


def at_now(clock: Clock, handler: TimedHandler) -> Handler:
    """``handler`` with ``now`` read from ``clock`` when the event is handled."""

    def handle(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        handler(uow, event, data, clock.now())

    handle.__name__ = getattr(handler, "__name__", "handle")
    return handle
