"""Prometheus metrics: one registry per :class:`~isp_common.runtime.ServiceRuntime`, served at ``GET /metrics``.

Several runtimes share one process in tests (the in-process bus, a test's own runtimes), so
nothing goes in prometheus-client's default registry: each runtime has its own :class:`Metrics`,
and every sample carries a ``service`` label. Labels never carry personal data: only topic,
partition, type, outcome, basis, result and service.

What can be read at scrape time is read then (consumer lag, outbox depth and age, the relay's
counts, a service's own gauges: :meth:`Metrics.collect_with`); what happens once is counted when
it happens (:meth:`Metrics.count`), or, inside a unit of work, when that unit of work commits
(:func:`count_on_commit`), so a rolled-back transaction is never counted. Code that has a unit of
work but not the runtime finds the runtime's metrics by its engine (:func:`of`); a unit of work
with no runtime (a unit test, the CLI) counts into a registry no one scrapes.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from .db import UnitOfWork
from .tables import OutboxMessage, QuarantinedOutboxMessage
from .times import as_utc, utcnow

log = logging.getLogger(__name__)

COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "isp_events_consumed": (
        "Events consumed, by topic and outcome (handled, skipped, duplicate, deadlettered).",
        ("topic", "outcome"),
    ),
    "isp_decisions": (
        "Sharing decisions, by the kind of lawful basis (none when withheld) and outcome (shared, withheld, released).",
        ("basis", "outcome"),
    ),
    "isp_webhook_attempts": (
        "Webhook tries, by result (delivered; retry: failed, tried again later; failed: given up) and type "
        "(alert, heartbeat).",
        ("result", "type"),
    ),
    "isp_deadlines_missed": (
        "Deadlines a deadline timer found missed (an alert not delivered or acknowledged in time, a referral's "
        "due date), by type.",
        ("type",),
    ),
}
"""Every counter every service exports (``_total`` is added on the wire), with its labels besides ``service``."""
GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "isp_audit_verify_ok": ("1 if the last verification of the audit chain passed, 0 if it failed.", ()),
}
HISTOGRAMS: dict[str, tuple[str, tuple[str, ...], tuple[float, ...]]] = {
    "isp_consumer_batch_events": (
        "Events a consumer took in one batch, by topic (small batches at a steady rate pay a "
        "transaction and a read-ahead for a few events each: see ISP_CONSUMER_BATCH_WAIT).",
        ("topic",),
        (1, 2, 5, 10, 20, 50, 100, 200, 500),
    ),
    "isp_audit_verify_duration_seconds": (
        "Time to verify the audit chain, by result (ok, failed).",
        ("result",),
        (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
    ),
}


class _Scraped:
    """A collector whose families are built by a function at scrape time."""

    def __init__(self, fn: Callable[[], Iterable[Metric]]) -> None:
        self.fn = fn

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self.fn()
        except Exception:  # a scrape never fails for one source; the error names no data
            log.warning("metrics: %s failed at scrape time", getattr(self.fn, "__name__", "a collector"), exc_info=True)

    def describe(self) -> list[Metric]:
        return []  # not evaluated at registration: it may need a database or a running consumer


class Metrics:
    """One service's registry: the declared counters, gauges and histograms, and its scrape-time collectors."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self._counters = {
            name: Counter(name, doc, ("service", *labels), registry=self.registry)
            for name, (doc, labels) in COUNTERS.items()
        }
        self._gauges = {
            name: Gauge(name, doc, ("service", *labels), registry=self.registry)
            for name, (doc, labels) in GAUGES.items()
        }
        self._histograms = {
            name: Histogram(name, doc, ("service", *labels), buckets=buckets, registry=self.registry)
            for name, (doc, labels, buckets) in HISTOGRAMS.items()
        }
        self._before_scrape: list[Callable[[], None]] = []

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._counters[name].labels(service=self.service, **labels).inc(amount)

    def set(self, name: str, value: float, **labels: str) -> None:
        self._gauges[name].labels(service=self.service, **labels).set(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._histograms[name].labels(service=self.service, **labels).observe(value)

    def collect_with(self, fn: Callable[[], Iterable[Metric]]) -> None:
        """Register ``fn``, called at each scrape in a worker thread (it may query the database)."""
        collector: Collector = _Scraped(fn)
        self.registry.register(collector)

    def before_scrape(self, fn: Callable[[], None]) -> None:
        """Register ``fn``, called on the event loop before each scrape (to read loop-owned state)."""
        self._before_scrape.append(fn)

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
        """An empty gauge family with the ``service`` label first; add samples with :func:`sample`."""
        return GaugeMetricFamily(name, doc, labels=("service", *labels))

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
        return CounterMetricFamily(name, doc, labels=("service", *labels))

    def sample(self, family: GaugeMetricFamily | CounterMetricFamily, value: float, *labels: str) -> None:
        family.add_metric([self.service, *labels], value)

    async def scrape(self) -> bytes:
        for fn in self._before_scrape:
            try:
                fn()
            except Exception:
                log.warning("metrics: %s failed before the scrape", getattr(fn, "__name__", "a hook"), exc_info=True)
        return await asyncio.to_thread(generate_latest, self.registry)


# -- finding a runtime's metrics from a unit of work ----------------------------------------------

_by_engine: weakref.WeakKeyDictionary[Engine, Metrics] = weakref.WeakKeyDictionary()
_unscraped = Metrics("none")
"""Where code run without a runtime (unit tests, the CLI) counts: a registry no one scrapes."""
_PENDING = "isp_metrics_pending"


def attach(engine: Engine, metrics: Metrics) -> None:
    """Make ``metrics`` the one units of work on ``engine`` count into (the runtime does this)."""
    _by_engine[engine] = metrics


def of(target: Engine | UnitOfWork) -> Metrics:
    """The metrics of the runtime whose engine ``target`` is (or uses)."""
    engine = target.engine if isinstance(target, UnitOfWork) else target
    return _by_engine.get(engine, _unscraped)


@dataclass(frozen=True)
class _Count:
    metrics: Metrics
    name: str
    amount: float
    labels: dict[str, str]


def count_on_commit(uow: UnitOfWork, name: str, amount: float = 1.0, **labels: str) -> None:
    """Count ``name`` when ``uow`` commits; never, if it rolls back (a batch retried counts once)."""
    session = uow.session
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_commit", _counted)
        event.listen(session, "after_soft_rollback", _dropped)
    if not session.in_transaction():
        session.begin()  # so that a rollback before any statement still drops the count
    pending.append(_Count(of(uow), name, amount, labels))


def _counted(session: OrmSession) -> None:
    for item in session.info.pop(_PENDING, []):
        item.metrics.count(item.name, item.amount, **item.labels)
    session.info[_PENDING] = []


def _dropped(session: OrmSession, previous: SessionTransaction) -> None:
    if not previous.nested:  # a savepoint rolled back keeps what came before it (a rare over-count)
        session.info[_PENDING] = []


# -- what every runtime exports ------------------------------------------------------------------


def outbox_families(metrics: Metrics, engine: Engine) -> Iterator[Metric]:
    """Outbox depth (unsent rows), the age of the oldest unsent row and the rows in quarantine, read from the tables."""
    with Session(engine) as session:
        depth, oldest = session.exec(
            select(func.count(), func.min(OutboxMessage.created_at)).where(col(OutboxMessage.sent_at).is_(None))
        ).one()
    age = max(0.0, (utcnow() - as_utc(oldest)).total_seconds()) if oldest is not None else 0.0
    rows = metrics.gauge("isp_outbox_depth", "Outbox rows not yet published.")
    metrics.sample(rows, float(depth))
    oldest_age = metrics.gauge("isp_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0: none).")
    metrics.sample(oldest_age, age)
    yield rows
    yield oldest_age
    with Session(engine) as session:
        held = session.exec(select(func.count()).select_from(QuarantinedOutboxMessage)).one()
    quarantined = metrics.gauge(
        "isp_outbox_quarantined", "Outbox rows the relay could not publish, held aside until an operator releases them."
    )
    metrics.sample(quarantined, float(held))
    yield quarantined


def relay_families(metrics: Metrics, relay: Any) -> Iterator[Metric]:
    """The relay's counts since this process started it (``OutboxRelay.published``, ``.given_up`` and ``.pruned``)."""
    published = metrics.counter("isp_outbox_published", "Outbox rows the broker acknowledged (rate: PromQL's job).")
    given_up = metrics.counter(
        "isp_outbox_given_up", "Outbox rows this relay quarantined (see isp_outbox_quarantined)."
    )
    pruned = metrics.counter(
        "isp_outbox_pruned", "Published outbox rows this relay deleted past ISP_OUTBOX_SENT_RETENTION_HOURS."
    )
    metrics.sample(published, float(getattr(relay, "published", 0)))
    metrics.sample(given_up, float(getattr(relay, "given_up", 0)))
    metrics.sample(pruned, float(getattr(relay, "pruned", 0)))
    yield published
    yield given_up
    yield pruned


@dataclass
class ConsumerLag:
    """Consumer lag per topic and partition, read from the faust consumer on the event loop before
    each scrape: the partition's high-water mark minus the offset committed for it (the next
    offset to read; the log start when nothing was ever committed, taken as 0)."""

    metrics: Metrics
    consumer: Callable[[], Any]
    """The running faust consumer, or None while the service is not consuming."""
    snapshot: list[tuple[str, int, float]] | None = None

    def read(self) -> None:
        consumer = self.consumer()
        if consumer is None:
            self.snapshot = []
            return
        lags = []
        committed = getattr(consumer, "_committed_offset", {})  # faust's own record of what it committed
        for tp in sorted(consumer.assignment()):
            high = consumer.highwater(tp)
            if high is None:
                continue  # nothing fetched from this partition yet: its lag is not known
            done = committed.get(tp)
            lags.append((tp.topic, tp.partition, float(max(0, high - (done or 0)))))
        self.snapshot = lags

    def families(self) -> Iterator[Metric]:
        lag = self.metrics.gauge(
            "isp_consumer_lag", "Events not yet consumed (high-water mark - committed).", ("topic", "partition")
        )
        for topic, partition, value in self.snapshot or []:
            self.metrics.sample(lag, value, topic, str(partition))
        yield lag


def install(runtime: Any) -> Metrics:
    """A :class:`ServiceRuntime`'s metrics: its registry, found by its engine, with what every service exports."""
    # no *_created series: dashboards and rules never read them (prometheus-client leaves it unannotated)
    disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics = Metrics(runtime.name)
    attach(runtime.engine, metrics)

    def consumer() -> Any:
        return runtime.faust.consumer if runtime.started and runtime.topics else None

    lag = ConsumerLag(metrics, consumer)
    metrics.before_scrape(lag.read)
    metrics.collect_with(lag.families)

    def outbox() -> Iterator[Metric]:
        return outbox_families(metrics, runtime.engine)

    def relay() -> Iterator[Metric]:
        return relay_families(metrics, runtime.relay)

    metrics.collect_with(outbox)
    metrics.collect_with(relay)
    runtime.api.include_router(router)
    return metrics


router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics (text format; no personal data)", response_class=Response)
async def serve_metrics(request: Request) -> Response:
    metrics: Metrics = request.app.state.runtime.metrics
    return Response(await metrics.scrape(), media_type=CONTENT_TYPE_LATEST)
