"""Consuming events: decode at the boundary, hand to a handler inside a unit of
work with the inbox mark, retry, and dead-letter what still fails.

Faust acknowledges an event when the agent raises, which would lose it silently,
so :meth:`EventProcessor.process` never raises: every event ends handled,
skipped (a type this service does not handle), a duplicate, or dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from isp_schemas.envelope import CloudEvent
from isp_schemas.registry import InvalidEvent, decode_event, describe_errors, parse_event, topic_accepts
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError

from . import logs, provenance, telemetry
from .db import UnitOfWork
from .deadletter import DeadLetters, Position
from .provenance import ProvenanceError

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, CloudEvent, Any], None]
Prefetch = Callable[[UnitOfWork, Sequence[tuple[CloudEvent, Any]]], None]
"""Reads ahead, in the transaction about to apply a run of events, what their handlers will read
(e.g. the facts about everyone they name), so a batch reads in a few queries what its events
would read in many. Only a speed-up: a failure is logged and the run goes on without it."""
ProvenanceCheck = Callable[[bytes, list[tuple[str, bytes]], CloudEvent], str]
"""Checks an event's signature and organisation fields (:func:`isp_common.provenance.check` bound to a
service's trust); returns its provenance or raises ProvenanceError."""
Outcome = Literal["handled", "skipped", "duplicate", "deadlettered"]
PARALLEL_PROOFS_FROM = 16
"""A batch with at least this many events to prove has their signatures checked in two worker
threads at once (:meth:`EventProcessor._prove_all`); a shorter one on the event loop, in turn."""


_B = TypeVar("_B")
_P = TypeVar("_P")

Headers = Mapping[str, bytes] | list[tuple[str, bytes]] | None
Message = tuple[bytes | None, bytes | None, Headers]
"""A consumed record: key, value, headers."""


def _header_list(headers: Headers) -> list[tuple[str, bytes]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])


@dataclass
class _Parsed:
    """A consumed event to handle; ``provenance`` is set once its origin is proven."""

    handler: Handler
    envelope: CloudEvent
    data: BaseModel
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    position: Position | None = None
    provenance: str | None = None


_Fate = InvalidEvent | _Parsed | None
"""What parsing decided for a consumed message: dead-letter it (why), handle it, or skip it (None)."""


@dataclass
class PreparedBatch:
    """Consumed messages parsed, and the origin of those to handle checked
    (:meth:`EventProcessor.prepare_batch`), ready to end in order (:meth:`EventProcessor.finish_batch`)."""

    parsed: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]], Position | None, _Fate]]
    proofs: list[tuple[str | None, str | None]]
    """(provenance, why unproven) for each event to handle, in order."""


def safe_error(exc: BaseException) -> str:
    """What went wrong, for a dead-letter header and the log, without personal data: an exception's
    own message may carry it (pydantic's input values, a database driver's parameters and DETAIL
    lines, a KeyError's key), so only its type, the fields of a validation error, and the first
    line of a database error (which names the constraint, not the values) are kept."""
    name = type(exc).__name__
    if isinstance(exc, ValidationError):
        return f"{name}: {describe_errors(exc)}"
    if isinstance(exc, DBAPIError):
        first = str(exc.orig).splitlines()[0] if exc.orig is not None and str(exc.orig) else ""
        return f"{name}: {type(exc.orig).__name__}: {first}" if first else name
    return name


@dataclass(frozen=True)
class Guarded:
    """A handler that acts only on the events ``relevant`` accepts: the others are skipped before
    their signature is checked or anything is written (an event a service would ignore costs no
    verification, no transaction and no inbox mark; a forged one it would ignore changes nothing).

    ``irrelevant_data``, if given, tells the same from an event's raw data (the JSON object, not
    yet validated, or whatever stands in its place), so most such events are skipped before they
    are even validated. It may say True only where ``relevant`` would refuse any valid event with
    that data, and only for a type another consumer validates in full (a malformed event it skips
    must still be dead-lettered somewhere: CONTRACT §4); an event it lets through is validated and
    asked ``relevant`` as before."""

    handler: Handler
    relevant: Callable[[CloudEvent, Any], bool]
    irrelevant_data: Callable[[Any], bool] | None = None

    def __call__(self, uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        if self.relevant(event, data):
            self.handler(uow, event, data)

    def ignores_raw(self, data: Any) -> bool:
        """Whether ``irrelevant_data`` says this raw data is ignored; False without one, or when it
        cannot tell (it raises on odd raw data): the event is then validated, as without one."""
        if self.irrelevant_data is None:
            return False
        try:
            return self.irrelevant_data(data)
        except Exception:
            return False


@dataclass(frozen=True)
class HandledElsewhere(Guarded):
    """A type on this topic that no handler here takes and the service ``by`` handles, validating
    every one (each is dead-lettered there if malformed: CONTRACT §4): skipped here before it is
    validated, as a guard's irrelevant data is. Validating it only to skip it cost the consumer
    about 9 µs an event (pydantic; referrals reads back each event it publishes on
    ``isp.referrals.v1``, notifications each appointment on ``isp.treatment.v1``). The suite's
    tests hold that ``by`` does handle each type so named, on the same topic."""

    by: str = ""

    @classmethod
    def beside(cls, handlers: Mapping[str, Handler], by: str, event_types: Iterable[str]) -> dict[str, Handler]:
        """``handlers`` and, beside them, ``event_types`` left to the service ``by``. A type handled
        here cannot also be left elsewhere (ValueError): the entry would hide its handler."""
        left = list(event_types)
        if both := sorted(set(left) & set(handlers)):
            raise ValueError(f"handled here, so not left to {by}: {', '.join(both)}")
        return {**handlers, **{event_type: cls(_nothing, _never, _always, by=by) for event_type in left}}


def _nothing(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
    return None


def _never(event: CloudEvent, data: Any) -> bool:
    return False


def _always(data: Any) -> bool:
    return True


def _ignored(handler: Handler, envelope: CloudEvent, data: Any) -> bool:
    return isinstance(handler, Guarded) and not handler.relevant(envelope, data)


def _ignored_unvalidated(handlers: Mapping[str, Handler], document: dict[str, Any], topic: str) -> bool:
    """Whether a decoded event, not yet validated, is one its guarded handler tells from the raw
    data that it ignores (:attr:`Guarded.irrelevant_data`): skipped before it is validated, which
    would cost more than the rest of skipping it; a type another service handles in full
    (:class:`HandledElsewhere`) is such a guard. Every other event is validated first, even of a
    type no handler here takes, so that a malformed one is dead-lettered (CONTRACT §4: nothing is
    silently dropped); a guard says only what its handler ignores, of a type it handles."""
    event_type = document.get("type")
    if not isinstance(event_type, str) or not topic_accepts(topic, event_type):
        return False
    handler = handlers.get(event_type)
    return isinstance(handler, Guarded) and handler.ignores_raw(document.get("data"))


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
    provenance: ProvenanceCheck | None = None
    """CONTRACT §10: how an event proves where it came from, checked before any handler sees it (None:
    not checked, e.g. a test's processor or the dead-letter keeper). A refusal is dead-lettered."""
    prefetch: Prefetch | None = None
    parallel_proofs_from: int = PARALLEL_PROOFS_FROM

    def _proven(
        self, value: bytes | None, headers: list[tuple[str, bytes]], envelope: CloudEvent
    ) -> tuple[str | None, str | None]:
        """(its provenance, None) when the event's origin is proven (no provenance when nothing is
        checked), else (None, why not)."""
        if self.provenance is None:
            return None, None
        try:
            return self.provenance(value or b"", headers, envelope), None
        except ProvenanceError as exc:
            return None, f"provenance: {exc}"

    def _parse(self, value: bytes, topic: str) -> tuple[Handler, CloudEvent, Any] | None:
        """The event in ``value`` with its handler, or None for one to skip: of a type no handler here
        takes, or that its guarded handler ignores (told from the raw data, before validating, where
        it can be: :func:`_ignored_unvalidated`). Raises InvalidEvent."""
        document = decode_event(value)
        if _ignored_unvalidated(self.handlers, document, topic):
            return None
        envelope, data = parse_event(value, topic=topic, document=document)
        handler = self.handlers.get(envelope.type)
        if handler is None or _ignored(handler, envelope, data):
            return None
        return handler, envelope, data

    async def process(
        self, key: bytes | None, value: bytes | None, headers: Headers, topic: str, position: Position | None = None
    ) -> Outcome:
        """Process one message in its own transaction (retries, then dead-letter). ``position``
        (partition, offset) names the message in its dead-letter headers."""
        header_list = _header_list(headers)
        try:
            parsed = self._parse(value or b"", topic)
        except InvalidEvent as exc:
            await self._dead_letter(key, value, header_list, str(exc), topic, position)
            return "deadlettered"
        if parsed is None:
            return "skipped"
        handler, envelope, data = parsed
        proven, unproven = self._proven(value, header_list, envelope)
        if unproven:
            await self._dead_letter(key, value, header_list, unproven, topic, position)
            return "deadlettered"
        item = _Parsed(handler, envelope, data, key, value, header_list, position, proven)
        return await self._process_parsed(item, topic)

    async def process_batch(
        self, messages: Sequence[Message], topic: str, positions: Sequence[Position] | None = None
    ) -> list[Outcome]:
        """Process consumed messages in order, committing runs of them in one transaction.

        Every event still ends handled, skipped, duplicate or dead-lettered exactly as with
        :meth:`process`. The database work runs in a worker thread, so the event loop (relay,
        webhooks, API) never waits on it. An event whose handler fails is not allowed to take the
        others with it: the run before it is committed on its own, the failing event goes through
        :meth:`process` (retries, then dead-letter), and the rest continue as a new run.

        The same as :meth:`prepare_batch` then :meth:`finish_batch`, which a consumer may take apart
        to prepare the next batch while this one is applied.
        """
        return await self.finish_batch(await self.prepare_batch(messages, topic, positions), topic)

    async def prepare_batch(
        self, messages: Sequence[Message], topic: str, positions: Sequence[Position] | None = None
    ) -> PreparedBatch:
        """The first half of :meth:`process_batch`, which changes nothing: every message parsed, and
        the events to handle with their origin checked, all at once (:meth:`_prove_all`)."""
        parsed: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]], Position | None, _Fate]] = []
        for index, (key, value, headers) in enumerate(messages):
            header_list = _header_list(headers)
            position = positions[index] if positions is not None else None
            try:
                handled = self._parse(value or b"", topic)
            except InvalidEvent as exc:
                parsed.append((key, value, header_list, position, exc))
                continue
            if handled is None:
                parsed.append((key, value, header_list, position, None))
                continue
            handler, envelope, data = handled
            parsed.append(
                (key, value, header_list, position, _Parsed(handler, envelope, data, key, value, header_list, position))
            )
        to_prove = [fate for *_, fate in parsed if isinstance(fate, _Parsed)]
        return PreparedBatch(parsed, await self._prove_all(to_prove))

    async def finish_batch(self, prepared: PreparedBatch, topic: str) -> list[Outcome]:
        """The second half of :meth:`process_batch`: each event ends in order, as it would one at a
        time; runs of events to handle are applied together."""
        proofs = iter(prepared.proofs)  # one per event to prove, in order
        outcomes: list[Outcome] = []
        ready: list[_Parsed] = []
        for key, value, header_list, position, fate in prepared.parsed:
            if isinstance(fate, InvalidEvent):
                await self._flush(ready, outcomes, topic)
                await self._dead_letter(key, value, header_list, str(fate), topic, position)
                outcomes.append("deadlettered")
                continue
            if fate is None:
                await self._flush(ready, outcomes, topic)
                outcomes.append("skipped")
                continue
            proven, unproven = next(proofs)
            if unproven:
                await self._flush(ready, outcomes, topic)
                await self._dead_letter(key, value, header_list, unproven, topic, position)
                outcomes.append("deadlettered")
                continue
            fate.provenance = proven
            ready.append(fate)
        await self._flush(ready, outcomes, topic)
        return outcomes

    async def _prove_all(self, items: Sequence[_Parsed]) -> list[tuple[str | None, str | None]]:
        """:meth:`_proven` for each of ``items``. A long run is checked in two worker threads at once:
        an Ed25519 check releases the GIL, so the two use both cores, and the event loop (the relay,
        the API) runs meanwhile. Measured flat out (2,000 people, three pairs of runs): 11-13 % more
        alerts a second than checking in turn on the event loop."""

        def prove(chunk: Sequence[_Parsed]) -> list[tuple[str | None, str | None]]:
            return [self._proven(item.value, item.headers, item.envelope) for item in chunk]

        if self.provenance is None or len(items) < self.parallel_proofs_from:
            return prove(items)
        half = len(items) // 2
        first, second = await asyncio.gather(
            asyncio.to_thread(prove, items[:half]), asyncio.to_thread(prove, items[half:])
        )
        return first + second

    async def _flush(self, ready: list[_Parsed], outcomes: list[Outcome], topic: str) -> None:
        """Run ``ready`` (then empty it), appending one outcome per event to ``outcomes``."""
        pending = list(ready)
        ready.clear()
        while pending:
            done, failed_at = await asyncio.to_thread(self._apply_run, pending, topic)
            outcomes.extend(done)
            if failed_at is None:
                return
            item = pending[failed_at]
            outcomes.append(await self._process_parsed(item, topic))
            pending = pending[failed_at + 1 :]

    def _apply_run(self, run: Sequence[_Parsed], topic: str) -> tuple[list[Outcome], int | None]:
        """In a worker thread: apply ``run`` in one transaction. On the first failure, roll back,
        apply the events before it again and commit them; say where it failed."""
        failed_at: int | None = None
        outcomes: list[Outcome] = []
        with self.uow_factory() as uow:
            # what was processed before this batch (one query); then what this batch processed
            seen = uow.processed_among(self.consumer_name, (item.envelope.id for item in run))
            self._read_ahead(uow, [item for item in run if item.envelope.id not in seen])
            for index, item in enumerate(run):
                try:
                    outcomes.append(self._apply_one(uow, item, topic, seen))
                except Exception:
                    failed_at = index
                    break
            if failed_at is None:
                uow.commit()
                return outcomes, None
            uow.rollback()
        if failed_at == 0:
            return [], 0
        outcomes, again = self._apply_run(run[:failed_at], topic)
        if again is not None:  # not deterministic: give up on batching for this run
            return outcomes, again
        return outcomes, failed_at

    def _read_ahead(self, uow: UnitOfWork, run: Sequence[_Parsed]) -> None:
        if self.prefetch is None or not run:
            return
        try:
            self.prefetch(uow, [(item.envelope, item.data) for item in run])
        except Exception as exc:
            log.warning(
                "%s: reading ahead failed (%s); the events are applied without it", self.consumer_name, safe_error(exc)
            )
            uow.rollback()  # nothing is written yet: only what was read ahead is gone

    def _apply_one(self, uow: UnitOfWork, item: _Parsed, topic: str, seen: set[str]) -> Outcome:
        event_id = item.envelope.id
        if event_id in seen:
            return "duplicate"
        with self._span(item, topic):
            item.handler(uow, item.envelope, item.data)
        uow.mark_processed(self.consumer_name, event_id, item.envelope.type)
        seen.add(event_id)
        return "handled"

    async def _process_parsed(self, item: _Parsed, topic: str) -> Outcome:
        with self._span(item, topic):
            return await self._handle(item, topic)

    @contextmanager
    def _span(self, item: _Parsed, topic: str) -> Iterator[None]:
        """The event's consume span, as a child of the trace its headers carry; every log line within
        names the event (its id and type), and a decision made within knows its provenance."""
        token = telemetry.attach(telemetry.context_from_headers(item.headers))
        try:
            with (
                telemetry.tracer(self.consumer_name).start_as_current_span(
                    f"consume {item.envelope.type}",
                    attributes={"cloudevents.event_id": item.envelope.id, "messaging.destination": topic},
                ),
                logs.event_context(item.envelope.id, item.envelope.type),
                provenance.handling(item.provenance),
            ):
                yield
        finally:
            telemetry.detach(token)

    async def _dead_letter(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        reason: str,
        topic: str,
        position: Position | None,
    ) -> None:
        if position is None:  # a dead-letter sink that predates positions still works
            await self.deadletters.send(key, value, headers, reason, topic)
        else:
            await self.deadletters.send(key, value, headers, reason, topic, position=position)

    async def _handle(self, item: _Parsed, topic: str) -> Outcome:
        handler, envelope, data = item.handler, item.envelope, item.data
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
                await self._dead_letter(item.key, item.value, item.headers, f"rejected: {exc}", topic, item.position)
                return "deadlettered"
            except IntegrityError as exc:
                if self._is_duplicate(envelope.id):
                    return "duplicate"
                last_error = safe_error(exc)
            except Exception as exc:
                last_error = safe_error(exc)
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
        await self._dead_letter(item.key, item.value, item.headers, reason, topic, item.position)
        return "deadlettered"

    def _is_duplicate(self, event_id: str) -> bool:
        with self.uow_factory() as uow:
            return uow.already_processed(self.consumer_name, event_id)


async def in_turn(
    batches: AsyncIterator[_B],
    prepare: Callable[[_B], Awaitable[_P]],
    finish: Callable[[_B, _P], Awaitable[None]],
) -> None:
    """Each batch prepared while the one before it is finished: batches are finished one at a time
    and in the order they came, each only after the one before it has finished, but the next one's
    preparation (parsing it and checking its signatures, which changes nothing) does not wait.

    Flat out, notifications applied a batch 73 % of the time when each batch was prepared only
    after the one before had finished: 15 % went to checking signatures (libsodium, outside the
    GIL) with nothing applied. Prepared meanwhile, with the relay's signing off the event loop too,
    87 % (docs/perf/throughput-notes.md, thirteenth session). If this is cancelled, so is the batch
    being finished (as an event's handling was before), and nothing after it is started."""
    finishing: asyncio.Future[None] | None = None
    try:
        async for batch in batches:
            prepared = await prepare(batch)
            if finishing is not None:
                await finishing
            finishing = asyncio.ensure_future(finish(batch, prepared))
        if finishing is not None:
            await finishing
    finally:
        if finishing is not None and not finishing.done():
            finishing.cancel()
