"""End-to-end throughput of the DNA alert (issue 12), through the public contract only.

The embedded broker and the four services run as real processes; this harness talks to them
over Kafka topics and HTTP APIs only. For each person it publishes a consent, a referral to
treatment and an assessment booking, each stage fully consumed (seen through a read-back API)
before the next; then one ``AppointmentMissed`` per person at the offered rate. Latency runs
from publishing the miss to reading the ``did_not_attend`` alert on the CSC's alerts topic.
Every alert must also be in the audit trail (``GET /v1/disclosures``).

Also measured: the raw aiokafka round trip of 1 KiB messages on the same broker, the first
alert right after start, an idle single DNA, the suite's start time and each service's
resident memory after the flat-out run. How fast this machine is at the moment is measured too
(an Ed25519 signature made and checked, an event parsed, on one core, while the suite is idle):
the same code gives different figures on different days, and these say by how much. Each load's
timeline is read too: when each stage of its DNAs was published (the miss, the missed assessment,
the alert: the broker's timestamps) and the cores each process used every 0.1 s. Figures are
printed, drawn and written as JSON (``docs/perf/throughput-<database>.png`` / ``.json``); nothing
is asserted.

    .venv/bin/python -m benchmarks.throughput [--quick] [--database postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import signal
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from isp_common.auth import issue_token
from isp_common.launcher import SERVICES, Suite, free_service_ports
from isp_schemas import topics

from . import signing
from .events import (
    CONTENT_TYPE,
    CSC,
    PROVIDER,
    Message,
    Person,
    booking_event,
    consent_event,
    missed_event,
    referral_event,
)

IG_ORG = "WSX-IG"
DNA_ALERT = "uk.isp.alert.did_not_attend.v1"
RECEIVED_ALERT = "uk.isp.alert.referral_received.v1"
POLL_INTERVAL = 0.25
QUIET_S = 3.0
IDLE_CPU_S = 10.0
"""How long the suite's CPU is measured with no load at all (what it costs to be there)."""
TIMELINE_BIN_S = 0.1
"""How often each process's CPU is sampled while a load runs (its timeline in the JSON)."""
STAGES: tuple[tuple[str, str, str], ...] = (
    ("miss", topics.TREATMENT, "uk.isp.treatment.appointment.missed.v1"),
    ("assessment_missed", topics.REFERRALS, "uk.isp.referral.assessment_missed.v1"),
    ("alert", topics.alerts(CSC), DNA_ALERT),
)
"""A DNA's way through the suite, each stage a message type on a topic: the harness publishes the
miss, referrals the missed assessment, notifications the alert (its disclosure record goes out in
the same relay batch; the audit topic also carries records of reads, so it is not a stage here)."""
STAGE_POINTS = (("first", 0.0), ("10 %", 0.1), ("50 %", 0.5), ("90 %", 0.9), ("last", 1.0))
DEFAULT_LOADS = "100:1000,200:1000,500:2000,max:2000"
QUICK_LOADS = "100:200,200:200,500:200,max:200"

T = TypeVar("T")


# -- figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    people: int
    rate: float | None  # misses offered per second; None: flat out

    @property
    def name(self) -> str:
        offered = "flat out" if self.rate is None else f"offered {self.rate:g}/s"
        return f"{offered} ({self.people:,} people)"


@dataclass
class LoadResult:
    name: str
    rate: float | None
    people: int
    prepared: int
    delivered: int
    audited: int
    alerts_per_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    publish_s: float
    duplicates: int
    cpu_cores: dict[str, float] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    cpu_ms_per_alert: dict[str, float] = field(default_factory=dict)
    """Each service's (and the broker's) CPU while the load ran, per alert delivered."""
    batch_events: dict[str, float] = field(default_factory=dict)
    """Each service's mean events per consumed batch while the load ran (isp_consumer_batch_events)."""
    first_s: float = math.nan
    """Seconds from publishing the load's first miss to its first alert: how long the pipeline takes
    to fill (flat out, the alerts/s figure includes it)."""
    machine_us_before: dict[str, float] = field(default_factory=dict)
    machine_us_after: dict[str, float] = field(default_factory=dict)
    """This machine's speed (:func:`machine_speed`) just before the load's first miss (its people
    prepared, the broker quiet) and once its alerts were audited: a load taken while the machine
    slowed shows it here (one run's CPU per alert moved by a third within minutes)."""
    stages_s: dict[str, dict[str, float]] = field(default_factory=dict)
    """Each stage of the load's DNAs (:data:`STAGES`): when its first message, its 10th, 50th and 90th
    percentiles and its last were published (the broker's timestamps), in seconds from the first miss.
    Where a stage waits shows as a gap after the one before it."""
    cores_timeline: dict[str, list[float]] = field(default_factory=dict)
    """Cores each process used in each :data:`TIMELINE_BIN_S` from the first miss until the last alert
    (``t_s``: each bin's start): which one sets the pace, and when nothing works at all."""


@dataclass
class RawResult:
    messages: int
    received: int
    per_s: float
    p50_s: float
    p99_s: float


@dataclass
class Report:
    database: str
    quick: bool
    cpus: int
    started_at: str
    var_dir: str
    suite_start_s: float
    first_alert_s: float | None = None
    idle_s: list[float] = field(default_factory=list)
    raw: RawResult | None = None
    loads: list[LoadResult] = field(default_factory=list)
    memory_mb: dict[str, float] = field(default_factory=dict)
    memory_quiet_mb: dict[str, float] = field(default_factory=dict)
    """Again after QUIET_S seconds with no load: a service trims what a burst left (isp_common.memory)."""
    memory_peak_mb: dict[str, float] = field(default_factory=dict)
    """The most each service held since it started (VmHWM), read with ``memory_mb``: the trim lowers
    what a service holds after a burst, not its peak while working."""
    memory_file_mb: dict[str, float] = field(default_factory=dict)
    """Of ``memory_mb``, the pages of files each service has mapped (RssFile: its interpreter, shared
    libraries and any file it maps, a database read through ``mmap`` among them): the kernel's page
    cache, shared and reclaimable, where the rest (RssAnon, RssShmem) is the process's own."""
    log_problems: dict[str, list[str]] = field(default_factory=dict)
    idle_cores: dict[str, float] = field(default_factory=dict)
    """Cores each service and the broker used over IDLE_CPU_S seconds with no load: polls, timers,
    heartbeats (part of every load's CPU per alert too)."""
    machine_us: dict[str, float] = field(default_factory=dict)
    """This machine's speed when measured: microseconds of CPU for one signature made, one checked
    and one event parsed (:func:`benchmarks.signing.costs`)."""
    python: str = field(default_factory=lambda: f"{platform.python_version()} ({sys.base_prefix})")
    """The CPython the harness and every service ran on (the services start on ``sys.executable``):
    how it was built moves every figure (README, "Which Python")."""
    priorities: dict[str, int] = field(default_factory=dict)
    """The nice value each service was started at (``Suite.priorities``, from ``ISP_SUITE_PRIORITIES``;
    none named: 0)."""

    @property
    def flat_out(self) -> LoadResult | None:
        return next((r for r in reversed(self.loads) if r.rate is None), None)

    @property
    def ratio(self) -> float | None:
        flat = self.flat_out
        if flat is None or self.raw is None or not self.raw.per_s:
            return None
        return flat.alerts_per_s / self.raw.per_s

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-able values (NaN, where nothing was measured, as None)."""
        idle = {"idle_p50_s": percentile(self.idle_s, 50), "idle_p95_s": percentile(self.idle_s, 95)}
        figures: dict[str, Any] = _no_nan({**asdict(self), **idle, "ratio_to_raw_broker": self.ratio})
        return figures


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# -- watching an alerts topic ------------------------------------------------------------------


class AlertWatcher:
    """Reads one organisation's alerts topic from its beginning for the whole run and keeps,
    per key (``data[key_field]``) of one alert type, when it arrived and its alert id.

    The service creates the topic on first use; until then the watcher looks for it every
    50 ms (reading a topic that is not there could auto-create it), then reads all of it.
    """

    def __init__(self, bootstrap: str, org: str, alert_type: str, key_field: str) -> None:
        self.topic, self.alert_type, self.key_field = topics.alerts(org), alert_type, key_field
        self.arrived: dict[str, float] = {}
        self.alert_ids: dict[str, str] = {}
        self.duplicates = 0
        self._changed = asyncio.Event()
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
        await self._admin.close()

    async def _assign(self) -> None:
        while self.topic not in await self._admin.list_topics():
            await asyncio.sleep(0.05)
        [described] = await self._admin.describe_topics([self.topic])
        self._consumer.assign([TopicPartition(self.topic, p["partition"]) for p in described["partitions"]])
        await self._consumer.seek_to_beginning()

    async def _run(self) -> None:
        await self._assign()
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    self._keep(record.value, now)

    def _keep(self, value: bytes | None, now: float) -> None:
        body = json.loads(value or b"{}")
        if body.get("type") != self.alert_type:
            return
        data = body.get("data", {})
        key = str(data.get(self.key_field))
        if key in self.arrived:
            self.duplicates += 1
            return
        self.arrived[key] = now
        self.alert_ids[key] = str(data.get("alert_id"))
        self._changed.set()

    async def wait(self, keys: Iterable[str], *, stall: float, limit: float) -> set[str]:
        """Wait until every key has arrived, or none arrived for ``stall`` seconds, or ``limit``
        seconds passed; return the keys still missing."""
        missing = {k for k in keys if k not in self.arrived}
        deadline, last_progress = time.monotonic() + limit, time.monotonic()
        while missing and time.monotonic() < min(deadline, last_progress + stall):
            if self._task and self._task.done():
                self._task.result()  # the reader died: say why rather than wait in vain
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=1.0)
            still = {k for k in missing if k not in self.arrived}
            if len(still) < len(missing):
                last_progress = time.monotonic()
            missing = still
        return missing


class BrokerQuiet:
    """Waits until the broker is quiet: (almost) nothing appended to any topic for a while.

    A stage's read-back shows that its first consumer is done, not that every service is (the
    notifications, audit and outbox work behind it); quiet topics show the whole suite idle.
    """

    def __init__(self, bootstrap: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def appended(self) -> int:
        """Messages ever appended to every topic's partitions."""
        described = await self._admin.describe_topics(await self._admin.list_topics())
        partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
        return sum((await self._consumer.end_offsets(partitions)).values())

    async def wait(self, quiet_for: float = 2.0, limit: float = 120.0, tolerance: int = 5) -> bool:
        """True once at most ``tolerance`` messages were appended in ``quiet_for`` seconds."""
        deadline = time.monotonic() + limit
        since, count = time.monotonic(), await self.appended()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            now_count = await self.appended()
            if now_count - count > tolerance:
                since, count = time.monotonic(), now_count
            elif time.monotonic() - since >= quiet_for:
                return True
        return False


# -- the harness -------------------------------------------------------------------------------


@dataclass
class Bench:
    """The clients a run talks to the suite with."""

    producer: AIOKafkaProducer
    referrals: httpx.AsyncClient
    notifications: httpx.AsyncClient
    audit: httpx.AsyncClient
    dna: AlertWatcher
    received: AlertWatcher
    quiet: BrokerQuiet
    roots: list[int]
    services: dict[str, int]
    """Each service's process (and the broker's) by name, for CPU per service."""
    urls: dict[str, str]
    bootstrap: str
    in_flight: int
    stall: float
    max_wait: float

    async def publish(self, topic: str, messages: Sequence[Message]) -> None:
        sent = [await self.producer.send(topic, value=v, key=k, headers=CONTENT_TYPE) for k, v in messages]
        await self.producer.flush()
        await asyncio.gather(*sent)

    async def publish_paced(self, messages: Sequence[tuple[str, Message]], rate: float | None) -> dict[str, float]:
        """Publish the misses at ``rate`` a second (flat out if None); return when each was sent."""
        published: dict[str, float] = {}
        start = time.perf_counter()
        for i, (key, (k, v)) in enumerate(messages):
            if rate is not None and (ahead := start + i / rate - time.perf_counter()) > 0:
                await asyncio.sleep(ahead)
            published[key] = time.perf_counter()
            await self.producer.send(topics.TREATMENT, value=v, key=k, headers=CONTENT_TYPE)
        await self.producer.flush()
        return published

    async def poll_all(self, items: Sequence[T], visible: Callable[[T], Awaitable[bool]], timeout: float) -> list[T]:
        """The items ``visible`` confirms within ``timeout``, ``in_flight`` polled at a time."""
        gate = asyncio.Semaphore(self.in_flight)
        deadline = time.monotonic() + timeout

        async def one(item: T) -> bool:
            async with gate:
                while time.monotonic() < deadline:
                    with contextlib.suppress(httpx.HTTPError):
                        if await visible(item):
                            return True
                    await asyncio.sleep(POLL_INTERVAL)
                return False

        found = await asyncio.gather(*(one(item) for item in items))
        return [item for item, ok in zip(items, found, strict=True) if ok]

    async def consent_held(self, p: Person) -> bool:
        return (await self.notifications.get(f"/v1/consents/{p.consent_id}")).status_code == 200

    async def referral_held(self, p: Person) -> bool:
        return (await self.referrals.get(f"/v1/referrals/{p.referral_id}")).status_code == 200

    async def booking_held(self, p: Person) -> bool:
        """The referral's view lists the booked appointment once the booking is consumed."""
        response = await self.referrals.get(f"/v1/referrals/{p.referral_id}")
        if response.status_code != 200:
            return False
        return any(a["appointment_id"] == p.appointment_id for a in response.json()["appointments"])

    async def audited(self, org: str, alert_type: str, since: str) -> set[str]:
        """Alert ids of the shares of ``alert_type`` involving ``org`` recorded since ``since``."""
        found: set[str] = set()
        params: dict[str, Any] = {"org": org, "decision": "shared", "since": since, "limit": 500}
        while True:
            response = await self.audit.get("/v1/disclosures", params=params)
            response.raise_for_status()
            page = response.json()
            found.update(i["alert_id"] for i in page["items"] if i["alert_type"] == alert_type)
            if not page.get("next_cursor"):
                return found
            params["cursor"] = page["next_cursor"]

    async def wait_audited(self, org: str, alert_type: str, alert_ids: set[str], since: str) -> int:
        """How many of ``alert_ids`` the audit trail holds, waiting while the count grows."""
        held, last_progress = 0, time.monotonic()
        while time.monotonic() < last_progress + self.stall:
            with contextlib.suppress(httpx.HTTPError):
                now_held = len(alert_ids & await self.audited(org, alert_type, since))
                if now_held > held:
                    held, last_progress = now_held, time.monotonic()
            if held >= len(alert_ids):
                break
            await asyncio.sleep(1.0)
        return held


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stage_timeout(n: int) -> float:
    return 60.0 + n / 10


async def stage(
    bench: Bench,
    label: str,
    people: list[Person],
    publish: Callable[[Person], Message],
    topic: str,
    visible: Callable[[Person], Awaitable[bool]],
) -> list[Person]:
    """Publish one event per person and wait until each is visible; report those lost."""
    await bench.publish(topic, [publish(p) for p in people])
    held = await bench.poll_all(people, visible, stage_timeout(len(people)))
    if len(held) < len(people):
        print(f"    lost in {label}: {len(people) - len(held)} of {len(people)} never became visible", flush=True)
    return held


async def prepare(bench: Bench, n: int) -> list[Person]:
    """``n`` fresh people with consent, a referral and an assessment booking, all consumed."""
    started, since = time.monotonic(), utc_text(datetime.now(UTC) - timedelta(minutes=1))
    people = [Person.fresh() for _ in range(n)]
    people = await stage(bench, "consents", people, consent_event, topics.CONSENT, bench.consent_held)
    people = await stage(bench, "referrals", people, referral_event, topics.REFERRALS, bench.referral_held)
    await settle_referrals(bench, people, since)
    people = await stage(bench, "bookings", people, booking_event, topics.TREATMENT, bench.booking_held)
    if not await bench.quiet.wait():
        print("    the broker never went quiet after preparing (carrying on)", flush=True)
    print(f"    prepared {len(people):,} of {n:,} people in {time.monotonic() - started:.1f}s", flush=True)
    return people


async def settle_referrals(bench: Bench, people: list[Person], since: str) -> None:
    """Let notifications and audit finish with the referrals (their referral_received alerts
    to the provider, and those alerts' audit records), so no backlog runs into a measurement."""
    ids = [p.referral_id for p in people]
    missing = await bench.received.wait(ids, stall=bench.stall, limit=stage_timeout(len(ids)))
    if missing:
        print(f"    {len(missing)} referral_received alerts never arrived (carrying on)", flush=True)
    alert_ids = {bench.received.alert_ids[i] for i in ids if i in bench.received.alert_ids}
    held = await bench.wait_audited(PROVIDER, RECEIVED_ALERT, alert_ids, since)
    if held < len(alert_ids):
        print(f"    {len(alert_ids) - held} referral_received alerts not audited (carrying on)", flush=True)


async def first_alert(bench: Bench) -> float | None:
    """Seconds from publishing the first miss after start to its alert (None: never came)."""
    latencies = await single_misses(bench, await prepare(bench, 1))
    return latencies[0] if latencies else None


async def single_misses(bench: Bench, people: Sequence[Person]) -> list[float]:
    """One miss at a time, each waited for (at most 30 s), on an otherwise idle suite.

    The pause between misses is random, so they do not fall in step with a service's polling.
    """
    latencies: list[float] = []
    for p in people:
        published = await bench.publish_paced([(p.appointment_id, missed_event(p))], None)
        missing = await bench.dna.wait(published, stall=30.0, limit=30.0)
        if missing:
            print(f"    lost: no alert for {p.appointment_id} (referral {p.referral_id}) in 30 s", flush=True)
            continue
        latencies.append(bench.dna.arrived[p.appointment_id] - published[p.appointment_id])
        await asyncio.sleep(random.uniform(0.3, 1.3))
    return latencies


async def run_load(bench: Bench, load: Load) -> LoadResult:
    print(f"  {load.name}", flush=True)
    people = await prepare(bench, load.people)
    speed_before = machine_speed(LOAD_SPEED_EVENTS)
    since = utc_text(datetime.now(UTC) - timedelta(minutes=1))
    duplicates_before = bench.dna.duplicates
    misses = [(p.appointment_id, missed_event(p)) for p in people]
    batches_before = await batch_totals(bench.urls)
    ticks_before = family_ticks(bench.services)
    samples: list[tuple[float, dict[str, int]]] = []
    sampler = asyncio.create_task(sample_cores(bench.services, TIMELINE_BIN_S, samples))
    cpu, started, wall = CpuSample.take(bench.roots), time.perf_counter(), time.time()
    published = await bench.publish_paced(misses, load.rate)
    publish_s = time.perf_counter() - started
    missing = await bench.dna.wait(published, stall=bench.stall, limit=bench.max_wait)
    cpu_cores = CpuSample.take(bench.roots).cores_since(cpu)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    ticks = {name: spent - ticks_before[name] for name, spent in family_ticks(bench.services).items()}
    batches = await batch_totals(bench.urls)
    delivered = [a for a in published if a not in missing]
    latencies = [bench.dna.arrived[a] - published[a] for a in delivered]
    span = max((bench.dna.arrived[a] for a in delivered), default=started) - started
    alert_ids = {bench.dna.alert_ids[a] for a in delivered}
    audited = await bench.wait_audited(CSC, DNA_ALERT, alert_ids, since)
    speed_after = machine_speed(LOAD_SPEED_EVENTS)
    stages = await stage_times(bench.bootstrap, since=wall - 1.0)
    if missing:
        await report_lost(bench, [p for p in people if p.appointment_id in missing])
    return LoadResult(
        name=load.name,
        rate=load.rate,
        people=load.people,
        prepared=len(people),
        delivered=len(delivered),
        audited=audited,
        alerts_per_s=len(delivered) / span if span > 0 else math.nan,
        p50_s=percentile(latencies, 50),
        p95_s=percentile(latencies, 95),
        p99_s=percentile(latencies, 99),
        publish_s=publish_s,
        first_s=min((bench.dna.arrived[a] for a in delivered), default=math.nan) - started,
        machine_us_before=speed_before,
        machine_us_after=speed_after,
        duplicates=bench.dna.duplicates - duplicates_before,
        cpu_cores=cpu_cores,
        lost=sorted(missing),
        cpu_ms_per_alert={
            name: 1000 * spent / os.sysconf("SC_CLK_TCK") / max(len(delivered), 1) for name, spent in ticks.items()
        },
        batch_events={
            name: (events - batches_before[name][0]) / (count - batches_before[name][1])
            for name, (events, count) in batches.items()
            if name in batches_before and count > batches_before[name][1]
        },
        stages_s={name: stage_points(times, wall) for name, times in stages.items() if times},
        cores_timeline=cores_per_bin(samples, wall, os.sysconf("SC_CLK_TCK")),
    )


async def sample_cores(services: dict[str, int], every: float, into: list[tuple[float, dict[str, int]]]) -> None:
    """Until cancelled, every ``every`` seconds: the time and each process's CPU so far (clock ticks)."""
    while True:
        into.append((time.time(), family_ticks(services)))
        await asyncio.sleep(every)


def cores_per_bin(
    samples: Sequence[tuple[float, dict[str, int]]], t0: float, ticks_per_s: int
) -> dict[str, list[float]]:
    """From cumulative samples (:func:`sample_cores`): the cores each process used between each
    sample and the next, and when each such bin started (``t_s``, seconds from ``t0``)."""
    timeline: dict[str, list[float]] = {"t_s": []}
    for (at, before), (then, after) in zip(samples, samples[1:], strict=False):
        timeline["t_s"].append(round(at - t0, 3))
        for name, ticks in after.items():
            used = (ticks - before.get(name, ticks)) / ticks_per_s / max(then - at, 1e-9)
            timeline.setdefault(name, []).append(round(used, 3))
    return timeline


def stage_points(times: Sequence[float], t0: float) -> dict[str, float]:
    """:data:`STAGE_POINTS` of ``times`` (seconds since the epoch), in seconds from ``t0``."""
    ordered = sorted(times)
    last = len(ordered) - 1
    return {label: round(ordered[round(q * last)] - t0, 3) for label, q in STAGE_POINTS}


async def stage_times(
    bootstrap: str, since: float, stages: Sequence[tuple[str, str, str]] = STAGES
) -> dict[str, list[float]]:
    """For each stage, when each of its messages stamped at ``since`` (seconds since the epoch) or
    later was published: the broker's timestamp (the producer's CreateTime), read from every
    partition of its topic; a message of another type (:func:`_event_type`) is left out."""
    from isp_common.testing.e2e import KafkaProbe

    probe = KafkaProbe(bootstrap)
    found: dict[str, list[float]] = {}
    for name, topic, event_type in stages:

        def of_stage(record: Any, wanted: bytes = event_type.encode()) -> bool:
            return record.timestamp / 1000 >= since and _event_type(record.headers, record.value) == wanted

        found[name] = [record.timestamp / 1000 for record in await probe.read_all(topic, of_stage)]
    return found


def _event_type(headers: Sequence[tuple[str, bytes]], value: bytes | None) -> bytes:
    """A message's event type: its ``ce_type`` header (the services' relays set it), else the
    ``type`` of the event itself (this harness's own misses have no such header)."""
    for name, said in headers:
        if name == "ce_type":
            return said
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(value or b"{}").get("type", "")).encode()
    return b""


async def batch_totals(urls: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Per service: events consumed in batches, and batches, so far (from its /metrics)."""
    totals: dict[str, tuple[float, float]] = {}
    async with httpx.AsyncClient(timeout=10.0) as http:
        for name, url in urls.items():
            with contextlib.suppress(httpx.HTTPError):
                text = (await http.get(f"{url}/metrics")).text
                events, batches = (
                    sum(float(m) for m in re.findall(rf"^isp_consumer_batch_events_{kind}{{.*}} (\S+)$", text, re.M))
                    for kind in ("sum", "count")
                )
                totals[name] = (events, batches)
    return totals


def service_pids(suite: Suite) -> dict[str, int]:
    pids = {name: proc.pid for name, proc in suite.processes.items()}
    if suite.broker and suite.broker.process:
        pids["broker"] = suite.broker.process.pid
    return pids


async def report_lost(bench: Bench, lost: list[Person], show: int = 5) -> None:
    """Say how far each of the first few lost misses got (did referrals record the miss?)."""
    print(f"    lost {len(lost)} alerts; the first {min(show, len(lost))}:", flush=True)
    for p in lost[:show]:
        status = "unknown"
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            view = (await bench.referrals.get(f"/v1/referrals/{p.referral_id}")).json()
            status = next(a["status"] for a in view["appointments"] if a["appointment_id"] == p.appointment_id)
        print(f"      {p.appointment_id} (referral {p.referral_id}): appointment {status} at referrals", flush=True)


# -- the raw broker ----------------------------------------------------------------------------


async def raw_round_trip(bootstrap: str, n: int, size: int = 1024, timeout: float = 120.0) -> RawResult:
    """aiokafka producer to consumer on a fresh 6-partition topic: ``n`` messages of ``size``
    bytes, each carrying its send time; rate over first send to last receipt."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, topics.DEFAULT_PARTITIONS, 1)])
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        consumer.assign([TopicPartition(topic, p) for p in range(topics.DEFAULT_PARTITIONS)])
        await consumer.start()
        try:
            await consumer.seek_to_beginning()
            return await _round_trip(bootstrap, consumer, topic, n, size, timeout)
        finally:
            await consumer.stop()
    finally:
        with contextlib.suppress(Exception):
            await admin.delete_topics([topic])
        await admin.close()


async def _round_trip(
    bootstrap: str, consumer: AIOKafkaConsumer, topic: str, n: int, size: int, timeout: float
) -> RawResult:
    latencies: list[float] = []
    last = [0.0]

    async def receive() -> None:
        while len(latencies) < n:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                latencies.extend(now - struct.unpack_from("d", r.value or b"")[0] for r in records)
                last[0] = now

    receiver = asyncio.create_task(receive())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    padding = b"x" * (size - 8)
    started = time.perf_counter()
    try:
        for _ in range(n):
            await producer.send(topic, struct.pack("d", time.perf_counter()) + padding)
        await producer.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(receiver), timeout)
    finally:
        receiver.cancel()
        await producer.stop()
    span = last[0] - started
    return RawResult(
        n,
        len(latencies),
        len(latencies) / span if span > 0 else math.nan,
        percentile(latencies, 50),
        percentile(latencies, 99),
    )


# -- the run -----------------------------------------------------------------------------------


def token(suite: Suite, org: str, *roles: str) -> dict[str, str]:
    jwt = issue_token(suite.var_dir / "keys", f"bench@{org.lower()}", org, list(roles))
    return {"Authorization": f"Bearer {jwt}"}


def client(suite: Suite, service: str, headers: dict[str, str], in_flight: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    return httpx.AsyncClient(base_url=suite.url(service), headers=headers, limits=limits, timeout=30.0)


async def measure(suite: Suite, args: argparse.Namespace, report: Report, db_roots: list[int]) -> None:
    """Every measurement, in order: first alert, raw broker, idle DNA, the loads."""
    assert suite.bootstrap is not None
    async with contextlib.AsyncExitStack() as stack:
        bench = await open_bench(stack, suite, args, db_roots)
        print("first alert after start", flush=True)
        report.first_alert_s = await first_alert(bench)
        print("this machine's speed (one core, the suite idle)", flush=True)
        report.machine_us = machine_speed()
        print(f"the suite with no load ({IDLE_CPU_S:g} s)", flush=True)
        report.idle_cores = await idle_cores(bench.services, IDLE_CPU_S)
        print(f"raw broker round trip ({args.raw_messages:,} messages of 1 KiB)", flush=True)
        report.raw = await raw_round_trip(suite.bootstrap, args.raw_messages)
        print(f"idle single DNA ({args.idle} people, one at a time)", flush=True)
        report.idle_s = await single_misses(bench, await prepare(bench, args.idle))
        print("loads", flush=True)
        for load in args.loads:
            report.loads.append(await run_load(bench, load))
            if load.rate is None:
                report.memory_mb = resident_memory(suite)
                report.memory_peak_mb = resident_memory(suite, "VmHWM")
                report.memory_file_mb = resident_memory(suite, "RssFile")
                await asyncio.sleep(QUIET_S)
                report.memory_quiet_mb = resident_memory(suite)


async def idle_cores(services: dict[str, int], seconds: float) -> dict[str, float]:
    """Cores each of ``services`` (name: pid, with its children) used over ``seconds`` of no load."""
    before = family_ticks(services)
    await asyncio.sleep(seconds)
    per_s = os.sysconf("SC_CLK_TCK") * seconds
    return {name: (spent - before[name]) / per_s for name, spent in family_ticks(services).items()}


LOAD_SPEED_EVENTS = 500
"""Events signed, checked and parsed to take the machine's speed around each load (about 0.1 s)."""


def machine_speed(events: int = 2_000) -> dict[str, float]:
    per_s = signing.costs(events)
    return {
        "sign": 1e6 / per_s["sign_per_s"],
        "check": 1e6 / per_s["verify_per_s"],
        "parse": 1e6 / per_s["parse_per_s"],
    }


def cpu_ceiling(cpus: int, ms_per_alert: dict[str, float]) -> tuple[float, float] | None:
    """The suite's CPU per alert (every service and the broker) and the most alerts a second
    ``cpus`` fully used cores would then allow: a rate the CPU alone rules out reaching."""
    total = sum(ms_per_alert.values())
    if not total or not cpus:
        return None
    return total, cpus * 1000 / total


async def open_bench(
    stack: contextlib.AsyncExitStack, suite: Suite, args: argparse.Namespace, db_roots: list[int]
) -> Bench:
    assert suite.bootstrap is not None
    dna = AlertWatcher(suite.bootstrap, CSC, DNA_ALERT, "appointment_id")
    received = AlertWatcher(suite.bootstrap, PROVIDER, RECEIVED_ALERT, "referral_id")
    quiet = BrokerQuiet(suite.bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=suite.bootstrap, acks="all", enable_idempotence=False)
    for part in (dna, received, quiet, producer):
        await part.start()
        stack.push_async_callback(part.stop)
    n = args.in_flight
    return Bench(
        producer=producer,
        referrals=await stack.enter_async_context(client(suite, "referrals", token(suite, CSC, "social_care"), n)),
        notifications=await stack.enter_async_context(
            client(suite, "notifications", token(suite, PROVIDER, "provider", "social_care"), n)
        ),
        audit=await stack.enter_async_context(client(suite, "audit", token(suite, IG_ORG, "partnership_ig"), n)),
        dna=dna,
        received=received,
        quiet=quiet,
        roots=suite_roots(suite) + db_roots,
        services=service_pids(suite),
        urls={name: suite.url(name) for name in suite.processes},
        bootstrap=suite.bootstrap,
        in_flight=n,
        stall=args.stall,
        max_wait=args.max_wait,
    )


def resident_memory(suite: Suite, figure: str = "VmRSS") -> dict[str, float]:
    """``figure`` (VmRSS now, VmHWM the most since start, RssFile the part of VmRSS that is pages of
    mapped files) of each service's process and its descendants, in MB."""
    return {name: sum(rss_mb(pid, figure) for pid in family(proc.pid)) for name, proc in suite.processes.items()}


def family(pid: int) -> list[int]:
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                pids.extend(family(int(child)))
    return pids


def rss_mb(pid: int, figure: str = "VmRSS") -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{figure}:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class CpuSample:
    """CPU time so far (clock ticks): the whole machine busy, the suite's processes (services,
    broker and database server), this one."""

    at: float
    busy: int
    suite: int
    harness: int

    @classmethod
    def take(cls, roots: Iterable[int]) -> CpuSample:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        suite = sum(cpu_ticks(pid) for root in roots for pid in family(root))
        return cls(time.monotonic(), busy, suite, cpu_ticks(os.getpid()))

    def cores_since(self, before: CpuSample) -> dict[str, float]:
        """Cores used on average since ``before``: by the suite, this harness and everything
        else on the machine (other work there skews the figures)."""
        per_s = os.sysconf("SC_CLK_TCK") * max(self.at - before.at, 1e-9)
        suite, harness = self.suite - before.suite, self.harness - before.harness
        other = self.busy - before.busy - suite - harness
        return {"suite": suite / per_s, "harness": harness / per_s, "other": max(other, 0) / per_s}


def family_ticks(processes: dict[str, int]) -> dict[str, int]:
    """CPU time so far (clock ticks) of each named process with its descendants."""
    return {name: sum(cpu_ticks(p) for p in family(pid)) for name, pid in processes.items()}


def cpu_ticks(pid: int) -> int:
    """User and system time of ``pid`` (all its threads), in clock ticks."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    return 0


def suite_roots(suite: Suite) -> list[int]:
    broker = [suite.broker.process.pid] if suite.broker and suite.broker.process else []
    return [proc.pid for proc in suite.processes.values()] + broker


def log_problems(var_dir: Path, show: int = 5) -> dict[str, list[str]]:
    """Per log file, the first few lines that say ERROR, CRITICAL or Traceback (and a count)."""
    problems: dict[str, list[str]] = {}
    for log in sorted((var_dir / "logs").glob("*.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines() if PROBLEM.search(line)]
        if lines:
            problems[log.name] = [f"{len(lines)} lines", *(line[:300] for line in lines[:show])]
    return problems


PROBLEM = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback")


@dataclass(frozen=True)
class Database:
    env: dict[str, str]
    """``ISP_<SVC>_DATABASE_URL`` per service (none: each service's SQLite file)."""
    roots: list[int]
    """The server's processes, whose CPU counts as the suite's."""


@contextlib.contextmanager
def database(kind: str) -> Iterator[Database]:
    """SQLite, or a fresh database per service on a local PostgreSQL server."""
    if kind != "postgres":
        yield Database({}, [])
        return
    from isp_common.testing.postgres import create_database, local_postgres

    with local_postgres() as server:
        env = {f"ISP_{s.upper()}_DATABASE_URL": create_database(server, f"isp_{s}") for s in SERVICES}
        yield Database(env, [postmaster_pid(server)])


def postmaster_pid(url: str) -> int:
    """The PostgreSQL server's main process: the parent of a backend serving a connection."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(Path(f"/proc/{row[0]}/stat").read_text().rsplit(")", 1)[1].split()[1])


def run(args: argparse.Namespace) -> Report:
    var_dir = args.var_dir or Path(tempfile.mkdtemp(prefix="isp-throughput-"))
    with database(args.database) as db:
        ports = free_service_ports([*SERVICES, "broker"])
        broker_port = ports.pop("broker")
        suite = Suite(var_dir=var_dir, ports=ports, env={"ISP_BROKER_PORT": str(broker_port), **db.env})
        print(f"starting the suite ({args.database}); var dir {var_dir}", flush=True)
        _RUNNING.append(suite)
        try:
            report = start(suite, args)
            asyncio.run(measure(suite, args, report, db.roots))
        finally:
            suite.stop()
            _RUNNING.remove(suite)
    report.log_problems = log_problems(var_dir)
    return report


def start(suite: Suite, args: argparse.Namespace) -> Report:
    ready = suite.start(timeout=180)
    print(f"suite ready in {ready:.1f}s", flush=True)
    return Report(
        database=args.database,
        quick=args.quick,
        cpus=os.cpu_count() or 0,
        started_at=utc_text(datetime.now(UTC)),
        var_dir=str(suite.var_dir),
        suite_start_s=ready,
        priorities=dict(suite.priorities),
    )


# -- output ------------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    return f"{seconds * 1000:,.0f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def table(report: Report) -> list[str]:
    rows = ["| load | alerts/s | p50 | p95 | p99 | delivered | audited |", "|---|---|---|---|---|---|---|"]
    if report.raw:
        r = report.raw
        rows.append(
            f"| raw broker round trip (1 KiB) | {r.per_s:,.0f} msg/s | {ms(r.p50_s)} | | {ms(r.p99_s)} "
            f"| {r.received:,}/{r.messages:,} | |"
        )
    for x in report.loads:
        rows.append(
            f"| {x.name} | {x.alerts_per_s:,.1f} | {ms(x.p50_s)} | {ms(x.p95_s)} | {ms(x.p99_s)} "
            f"| {x.delivered:,}/{x.prepared:,} | {x.audited:,}/{x.delivered:,} |"
        )
    if idle := report.idle_s:
        p50, p95 = ms(percentile(idle, 50)), ms(percentile(idle, 95))
        rows.append(f"| idle single DNA ({len(idle)} one at a time) | | {p50} | {p95} | | | |")
    return rows


def summary(report: Report) -> list[str]:
    lines = [
        f"python: {report.python}",
        "services' priorities (nice): "
        + (", ".join(f"{n} {nice}" for n, nice in report.priorities.items()) or "all 0 (ISP_SUITE_PRIORITIES=off)"),
        f"suite start: {report.suite_start_s:.1f}s; first alert after start: {ms(report.first_alert_s)}",
    ]
    if report.ratio is not None:
        lines.append(f"flat out / raw broker: {report.ratio:.2%}")
    if m := report.machine_us:
        lines.append(
            f"this machine when measured (µs of CPU, one core): Ed25519 signature {m['sign']:.0f} made, "
            f"{m['check']:.0f} checked; an event parsed {m['parse']:.0f}"
        )
    if report.idle_cores:
        each = ", ".join(f"{n} {c:.3f}" for n, c in report.idle_cores.items())
        lines.append(f"cores used with no load ({IDLE_CPU_S:g} s): {sum(report.idle_cores.values()):.2f}: {each}")
    memory = [
        ("resident memory after flat out", report.memory_mb),
        ("of which pages of mapped files (RssFile)", report.memory_file_mb),
        (f"resident memory {QUIET_S:g} s later, no load", report.memory_quiet_mb),
        ("peak resident memory since start", report.memory_peak_mb),
    ]
    for label, per_service in memory:
        if per_service:
            lines.append(f"{label}: " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in per_service.items()))
    for x in report.loads:
        cores = ", ".join(f"{k} {v:.2f}" for k, v in x.cpu_cores.items())
        lines.append(f"{x.name}: cores used while measured: {cores}")
        if x.cpu_ms_per_alert:
            spent = ", ".join(f"{k} {v:.2f}" for k, v in x.cpu_ms_per_alert.items())
            lines.append(f"{x.name}: CPU per alert (ms): {spent}")
            if x.rate is None and (ceiling := cpu_ceiling(report.cpus, x.cpu_ms_per_alert)):
                lines.append(
                    f"{x.name}: the whole suite {ceiling[0]:.2f} ms of CPU per alert: "
                    f"{report.cpus} cores allow at most {ceiling[1]:,.0f} alerts/s at that cost"
                )
        if x.rate is None and not math.isnan(x.first_s):
            lines.append(f"{x.name}: the first alert {x.first_s * 1000:.0f} ms after the first miss was published")
        if x.stages_s:
            labels = " / ".join(label for label, _q in STAGE_POINTS)
            each = "; ".join(
                # (a stamp is whole milliseconds: the first miss's may fall just before the start)
                f"{name} " + " / ".join(f"{max(0.0, at) * 1000:.0f}" for at in points.values())
                for name, points in x.stages_s.items()
            )
            lines.append(f"{x.name}: each stage published, ms from the first miss ({labels}): {each}")
        if x.machine_us_before and x.machine_us_after:
            b, a = x.machine_us_before, x.machine_us_after
            lines.append(
                f"{x.name}: this machine before / after (µs of CPU, one core): Ed25519 check "
                f"{b['check']:.0f} / {a['check']:.0f}, an event parsed {b['parse']:.0f} / {a['parse']:.0f}"
            )
        if x.batch_events:
            sizes = ", ".join(f"{k} {v:.1f}" for k, v in x.batch_events.items())
            lines.append(f"{x.name}: mean events per consumed batch: {sizes}")
    for x in report.loads:
        if x.lost or x.duplicates or x.prepared < x.people:
            lines.append(
                f"{x.name}: {x.people - x.prepared} lost in preparation, {len(x.lost)} alerts lost "
                f"(first: {', '.join(x.lost[:5])}), {x.duplicates} duplicate alerts"
            )
    for log, problems in report.log_problems.items():
        lines.append(f"{log}: {problems[0]} with ERROR/CRITICAL/Traceback, first: {problems[1:2]}")
    lines.append(f"logs: {report.var_dir}/logs")
    return lines


def write_outputs(report: Report, out: Path) -> Path:
    from .throughput_plot import draw

    out.mkdir(parents=True, exist_ok=True)
    stem = f"throughput-{report.database}{'-quick' if report.quick else ''}"
    data = report.as_dict()
    (out / f"{stem}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    draw(data, out / f"{stem}.png")
    return out / f"{stem}.png"


# -- command line ------------------------------------------------------------------------------


def parse_loads(text: str) -> list[Load]:
    """``RATE:PEOPLE,...`` with RATE a number of misses a second or ``max`` (flat out)."""
    loads = []
    for part in text.split(","):
        rate, _, people = part.strip().partition(":")
        loads.append(Load(people=int(people), rate=None if rate == "max" else float(rate)))
    return loads


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help=f"small loads for a smoke run ({QUICK_LOADS})")
    parser.add_argument("--loads", type=parse_loads, default=None, help=f"RATE:PEOPLE,... (default {DEFAULT_LOADS})")
    parser.add_argument("--idle", type=int, default=None, help="people for the idle single DNA (default 20)")
    parser.add_argument("--raw-messages", type=int, default=None, help="raw broker messages (default 20,000)")
    parser.add_argument("--in-flight", type=int, default=32, help="read-back requests in flight while preparing")
    parser.add_argument("--stall", type=float, default=60.0, help="give up waiting after this long without progress")
    parser.add_argument("--max-wait", type=float, default=600.0, help="longest wait for a load's alerts (s)")
    parser.add_argument("--out", type=Path, default=Path("docs/perf"), help="where the PNG and JSON go")
    parser.add_argument("--var-dir", type=Path, default=None, help="the suite's var dir (default: a new temp dir)")
    args = parser.parse_args(argv)
    args.loads = args.loads or parse_loads(QUICK_LOADS if args.quick else DEFAULT_LOADS)
    args.idle = args.idle if args.idle is not None else (5 if args.quick else 20)
    args.raw_messages = args.raw_messages or (5_000 if args.quick else 20_000)
    return args


STOPPING_GRACE_S = 10
"""How long a run told to stop may take to end of itself before it is ended regardless."""

_RUNNING: list[Suite] = []
"""The suite this run started, for :func:`stop_on_sigterm`."""


def stop_on_sigterm(signum: int, _frame: Any) -> None:
    """SIGTERM ends the run as Ctrl-C does, through :func:`run`'s ``finally``; the suite's processes
    run in sessions of their own, so without it they outlived a harness that was told to stop.

    The suite is stopped here first: an exception raised by a signal handler is lost when the
    signal lands while a finalizer (``__del__``) runs, and the run then went on as if nothing had
    been asked. Should that happen, the process ends :data:`STOPPING_GRACE_S` seconds later anyway."""
    for suite in list(_RUNNING):
        suite.stop(grace=5.0)
    signal.signal(signal.SIGALRM, lambda *_: os._exit(128 + signum))
    signal.alarm(STOPPING_GRACE_S)
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    args = parse_args(argv)
    report = run(args)
    print()
    print("\n".join(table(report)))
    print("\n".join(summary(report)))
    print(f"figures: {write_outputs(report, args.out)} (and .json)")


if __name__ == "__main__":
    main()
