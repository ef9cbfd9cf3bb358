"""Consuming events: decode at the boundary, hand to a handler inside a unit of
work with the inbox mark, retry, and dead-letter what still fails.

Faust acknowledges an event when the agent raises, which would lose it silently,
so :meth:`EventProcessor.process` never raises: every event ends handled,
skipped (a type this service does not handle), a duplicate, or dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from isp_schemas.envelope import CloudEvent
from isp_schemas.registry import InvalidEvent, parse_event
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from . import telemetry
from .db import UnitOfWork
from .deadletter import DeadLetters

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, CloudEvent, Any], None]
Outcome = Literal["handled", "skipped", "duplicate", "deadlettered"]


class EventRejected(Exception):
    """A handler's verdict that an event can never be processed (no retry): dead-letter it."""


@dataclass
class EventProcessor:
    consumer_name: str
    handlers: Mapping[str, Handler]
    uow_factory: Callable[[], UnitOfWork]
    deadletters: DeadLetters
    attempts: int = 3
    retry_delay: float = 0.2

    async def process(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Mapping[str, bytes] | list[tuple[str, bytes]] | None,
        topic: str,
    ) -> Outcome:
        header_list = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        try:
            envelope, data = parse_event(value or b"")
        except InvalidEvent as exc:
            await self.deadletters.send(key, value, header_list, str(exc), topic)
            return "deadlettered"
        handler = self.handlers.get(envelope.type)
        if handler is None:
            return "skipped"
        token = telemetry.attach(telemetry.context_from_headers(header_list))
        try:
            with telemetry.tracer(self.consumer_name).start_as_current_span(
                f"consume {envelope.type}",
                attributes={"cloudevents.event_id": envelope.id, "messaging.destination": topic},
            ):
                return await self._handle(handler, envelope, data, key, value, header_list, topic)
        finally:
            telemetry.detach(token)

    async def _handle(
        self,
        handler: Handler,
        envelope: CloudEvent,
        data: BaseModel,
        key: bytes | None,
        value: bytes | None,
        header_list: list[tuple[str, bytes]],
        topic: str,
    ) -> Outcome:
        last_error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                with self.uow_factory() as uow:
                    if uow.already_processed(self.consumer_name, envelope.id):
                        return "duplicate"
                    handler(uow, envelope, data)
                    uow.mark_processed(self.consumer_name, envelope.id, envelope.type)
                    uow.commit()
                return "handled"
            except EventRejected as exc:
                await self.deadletters.send(key, value, header_list, f"rejected: {exc}", topic)
                return "deadlettered"
            except IntegrityError as exc:
                if self._is_duplicate(envelope.id):
                    return "duplicate"
                last_error = f"{type(exc).__name__}: {exc.orig if hasattr(exc, 'orig') else exc}"
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "handler failed (attempt %d/%d) for event %s type %s: %s",
                    attempt,
                    self.attempts,
                    envelope.id,
                    envelope.type,
                    type(exc).__name__,
                )
            if attempt < self.attempts:
                await asyncio.sleep(self.retry_delay * (2 ** (attempt - 1)))
        reason = f"handler failed after {self.attempts} attempts: {last_error}"
        await self.deadletters.send(key, value, header_list, reason, topic)
        return "deadlettered"

    def _is_duplicate(self, event_id: str) -> bool:
        with self.uow_factory() as uow:
            return uow.already_processed(self.consumer_name, event_id)
