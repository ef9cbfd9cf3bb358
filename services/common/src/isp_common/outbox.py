"""The outbox relay: publishes committed outbox rows to Kafka, oldest first.

Rows are marked sent only after the broker acknowledged them (``acks=all``).
A crash between send and mark re-sends the row on restart: at-least-once, which
consumers absorb by their inbox. A failure stops the batch at the failed row, so
one key's events never overtake each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from isp_schemas.envelope import CONTENT_TYPE
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from .db import pending_outbox
from .kafka import TopicAdmin
from .leader import Leadership
from .provenance import SIGNATURE_HEADER, Signer
from .tables import OutboxMessage
from .times import utcnow

log = logging.getLogger(__name__)


def outbox_headers(row: OutboxMessage, signer: Signer | None = None) -> list[tuple[str, bytes]]:
    """The Kafka headers an outbox row is published with (also used by the in-process test bus):
    with ``signer``, the service's ``isp-signature`` over the row's value (CONTRACT §10)."""
    headers = [
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_id", row.event_id.encode()),
        ("ce_type", row.event_type.encode()),
    ]
    if row.traceparent:
        headers.append(("traceparent", row.traceparent.encode()))
    if signer is not None:
        headers.append((SIGNATURE_HEADER, signer.sign(row.value).encode()))
    return headers


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        producer: AIOKafkaProducer,
        admin: TopicAdmin,
        poll_interval: float = 0.2,
        batch_size: int = 500,
        leadership: Leadership | None = None,
        signer: Signer | None = None,
    ):
        self.engine = engine
        self.signer = signer
        self.producer = producer
        self.admin = admin
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0
        self.given_up = 0
        self.leadership = leadership or Leadership(engine, "outbox-relay")

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    async def _run(self) -> None:
        while not self._stopping:
            if not self.leadership.held():  # another replica publishes; stand by
                await asyncio.sleep(max(self.poll_interval, 1.0))
                continue
            try:
                sent = await self.flush()
            except Exception:
                log.exception("outbox relay: publish failed; will retry")
                sent = 0
                await asyncio.sleep(1.0)
            if sent >= self.batch_size:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        if self.leadership.held():
            await self.flush()
        self.leadership.release()

    # The database work runs in a worker thread, so the event loop never waits on it.
    def _pending(self) -> list[OutboxMessage]:
        with Session(self.engine, expire_on_commit=False) as session:
            return pending_outbox(session, self.batch_size)

    def _mark_sent(self, ids: list[int]) -> None:
        with Session(self.engine) as session:
            session.exec(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(sent_at=utcnow()))
            session.commit()

    def _give_up(self, row: OutboxMessage) -> int:
        """A row the broker can never take (too large): not retried, so it cannot stop the rows
        behind it (audit records included); logged by id and type, never by content."""
        self.given_up += 1
        log.error(
            "outbox relay: event %s type %s (%d bytes) is larger than the broker takes; not published",
            row.event_id,
            row.event_type,
            len(row.value),
        )
        assert row.id is not None
        return row.id

    async def flush(self) -> int:
        """Publish one batch of pending rows; return how many were sent."""
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        await self.admin.ensure({r.topic for r in rows})
        futures = []
        sent_ids: list[int] = []
        given_up: list[int] = []
        for row in rows:
            try:
                fut = await self.producer.send(
                    row.topic,
                    value=row.value,
                    key=row.key.encode() if row.key else None,
                    headers=outbox_headers(row, self.signer),
                )
            except MessageSizeTooLargeError:
                given_up.append(self._give_up(row))
                continue
            futures.append((row, fut))
        error: Exception | None = None
        for row, fut in futures:
            try:
                await fut
                assert row.id is not None  # read back from the table: always has its key
                sent_ids.append(row.id)
            except MessageSizeTooLargeError:
                given_up.append(self._give_up(row))
            except Exception as exc:  # stop at the first failure to keep per-key order
                error = exc
                break
        if sent_ids or given_up:
            await asyncio.to_thread(self._mark_sent, sent_ids + given_up)
            self.published += len(sent_ids)
        if error is not None:
            raise error
        return len(sent_ids) + len(given_up)
