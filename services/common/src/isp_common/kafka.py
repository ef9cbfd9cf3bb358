"""faust as the services run it (its consumer, streams, topics and app), and the Kafka credentials
every client of a service logs in with. The clients that need no faust (the topic admin, the
outbox relay's producer, the broker probe) are in :mod:`isp_common.kafka_clients`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import faust
from aiokafka import AIOKafkaConsumer
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types import TP, ChannelT, EventT, Message
from faust.types.auth import CredentialsT
from faust.types.tuples import ack_lock

from .kafka_clients import PLAINTEXT

if TYPE_CHECKING:
    from .settings import ServiceSettings

log = logging.getLogger(__name__)


def credentials(settings: ServiceSettings) -> CredentialsT | None:
    """The Kafka credentials the settings describe, as faust takes them (None for PLAINTEXT): TLS
    against ``kafka_ssl_cafile`` (with a client certificate if given) and SASL with this service's
    own principal. :func:`client_auth` gives aiokafka the same, so every client of a service logs
    in the same way."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context: ssl.SSLContext | None = None
    if protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        context = ssl.create_default_context(cafile=cafile)
        if settings.kafka_ssl_certfile:
            keyfile = str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None
            context.load_cert_chain(str(settings.kafka_ssl_certfile), keyfile)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password,
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )


def client_auth(creds: CredentialsT | None) -> Mapping[str, Any]:
    """aiokafka's keyword arguments for ``creds`` (security protocol, SASL, SSL context)."""
    return faust_aiokafka.credentials_to_aiokafka_auth(creds) if creds is not None else PLAINTEXT


# -- faust -------------------------------------------------------------------------------------
#
# faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` fixed. Apache Kafka answers a
# fetch as soon as data arrives, but the embedded broker (Tansu) holds every fetch for the whole
# wait: each hop of an event then cost up to 1.5 s (measured: 480 ms typical at aiokafka's 500 ms
# default, 15 ms at 50 ms). The wait is a setting here (``ISP_CONSUMER_FETCH_MAX_WAIT_MS``).
#
# How much a fetch should bring before the broker answers it is a setting too
# (``ISP_CONSUMER_FETCH_MIN_BYTES``, 32 KiB): with aiokafka's 1 byte, a consumer at a steady rate of
# events asked for them nearly one at a time, and each fetch cost the broker and the consumer CPU.
# A fetch is answered when it can bring that much or when the wait is up, whichever comes first.


class _FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms = 1500
    fetch_min_bytes = 1

    def _create_worker_consumer(self, transport: Any) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # read once, when the consumer starts its fetcher; aiokafka has no public setters
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        consumer._fetch_min_bytes = self.fetch_min_bytes
        return consumer


class _BatchDeliveryConsumer(faust_aiokafka.Consumer):
    """faust's consumer, delivering each fetched batch in one race against a rebalance.

    faust's ``Consumer._drain_messages`` races *every* message's delivery against the flow being
    suspended for a rebalance (``wait_first(callback(message), suspend_flow.wait())``): four tasks
    and an ``asyncio.wait`` per message, about 40 % of the 80-90 µs of CPU faust spent per consumed
    event (``make bench ARGS="--only consumers"``). Here the whole batch that one ``getmany``
    returned is delivered in one such race: if the flow is suspended or the consumer stops part way,
    the rest of the batch is dropped, as faust drops the message in hand, and re-read from the
    committed offset once partitions are assigned again. Everything else (read offsets, gaps in
    acknowledged topics, ``commit_every``, yielding to the loop every 100 messages) is faust's loop
    as it is.
    """

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - the fetcher's loop
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                await self.sleep(0)
                # fetched outside the race, as faust does: getmany waits while the flow is stopped
                # and seeks back to the committed offsets when it was (a broker restart starts
                # every offset again from 0); only delivering the batch is raced
                records = await self._fetch(timeout=1.0)
                if records and not self.should_stop:
                    await self.wait_first(self._deliver(records), self.suspend_flow.wait())
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _fetch(self, timeout: float) -> list[tuple[TP, Any]]:
        """faust's ``getmany`` as a list: the records one fetch returned, round-robin over the
        partitions, each turned into a message while the flow is on and the generation unchanged;
        if the flow was stopped, a seek back to the committed offsets instead. faust also reads each
        partition's end offset for the monitor for every record (a tenth of its CPU per event, with
        the stream's batches): here once per partition and fetch, the value it would have kept."""
        records, active_partitions = await self._wait_next_records(timeout)
        generation_id = self.app.consumer_generation_id
        if records is None or self.should_stop:
            return []
        if not self.flow_active:
            log.debug("fetched while the flow is stopped: seek back to the committed offsets")
            try:
                await self.perform_seek()
            except Exception as exc:
                log.warning("exception performing seek when flow not active %r", exc)
            return []
        to_message, buffered, app = self._to_message, self._buffered_partitions, self.app
        fetched: list[tuple[TP, Any]] = []
        ends: set[TP] = set()
        for tp, record in self.scheduler.iterate(records):
            if not self.flow_active or app.consumer_generation_id != generation_id:
                break
            if active_partitions is None or tp in active_partitions or tp in buffered:
                if tp not in ends:
                    ends.add(tp)
                    app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                fetched.append((tp, to_message(tp, record)))
        return fetched

    async def _deliver(self, records: list[tuple[Any, Any]]) -> None:
        callback = self.callback
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        since_yield = 0
        for tp, message in records:
            since_yield += 1
            if since_yield > 100:
                await asyncio.sleep(0)
                since_yield = 0
            offset = message.offset
            r_offset = read_offset[tp]
            if r_offset is None or offset >= r_offset:
                if offset - (r_offset or 0) > 1 and r_offset and acks_enabled_for(message.topic):
                    await self._add_gap(tp, r_offset + 1, offset)
                if commit_every is not None and self._n_acked >= commit_every:
                    self._n_acked = 0
                    await self.commit()
                await callback(message)
                read_offset[tp] = offset


class BatchingStream(faust.Stream):  # type: ignore[type-arg]
    """faust's stream with :meth:`take_batches`, which takes what its channel holds in one go."""

    async def take_batches(
        self, max_: int, within: float, *, caller_acknowledges: bool = False
    ) -> AsyncIterator[list[EventT[Any]]]:
        """Batches of at most ``max_`` events, each yielded ``within`` seconds after its first
        event arrived (or as soon as it is full), acknowledged once the caller has had it (asks for
        the next), or, with ``caller_acknowledges``, when the caller says so
        (:func:`acknowledge`): it may then take the next batch while it still handles this one.

        faust's ``take_events`` wakes every ``within`` seconds whether or not anything came, and
        both it and faust's stream iterator hand events over one at a time: a turn of the event loop,
        the stream's processors and sensors and an acknowledgement each, most of faust's CPU per
        consumed event. Here the agent sleeps until its channel holds an event, then takes every
        event the channel holds (the consumer puts a fetched batch on it at once), waiting up to
        ``within`` for more while the batch is not full; events wait in the channel's queue while a
        batch is handled (its bound holds the consumer back, as faust's). What faust's iterator does
        for each event is kept: an event fetched before a rebalance (an older generation, or the
        flow stopped) is skipped and acknowledged, a tracked message is noted unacknowledged for the
        consumer's ``wait_empty``, and an actor's cancellation (``StopAsyncIteration`` thrown into
        the channel) ends the iteration. The stream's sensors (faust's monitor; the services run no
        others) are not called per event.
        """
        channel = cast("ChannelT[Any]", self.channel)
        queue = channel.queue
        get, get_nowait, empty = queue.get, queue.get_nowait, queue.empty
        app = self.app
        consumer = app.consumer
        track = consumer.unacked.add
        acking_topics = app.topics.acking_topics
        flow_control = app.flow_control
        events: list[EventT[Any]] = []
        skipped: list[EventT[Any]] = []

        def take(item: Any) -> None:
            # item is an event the conductor put on the channel (a topic's channel holds nothing else)
            message = item.message
            if not flow_control.is_active() or message.generation_id != app.consumer_generation_id:
                skipped.append(item)  # fetched before a rebalance: faust skips and acknowledges it
                return
            if not message.tracked and message.topic in acking_topics:
                message.tracked = True
                track(message)
            events.append(item)

        self._finalized = True
        started_by_aiter = await self.maybe_start()
        try:
            while not self.should_stop:
                take(await get())
                deadline = self.loop.time() + within
                while True:
                    while len(events) < max_ and not empty():
                        take(get_nowait())
                    if skipped:
                        acknowledge(consumer, skipped)
                        skipped.clear()
                    remaining = deadline - self.loop.time()
                    if len(events) >= max_ or remaining <= 0:
                        break
                    try:
                        take(await asyncio.wait_for(get(), remaining))
                    except TimeoutError:
                        break
                if events:
                    self.events_total += len(events)
                    try:
                        yield events
                    finally:
                        if not caller_acknowledges:
                            acknowledge(consumer, events)
                        events = []
        except StopAsyncIteration:  # an actor cancelled: its channel ends the iteration, as faust's
            return
        finally:
            self._channel_stop_iteration(channel)
            if started_by_aiter:
                await self.stop()
                self.service_reset()

    def acknowledge(self, events: list[EventT[Any]]) -> None:
        """Acknowledge a batch taken with ``caller_acknowledges`` (:func:`acknowledge`)."""
        acknowledge(self.app.consumer, events)


def acknowledge(consumer: Any, events: list[EventT[Any]]) -> None:
    """Acknowledge ``events`` as ``Event.ack`` does: each message's reference count goes down, and
    once it reaches zero the message's final acknowledgement (the consumer's ``ack``) marks the
    offset safe to commit. Under faust's ``ack_lock`` taken once for the batch, where
    ``Message.ack`` takes it three times per event."""
    with ack_lock:
        for event in events:
            message = event.message
            if not message.acked:
                message.refcount = refcount = max(message.refcount - 1, 0)
                if not refcount:
                    message.on_final_ack(consumer)


class RawTopic(faust.Topic):
    """faust's topic, decoding a message to an event without the serializer registry when its key and
    value are raw bytes (as every topic the services consume: ``key_serializer="raw",
    value_serializer="raw"``, no model).

    faust's decoding looked the codec up by name for the key and the value, asked the model
    registry whether the bytes named a model, and read the event class from the app's settings, for
    every message: about a third of faust's CPU per consumed event once the stream handed over
    batches. For raw bytes all that gives back the message's key and value as they are; any other
    schema is faust's own decoding.
    """

    def _compile_decode(self) -> None:
        schema = self.schema
        raw = (schema.key_serializer, schema.value_serializer, schema.key_type, schema.value_type)
        if type(schema) is not faust.Schema or raw != ("raw", "raw", None, None):
            super()._compile_decode()
            return
        app, event = self.app, cast(Any, self.app.conf.Event)

        async def decode(message: Message, *, propagate: bool = False) -> EventT[Any]:
            made: EventT[Any] = event(app, message.key, message.value, message.headers, message)
            return made

        self.decode = decode  # type: ignore[method-assign]


class _UnthreadedProducerBuffer(ProducerBuffer):
    """faust's producer buffer (messages a table's changes wait in), sized without reading the
    ``producer_threaded`` setting: faust's conductor asks its size before delivering each consumed
    message, and the setting's lookup was a tenth of faust's CPU per event."""

    @property
    def size(self) -> int:
        return self.pending.qsize()


class _Producer(faust_aiokafka.Producer):
    """faust's producer with :class:`_UnthreadedProducerBuffer` (unless it runs in its own thread)."""

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        if not self.app.conf.producer_threaded:
            self.buffer = _UnthreadedProducerBuffer(loop=self.loop, beacon=self.beacon)
            self.buffer.app = self.app


class FaustApp(faust.App):
    """A faust app whose consumer fetches ``fetch_min_bytes`` or what came within ``fetch_max_wait_ms``
    and delivers each fetched batch at once (:class:`_BatchDeliveryConsumer`), whose streams hand events
    over in batches (:class:`BatchingStream`) and whose raw topics decode without the serializer
    registry (:class:`RawTopic`)."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, fetch_min_bytes: int = 1, **kwargs: Any) -> None:
        fetch = {"fetch_max_wait_ms": fetch_max_wait_ms, "fetch_min_bytes": fetch_min_bytes}
        thread = type("ConsumerThread", (_FetchWaitConsumerThread,), fetch)

        class Consumer(_BatchDeliveryConsumer):
            def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
                made: faust_aiokafka.AIOKafkaConsumerThread = thread(self, loop=self.loop, beacon=self.beacon)
                return made

        self._transport_class = type(
            "Transport", (faust_aiokafka.Transport,), {"Consumer": Consumer, "Producer": _Producer}
        )
        kwargs.setdefault("Stream", BatchingStream)
        kwargs.setdefault("Topic", RawTopic)
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return self._transport_class(self.conf.broker_consumer, self)
