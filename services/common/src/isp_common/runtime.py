"""The service runtime: FastAPI and faust on one event loop, with the outbox
relay, dead-lettering, readiness and tracing wired the same way in every service.

Each service's ``bootstrap.py`` builds one :class:`ServiceRuntime`, registers its
consumers (:meth:`subscribe`), timers (:meth:`every`) and routers, and hands
``runtime.api`` to uvicorn. Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from faust.contrib.asgi import faust_app_running
from isp_schemas.envelope import CloudEvent
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.engine import Engine

from . import directory, docs, kafka, logs, memory, metrics, pgroles, provenance, telemetry
from .auth import TokenVerifier, install_token_verifier
from .clock import Clock, SystemClock
from .consumer import EventProcessor, Handler, Message, Prefetch, PreparedBatch, in_turn
from .db import UnitOfWork, make_engine
from .deadletter import DeadLetters, Position
from .eventkeys import ensure_signer
from .kafka import FaustApp
from .kafka_clients import TopicAdmin, new_producer
from .leader import Leadership
from .limits import BodyLimit
from .outbox import OutboxRelay
from .problems import install_problem_handlers
from .provenance import Signer
from .settings import ServiceSettings
from .trust import trust_for

log = logging.getLogger(__name__)


class ServiceRuntime:
    """One service's process: its engine, clock, Kafka clients, consumers, timers and FastAPI app.

    Collaborators are parameters so tests pass their own: ``engine`` (default: from the
    settings' database URL; either way migrated to the head of ``isp_<name>``'s revisions),
    ``clock`` (default: the system clock), ``producer_factory`` (default: an aiokafka producer
    on the settings' broker). A service's own collaborators (rules, HTTP client, ...) go on
    :attr:`context`, set by its bootstrap. A service whose migrations made the partnership
    directory's table has it seeded from ``settings.directory_file`` right after migrating
    (:func:`isp_common.directory.seed_at_start`).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        title: str,
        description: str = "",
        engine: Engine | None = None,
        clock: Clock | None = None,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.clock: Clock = clock or SystemClock()
        self.context: Any = None
        telemetry.configure_tracing(settings)
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine or make_engine(settings.resolved_database_url)
        # as the owner when a migration URL is given, then the runtime role is granted its privileges
        pgroles.migrate(self.engine, self.name, settings.migration_database_url)
        directory.seed_at_start(self.engine, settings, self.clock.now())  # only where the table exists
        self.kafka_credentials = kafka.credentials(settings)  # TLS and SASL, the same for every client
        self.kafka_auth = kafka.client_auth(self.kafka_credentials)
        self._producer_factory = producer_factory or (
            lambda: new_producer(settings.kafka_bootstrap, f"isp-{self.name}-outbox", self.kafka_auth)
        )
        self.faust = FaustApp(
            f"isp-{self.name}",
            broker=f"kafka://{settings.kafka_bootstrap}",
            broker_credentials=self.kafka_credentials,
            store="memory://",
            datadir=str(settings.faust_data_dir),
            web_enabled=False,
            autodiscover=False,
            topic_partitions=settings.topic_partitions,
            topic_replication_factor=settings.topic_replication,
            broker_rebalance_timeout=settings.broker_rebalance_timeout,
            broker_session_timeout=settings.broker_session_timeout,
            broker_heartbeat_interval=1.0,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            stream_wait_empty=False,
            fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            fetch_min_bytes=settings.consumer_fetch_min_bytes,
        )
        # CONTRACT §10: what this service trusts (read again as keys change), and its own signer (made
        # at start: in production a missing or readable key file stops the start, in the lifespan)
        embedded = settings.environment == "embedded"
        self.trust = trust_for(self.engine, settings.resolved_event_keys_dir, allow_unsigned=embedded)
        self.signer: Signer | None = None
        self.admin = TopicAdmin(
            settings.kafka_bootstrap, settings.topic_partitions, settings.topic_replication, self.kafka_auth
        )
        # aiokafka clients need a running loop: built in the lifespan, not here.
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.deadletters = DeadLetters(None, f"isp-{self.name}")
        self.processors: dict[str, EventProcessor] = {}
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self.started = False
        self.api = FastAPI(title=title, description=description, version="1.0.0", lifespan=self._lifespan)
        self.api.state.runtime = self
        install_problem_handlers(self.api)
        if not settings.jwt_jwks_url and settings.environment == "production":
            log.warning(
                "no ISP_JWT_JWKS_URL in production: tokens are checked against the local key in %s",
                settings.resolved_key_dir,
            )
        install_token_verifier(self.api, TokenVerifier.from_settings(settings))
        self.api.include_router(probes)
        docs.install(self.api)  # /docs, /redoc and /schemas/ from local files
        self.metrics = metrics.install(self)  # GET /metrics: this runtime's own registry
        self.api.add_middleware(logs.AccessLog)  # inside tracing: its line carries the trace id
        self._install_tracing_middleware()
        self.api.add_middleware(BodyLimit)  # outermost: nothing reads past CONTRACT §11's 1 MiB
        self._trim_heap_every(settings.memory_trim_interval)

    @property
    def topics(self) -> list[str]:
        return list(self.processors)

    # -- composition -----------------------------------------------------------
    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, on_commit=self._wake_relay)

    def _wake_relay(self) -> None:
        """Called after a commit, from the loop or from an API worker thread."""
        relay, loop = self.relay, self._loop
        if relay is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            relay.wake()
        else:
            loop.call_soon_threadsafe(relay.wake)

    def check_provenance(self, value: bytes, headers: list[tuple[str, bytes]], event: CloudEvent) -> str:
        """CONTRACT §10 for one consumed event (ProvenanceError when its origin is not proven)."""
        return provenance.check(value, headers, event.source_org, event.type, event.data, self.trust)

    def subscribe(
        self, topic: str, handlers: Mapping[str, Handler], prefetch: Prefetch | None = None
    ) -> EventProcessor:
        """Consume ``topic`` with one faust agent; ``handlers`` maps event type to handler;
        ``prefetch`` reads ahead for each run of events (:data:`isp_common.consumer.Prefetch`)."""
        processor = EventProcessor(
            consumer_name=f"{self.name}:{topic}",
            handlers=handlers,
            uow_factory=self.uow,
            deadletters=self.deadletters,
            attempts=self.settings.handler_attempts,
            retry_delay=self.settings.handler_retry_delay,
            provenance=self.check_provenance,
            prefetch=prefetch,
        )
        channel = self.faust.topic(topic, key_serializer="raw", value_serializer="raw")

        batch_size, batch_wait = self.settings.consumer_batch_size, self.settings.consumer_batch_wait

        async def consume(stream: Any) -> None:
            # Up to batch_size events, or what arrived within batch_wait seconds, are processed
            # together (one transaction per run of events); faust acknowledges them afterwards. The
            # next batch is parsed and its signatures checked while this one is applied (in_turn).
            def records(events: list[Any]) -> tuple[list[Message], list[Position]]:
                messages = [(e.message.key, e.message.value, e.message.headers) for e in events]
                return messages, [(e.message.partition, e.message.offset) for e in events]

            async def prepare(events: list[Any]) -> PreparedBatch | None:
                messages, positions = records(events)
                try:
                    return await processor.prepare_batch(messages, topic, positions)
                except Exception:  # taken again from the start when the batch is finished
                    log.exception("could not prepare events from %s", topic)
                    return None

            async def finish(events: list[Any], prepared: PreparedBatch | None) -> None:
                # process_batch() dead-letters rather than raise; if even that fails (broker down),
                # hold this partition and retry (the inbox absorbs what was already committed):
                # faust would acknowledge events whose agent raised.
                while True:
                    try:
                        if prepared is not None:
                            outcomes = await processor.finish_batch(prepared, topic)
                        else:
                            messages, positions = records(events)
                            outcomes = await processor.process_batch(messages, topic, positions)
                        break
                    except Exception:
                        log.exception("could not process or dead-letter events from %s; retrying", topic)
                        prepared = None
                        await asyncio.sleep(1.0)
                stream.acknowledge(events)
                self.metrics.observe("isp_consumer_batch_events", len(events), topic=topic)
                for outcome, amount in Counter(outcomes).items():
                    self.metrics.count("isp_events_consumed", amount, topic=topic, outcome=outcome)

            await in_turn(stream.take_batches(batch_size, within=batch_wait, caller_acknowledges=True), prepare, finish)

        consume.__name__ = f"consume_{topic.replace('.', '_')}"
        self.faust.agent(channel, name=f"{self.name}.{topic}", concurrency=1)(consume)
        self.processors[topic] = processor
        return processor

    def every(self, seconds: float, job: Callable[[], Awaitable[None]], name: str | None = None) -> None:
        """A faust timer; exceptions are logged, never allowed to stop the timer."""

        async def tick() -> None:
            try:
                await job()
            except Exception:
                log.exception("timer %s failed", name or job.__name__)

        tick.__name__ = name or str(getattr(job, "__name__", "timer"))
        self.faust.timer(seconds, name=f"{self.name}.{tick.__name__}")(tick)

    def _trim_heap_every(self, seconds: float) -> None:
        """What a burst left free in the allocator's heaps goes back to the system once the service
        is quiet again, checked every ``seconds`` (:class:`isp_common.memory.QuietTrim`; nothing
        where the C library cannot, or at 0)."""
        trim = memory.heap_trimmer() if seconds > 0 else None
        if trim is None:
            return
        quiet = memory.QuietTrim(trim)

        async def trim_heap() -> None:
            quiet.check()

        self.every(seconds, trim_heap)

    def on_startup(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._startup.append(fn)

    # -- lifecycle --------------------------------------------------------------
    @asynccontextmanager
    async def _lifespan(self, _api: FastAPI) -> AsyncIterator[None]:
        from isp_schemas import topics as t

        await self.admin.start()
        await self.admin.ensure(set(t.STATIC_TOPICS) | set(self.topics))
        self.signer = ensure_signer(
            self.settings.resolved_event_key_file, create=self.settings.environment == "embedded"
        )
        self.producer = self._producer_factory()
        await self.producer.start()
        self.deadletters.producer = self.producer
        self.relay = OutboxRelay(
            self.engine,
            self.producer,
            self.admin,
            self.settings.outbox_poll_interval,
            self.settings.outbox_batch_size,
            leadership=Leadership(self.engine, f"isp-{self.name}:outbox-relay"),
            signer=self.signer,
            max_attempts=self.settings.outbox_max_attempts,
            sent_retention=timedelta(hours=self.settings.outbox_sent_retention_hours),
            prune_every=self.settings.outbox_prune_interval,
        )
        self._loop = asyncio.get_running_loop()
        self.relay.start()
        for fn in self._startup:
            await fn()
        async with faust_app_running(self.faust, stop_timeout=15):
            self.started = True
            try:
                yield
            finally:
                self.started = False
        await self.relay.stop()
        await self.producer.stop()
        await self.admin.stop()
        await asyncio.to_thread(telemetry.flush)

    # -- probes -----------------------------------------------------------------
    def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = True
        except Exception:
            checks["database"] = False
        checks["broker"] = bool(self.started and self.producer and self.producer.client.cluster.brokers())
        if self.topics:
            try:
                assigned = self.faust.consumer.assignment() if self.started else set()
                joined = bool(assigned) and not self.faust.rebalancing
            except Exception:
                joined = False
            checks["consumers"] = joined
        else:
            checks["consumers"] = True
        return checks

    def _install_tracing_middleware(self) -> None:
        tracer = telemetry.tracer(f"isp-{self.name}")

        @self.api.middleware("http")
        async def trace_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if request.url.path in ("/healthz", "/readyz", "/metrics"):
                return await call_next(request)
            token = telemetry.attach(telemetry.context_from_headers(dict(request.headers)))
            try:
                with tracer.start_as_current_span(request.method, kind=SpanKind.SERVER) as span:
                    response = await call_next(request)
                    span.update_name(f"{request.method} {logs.route_of(request.scope)}")  # never the raw path
                    tp = telemetry.current_traceparent()
                    if tp:
                        response.headers["traceparent"] = tp
                    return response
            finally:
                telemetry.detach(token)


async def runtime_of(request: Request) -> ServiceRuntime:
    """The runtime serving this request (set on ``app.state`` by :class:`ServiceRuntime`).

    Async because it does no I/O: a plain ``def`` would cost every request a thread-pool hop."""
    runtime = request.app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(runtime_of)]

probes = APIRouter(tags=["operations"])


@probes.get("/healthz", summary="The process is up")
async def healthz(runtime: RuntimeDep) -> dict[str, str]:
    return {"status": "ok", "service": runtime.name}


@probes.get(
    "/readyz",
    summary="Database and Kafka reachable, consumers joined",
    responses={503: {"description": "Not ready yet: `checks` says which part is not"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks = runtime.readiness()
    ok = all(checks.values())
    return JSONResponse({"ready": ok, "checks": checks, "service": runtime.name}, status_code=200 if ok else 503)
