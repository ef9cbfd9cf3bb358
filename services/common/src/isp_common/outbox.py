"""The outbox relay: publishes committed outbox rows to Kafka, oldest first.

Rows are marked sent only after the broker acknowledged them (``acks=all``).
A crash between send and mark re-sends the row on restart: at-least-once, which
consumers absorb by their inbox. A failure stops the batch at the failed row, so
one key's events never overtake each other.

No row blocks the relay for ever: a row the broker refuses for good (too large, an invalid
topic: a non-retriable error that is about the row, not the connection), or one that has failed
``max_attempts`` times in a row, is moved to ``outbox_quarantine`` in the transaction that marks
its batch sent, and the rows behind it flow on (audit records included). An operator puts it back
with :func:`release` once the cause is fixed. Errors that say the broker or the producer is
unreachable (a timeout, a lost connection, failed authentication) never count against a row.

The relay publishes what this process commits as soon as it is committed (the unit of work's
``on_commit`` wakes it), and otherwise every ``poll_interval``. On PostgreSQL, where replicas share
the outbox and one leads the relay, a commit that queued rows also sends ``NOTIFY isp_outbox``,
and every relay LISTENs on a connection of its own, so rows another replica committed do not wait
out the poll (they waited up to 0.2 s). The poll stays: a lost listening connection is opened
again, and a pooler that cannot carry LISTEN (PgBouncer in transaction mode) only costs latency.

A published row is a copy of its event, personal data and all, that the broker already holds: the
relay deletes rows published more than ``sent_retention`` ago (``ISP_OUTBOX_SENT_RETENTION_HOURS``,
a day by default), a chunk per transaction and a few chunks at a time, between batches, every
``prune_every`` seconds (:func:`prune_sent`). Rows not yet published and quarantined rows are never
pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from isp_schemas.envelope import CONTENT_TYPE
from sqlalchemy import Table, delete, update
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .db import OUTBOX_CHANNEL
from .kafka_clients import TopicAdmin
from .leader import Leadership
from .provenance import SIGNATURE_HEADER, Signer
from .tables import OutboxMessage, QuarantinedOutboxMessage
from .times import utcnow

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 10
"""Failures in a row after which a row is quarantined (the runtime passes ``ISP_OUTBOX_MAX_ATTEMPTS``)."""

PRUNE_CHUNK = 1000
"""Published rows deleted per transaction when pruning (short transactions: the consumers write on)."""

PRUNE_CHUNKS_AT_A_TIME = 10
"""Transactions of pruning between two batches to publish: a backlog (the first start after an
upgrade) is deleted a few thousand rows at a time, and what is waiting to be published goes first."""

UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    kafka_errors.KafkaConnectionError,
    kafka_errors.NoBrokersAvailable,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.ProducerClosed,
    kafka_errors.ProducerFenced,
    kafka_errors.BrokerNotAvailableError,
    kafka_errors.KafkaUnavailableError,
    kafka_errors.IllegalStateError,
    kafka_errors.KafkaConfigurationError,
    kafka_errors.UnsupportedVersionError,
    kafka_errors.IncompatibleBrokerVersion,
    kafka_errors.AuthenticationFailedError,
    kafka_errors.AuthenticationMethodNotSupported,
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
    kafka_errors.ClusterAuthorizationFailedError,
)
"""Errors about the broker or the producer, not the row: every row would fail alike, so none is
counted against the row that met it (a broker outage quarantines nothing)."""

MAY_BE_FIXED: tuple[type[BaseException], ...] = (kafka_errors.TopicAuthorizationFailedError,)
"""Non-retriable, yet an operator may fix it (an ACL): counted as a failure, not refused for good."""


def refused_for_good(exc: BaseException) -> bool:
    """The broker will never take this row (aiokafka marks the error not ``retriable``): a
    ``MessageSizeTooLargeError``, ``RecordTooLargeError``, ``InvalidTopicError`` and the like."""
    return (
        isinstance(exc, kafka_errors.KafkaError)
        and not exc.retriable
        and type(exc) not in (kafka_errors.KafkaError, kafka_errors.UnknownError)  # nothing said about the row
        and not isinstance(exc, UNREACHABLE + MAY_BE_FIXED)
    )


class Outgoing(Protocol):
    """What publishing an outbox row reads of it: an :class:`OutboxMessage` or a :class:`PendingRow`."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def value(self) -> bytes: ...
    @property
    def traceparent(self) -> str | None: ...


class PendingRow(NamedTuple):
    """An outbox row waiting to be published, as the relay reads it: plain values, not an ORM
    object (loading a batch of 500 as :class:`OutboxMessage` objects cost 18-21 µs a row, as
    tuples 1.4-2.6 µs; three rows are published per DNA alert)."""

    id: int
    topic: str
    key: str | None
    event_id: str
    event_type: str
    value: bytes
    traceparent: str | None
    created_at: datetime


_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
_PENDING = (
    select_columns(*(_OUTBOX.c[name] for name in PendingRow._fields))
    .where(_OUTBOX.c.sent_at.is_(None))
    .order_by(_OUTBOX.c.id)
)


def pending_rows(engine: Engine, limit: int) -> list[PendingRow]:
    """At most ``limit`` unsent outbox rows, oldest first (the relay's read; tests read
    :func:`isp_common.db.pending_outbox`)."""
    with engine.connect() as connection:
        return [PendingRow(*row) for row in connection.execute(_PENDING.limit(limit))]


def outbox_headers(row: Outgoing, signer: Signer | None = None) -> list[tuple[str, bytes]]:
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


SEND_TURN = 100
"""The relay lets the event loop's other work run after this many rows handed to the producer
(about 2 ms of them), so a batch of 500 does not hold the loop for 10 ms at once."""


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
        max_attempts: int | None = None,
        sent_retention: timedelta | None = None,
        prune_every: float = 300.0,
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
        """Rows this relay quarantined since it started (exported as ``isp_outbox_given_up``)."""
        self.max_attempts = max_attempts if max_attempts is not None else DEFAULT_MAX_ATTEMPTS
        self._failures: dict[int, int] = {}
        """Outbox row id -> how many times in a row it failed (in memory: a restart starts again)."""
        self.leadership = leadership or Leadership(engine, "outbox-relay")
        self.sent_retention = sent_retention
        """How long a published row is kept (None: for ever, as a test's relay may want)."""
        self.prune_every = prune_every
        self.pruned = 0
        """Published rows this relay deleted since it started (exported as ``isp_outbox_pruned``)."""
        self._next_prune = 0.0
        self.listening = asyncio.Event()
        """Set while this relay LISTENs for other replicas' commits (PostgreSQL)."""
        self._listener: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())
        if self.engine.dialect.name == "postgresql":
            self._listener = asyncio.ensure_future(self._listen())

    async def _listen(self, retry_after: float = 5.0) -> None:
        """Wake on every ``NOTIFY isp_outbox`` (a commit in any replica that queued rows), on an
        autocommit connection of its own, opened again after ``retry_after`` if it is lost."""
        import psycopg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self.listening.set()
                    self._wake.set()  # rows committed while not listening are not left to the poll
                    async for _ in connection.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the poll goes on meanwhile
                log.warning(
                    "outbox relay: not listening for commits (%s); again in %.0f s", type(exc).__name__, retry_after
                )
            finally:
                self.listening.clear()
            await asyncio.sleep(retry_after)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
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
            # cleared before the batch is read, not after it is published: a commit while this
            # batch is out wakes the next one at once (cleared after, that wake was lost and the
            # rows it committed waited out the poll interval)
            self._wake.clear()
            try:
                sent = await self.flush()
            except Exception:
                log.exception("outbox relay: publish failed; will retry")
                sent = 0
                await asyncio.sleep(1.0)
            if sent >= self.batch_size:
                continue
            await self._prune_when_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        if self.leadership.held():
            await self.flush()
        self.leadership.release()

    async def _prune_when_due(self) -> None:
        """Between batches, at most every ``prune_every`` seconds: :meth:`prune` (a failure is logged
        and tried again next time; publishing goes on). A backlog larger than one turn's share is
        taken up again at the next pause, after the rows waiting to be published."""
        if self.sent_retention is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self.prune_every
        try:
            if await self.prune() >= PRUNE_CHUNK * PRUNE_CHUNKS_AT_A_TIME:
                self._next_prune = 0.0
        except Exception:
            log.exception("outbox relay: pruning published rows failed; will try again")

    async def prune(self) -> int:
        """Delete rows published more than ``sent_retention`` ago, a chunk per transaction in a
        worker thread, at most :data:`PRUNE_CHUNKS_AT_A_TIME` chunks; return how many."""
        if self.sent_retention is None:
            return 0
        before = utcnow() - self.sent_retention
        total = 0
        for _ in range(PRUNE_CHUNKS_AT_A_TIME):
            deleted = await asyncio.to_thread(prune_sent, self.engine, before, PRUNE_CHUNK)
            total += deleted
            if deleted < PRUNE_CHUNK or self._stopping:
                break
        self.pruned += total
        if total:
            log.info("outbox relay: deleted %d rows published before %s", total, before.isoformat())
        return total

    # The database work runs in a worker thread, so the event loop never waits on it.
    def _pending(self) -> list[tuple[PendingRow, list[tuple[str, bytes]]]]:
        """The next rows to publish, each with its headers: signed here too, in the worker thread
        (libsodium lets the GIL go), so that the event loop is free meanwhile to start the
        consumer's next batch (signing 400 rows on it held it for 10-13 ms)."""
        return [(row, outbox_headers(row, self.signer)) for row in pending_rows(self.engine, self.batch_size)]

    def _settle(self, sent_ids: list[int], quarantined: list[tuple[PendingRow, str]]) -> None:
        """Mark the sent rows sent and move the quarantined ones aside, in one transaction."""
        with Session(self.engine) as session:
            if sent_ids:
                session.exec(update(OutboxMessage).where(col(OutboxMessage.id).in_(sent_ids)).values(sent_at=utcnow()))
            for row, reason in quarantined:
                session.add(quarantine_copy(row, reason))
            if quarantined:
                gone = [row.id for row, _reason in quarantined]
                session.exec(delete(OutboxMessage).where(col(OutboxMessage.id).in_(gone)))
            session.commit()

    def _refusal(self, row: PendingRow, exc: Exception) -> str | None:
        """Why ``row`` is quarantined after ``exc``, or None to stop here and try it again later.
        The reason names the error's kind only: its text could carry the content."""
        kind = type(exc).__name__
        if refused_for_good(exc):
            return f"refused by the broker: {kind}"
        if isinstance(exc, UNREACHABLE):
            return None
        failures = self._failures[row.id] = self._failures.get(row.id, 0) + 1
        if failures >= self.max_attempts:
            return f"failed {failures} times in a row (last: {kind})"
        return None

    def _quarantined(self, row: PendingRow, reason: str) -> None:
        self.given_up += 1
        log.error(
            "outbox relay: row %s (event %s type %s, %d bytes) quarantined: %s; the rows behind it flow on",
            row.id,
            row.event_id,
            row.event_type,
            len(row.value),
            reason,
        )

    async def flush(self) -> int:
        """Publish one batch of pending rows; return how many were sent or quarantined."""
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        await self.admin.ensure({r.topic for r, _headers in rows})
        futures = []
        quarantined: list[tuple[PendingRow, str]] = []
        error: Exception | None = None
        for count, (row, headers) in enumerate(rows, 1):
            if count % SEND_TURN == 0:
                await asyncio.sleep(0)  # let the event loop's other work in (a consumer's next batch)
            try:
                fut = await self.producer.send(
                    row.topic, value=row.value, key=row.key.encode() if row.key else None, headers=headers
                )
            except Exception as exc:
                if (reason := self._refusal(row, exc)) is None:
                    error = exc  # stop here: the rows behind it wait, so one key's events keep their order
                    break
                quarantined.append((row, reason))
                continue
            futures.append((row, fut))
        sent_ids: list[int] = []
        for row, fut in futures:
            try:
                await fut
            except Exception as exc:
                if (reason := self._refusal(row, exc)) is None:
                    error = exc  # an earlier row than any failure met while sending
                    break
                quarantined.append((row, reason))
                continue
            sent_ids.append(row.id)
        if sent_ids or quarantined:
            await asyncio.to_thread(self._settle, sent_ids, quarantined)
            self.published += len(sent_ids)
            for row, reason in quarantined:
                self._quarantined(row, reason)
            for done in sent_ids + [row.id for row, _reason in quarantined]:
                self._failures.pop(done, None)
        if error is not None:
            raise error
        return len(sent_ids) + len(quarantined)


def prune_sent(engine: Engine, sent_before: datetime, limit: int = PRUNE_CHUNK) -> int:
    """Delete at most ``limit`` outbox rows published before ``sent_before``, oldest first, in one
    transaction; return how many. Unpublished rows stay, however old."""
    oldest = (
        select(OutboxMessage.id)
        .where(col(OutboxMessage.sent_at).is_not(None), col(OutboxMessage.sent_at) < sent_before)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    # one statement, no list of ids bound (old SQLite builds take 999 parameters at most)
    statement = delete(OutboxMessage).where(col(OutboxMessage.id).in_(oldest.scalar_subquery()))
    with engine.begin() as connection:
        return connection.execute(statement).rowcount


def quarantine_copy(row: PendingRow, reason: str) -> QuarantinedOutboxMessage:
    return QuarantinedOutboxMessage(
        outbox_id=row.id,
        topic=row.topic,
        key=row.key,
        event_id=row.event_id,
        event_type=row.event_type,
        value=row.value,
        traceparent=row.traceparent,
        created_at=row.created_at,
        reason=reason,
    )


def quarantined(engine: Engine) -> list[QuarantinedOutboxMessage]:
    """The rows in quarantine, oldest first (for an operator)."""
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(QuarantinedOutboxMessage).order_by(col(QuarantinedOutboxMessage.id))))


def release(engine: Engine, quarantine_id: int) -> int:
    """Put a quarantined row back in the outbox, once its cause is fixed (an operator's act; there
    is no HTTP route): it goes to the end of the queue as a new row, and the relay publishes it
    with its original event id, so consumers that somehow saw it already drop it as a duplicate.
    Returns the new outbox row's id; ``LookupError`` if no such quarantined row."""
    with Session(engine) as session:
        held = session.get(QuarantinedOutboxMessage, quarantine_id)
        if held is None:
            raise LookupError(f"no quarantined outbox row {quarantine_id}")
        row = OutboxMessage(
            topic=held.topic,
            key=held.key,
            event_id=held.event_id,
            event_type=held.event_type,
            value=held.value,
            traceparent=held.traceparent,
        )
        session.add(row)
        session.delete(held)
        session.flush()
        assert row.id is not None
        log.warning(
            "outbox: quarantined row %d (event %s type %s) released as outbox row %d",
            quarantine_id,
            row.event_id,
            row.event_type,
            row.id,
        )
        new_id = row.id
        session.commit()
        return new_id
