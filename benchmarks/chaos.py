"""``make chaos``: replicas SIGKILLed mid-stream, then a Jepsen-style reconciliation (issue 14).

On a fresh local PostgreSQL server (a database per service) and the embedded broker, it starts
one register and one audit, and TWO replicas each of referrals and notifications, every one a
real process on its own HTTP port. A load generator publishes a known set of input events for
many people (consent, referral to treatment, assessment booking, missed assessment: the
builders of ``benchmarks/events.py``), phase by phase, each phase consumed before the next
starts, so the facts a decision needs are always there before its causing event. While it
publishes, a schedule SIGKILLs a notifications replica, the relay leader (the replica holding
the outbox relay's advisory lock) and a referrals consumer, and restarts each after a delay.

When every expected effect is present (or the time is up) and the outboxes are empty and the
broker quiet, it reads the databases and the alerts topics and checks that every input event
that should give a decision (each referral: ``referral_received`` to the provider; each miss:
``did_not_attend`` to social care) gives exactly one decision (notifications' alert and
withheld-share tables), exactly one audit record (the audit database) and at most one alert per
recipient on the alerts topics. It prints lost, duplicated and unexpected counts per check,
draws ``docs/perf/chaos-timeline.png`` and writes ``docs/perf/chaos.json``; the exit code is
non-zero when any count is. Copies of the same alert (the same ``alert_id`` published twice:
the relay is at least once, consumers deduplicate by id) are counted and shown, not failed.

    .venv/bin/python -m benchmarks.chaos [--people 2500] [--rate 250] [--kills 0.3:notifications,...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from isp_common.auth import ensure_signing_key
from isp_common.launcher import EmbeddedBroker, Suite, free_port

from .events import CONTENT_TYPE, CSC, PROVIDER, Person, booking, consent, message, missed, referral

RECEIVED = "uk.isp.alert.referral_received.v1"
DNA = "uk.isp.alert.did_not_attend.v1"
KEY_FIELD = {RECEIVED: "referral_id", DNA: "appointment_id"}
"""The field of an expected alert's data naming the input it answers."""
DECISIONS = ("shared", "withheld")
"""Audit records that are decisions (``received`` is a recipient's acknowledgement)."""
SHOW = 10


# -- the reconciliation (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """An input event that should give exactly one decision: ``alert_type`` to ``recipient``
    about ``key`` (the referral or appointment id the alert carries)."""

    event_id: str
    alert_type: str
    key: str
    recipient: str

    @property
    def about(self) -> tuple[str, str, str]:
        return self.alert_type, self.key, self.recipient


@dataclass(frozen=True)
class Decision:
    """A row of notifications' alert table, or of its withheld-share table (``withheld``)."""

    alert_id: str
    alert_type: str
    key: str | None
    recipient: str
    withheld: bool = False


@dataclass(frozen=True)
class AuditRecord:
    id: str
    alert_id: str
    decision: str
    supersedes: str | None = None


@dataclass(frozen=True)
class TopicAlert:
    """One message read from an alerts topic (``recipient``: the topic's organisation)."""

    alert_id: str
    alert_type: str
    key: str | None
    recipient: str


@dataclass
class Check:
    name: str
    expected: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    copies: int = 0
    """Messages carrying an alert id already read (at-least-once redelivery; not a failure)."""

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.duplicated or self.unexpected)

    def line(self) -> str:
        text = (
            f"{self.name:<34} expected {self.expected:>6,}  lost {len(self.lost):>4}  "
            f"duplicated {len(self.duplicated):>4}  unexpected {len(self.unexpected):>4}"
        )
        return text + (f"  (copies of one alert id: {self.copies})" if self.copies else "")

    def figures(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected": self.expected,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "unexpected": len(self.unexpected),
            "copies": self.copies,
            "first_lost": self.lost[:SHOW],
            "first_duplicated": self.duplicated[:SHOW],
            "first_unexpected": self.unexpected[:SHOW],
        }


def reconcile(
    expected: Sequence[Expected],
    decisions: Iterable[Decision],
    audit: Iterable[AuditRecord],
    topic_alerts: Iterable[TopicAlert],
) -> list[Check]:
    """The three checks: one decision, one audit record, at most one alert per recipient.

    Lost: an expected input with none; duplicated: one with more than one (distinct alert ids;
    an audit record re-deciding a withheld one, ``supersedes`` set, is the same decision);
    unexpected: a decision, record or alert that answers no expected input. Ids, never people,
    are listed.
    """
    by_about = {e.about: e for e in expected}
    decided = _decision_check(expected, decisions, by_about)
    return [decided[0], _audit_check(expected, audit, decided[1]), _topic_check(expected, topic_alerts, by_about)]


def _decision_check(
    expected: Sequence[Expected], decisions: Iterable[Decision], by_about: dict[tuple[str, str, str], Expected]
) -> tuple[Check, dict[str, Expected]]:
    check = Check("one decision per input (notifications)", len(expected))
    ids: dict[str, set[str]] = defaultdict(set)
    answers: dict[str, Expected] = {}  # alert id -> the input it answers
    for d in decisions:
        e = by_about.get((d.alert_type, d.key or "", d.recipient))
        if e is None:
            check.unexpected.append(d.alert_id)
            continue
        ids[e.event_id].add(d.alert_id)
        answers[d.alert_id] = e
    _count(check, expected, {k: len(v) for k, v in ids.items()})
    check.unexpected = sorted(set(check.unexpected))
    return check, answers


def _audit_check(expected: Sequence[Expected], audit: Iterable[AuditRecord], answers: dict[str, Expected]) -> Check:
    check = Check("one audit record per input (audit)", len(expected))
    records = [r for r in audit if r.decision in DECISIONS]
    ids = {r.id for r in records}
    per_input: Counter[str] = Counter()
    for r in records:
        e = answers.get(r.alert_id)
        if e is None:
            check.unexpected.append(r.id)
        elif r.supersedes is None or r.supersedes not in ids:  # a re-decision is counted with its first
            per_input[e.event_id] += 1
    _count(check, expected, per_input)
    return check


def _topic_check(
    expected: Sequence[Expected], alerts: Iterable[TopicAlert], by_about: dict[tuple[str, str, str], Expected]
) -> Check:
    check = Check("at most one alert per recipient (topics)", len(expected))
    ids: dict[str, set[str]] = defaultdict(set)
    seen: set[str] = set()
    for a in alerts:
        if a.alert_id in seen:
            check.copies += 1
            continue
        seen.add(a.alert_id)
        e = by_about.get((a.alert_type, a.key or "", a.recipient))
        if e is None:
            check.unexpected.append(a.alert_id)
        else:
            ids[e.event_id].add(a.alert_id)
    _count(check, expected, {k: len(v) for k, v in ids.items()})
    return check


def _count(check: Check, expected: Sequence[Expected], per_input: dict[str, int] | Counter[str]) -> None:
    for e in expected:
        n = per_input.get(e.event_id, 0)
        if n == 0:
            check.lost.append(e.event_id)
        elif n > 1:
            check.duplicated.append(e.event_id)


def key_of(alert_type: str, data: dict[str, Any]) -> str | None:
    """The input an alert answers, from its data (None for a type no input expects)."""
    field_name = KEY_FIELD.get(alert_type)
    value = data.get(field_name) if field_name else None
    return str(value) if value is not None else None


# -- the cluster -------------------------------------------------------------------------------


@dataclass
class Replica:
    """One service process (a single-service :class:`Suite`), killable and restartable."""

    name: str
    service: str
    suite: Suite

    def start(self, timeout: float = 180.0) -> float:
        started: float = self.suite.start(timeout=timeout)
        return started

    def kill(self) -> None:
        proc = self.suite.processes.get(self.service)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        self.suite.stop()


@dataclass
class Cluster:
    var_dir: Path
    bootstrap: str
    database_urls: dict[str, str]  # service -> URL (without application name)
    replicas: dict[str, Replica] = field(default_factory=dict)
    broker: EmbeddedBroker | None = None

    def of(self, service: str) -> list[Replica]:
        return [r for r in self.replicas.values() if r.service == service]


LAYOUT = {
    "referrals-a": "referrals",
    "referrals-b": "referrals",
    "notifications-a": "notifications",
    "notifications-b": "notifications",
    "register": "register",
    "audit": "audit",
}
FIRST = ("referrals-a", "notifications-a", "register", "audit")
"""Started (and migrated) first; the second replicas join once these are ready."""


def make_replica(cluster: Cluster, name: str, service: str, key_dir: Path) -> Replica:
    separator = "&" if "?" in cluster.database_urls[service] else "?"
    env = {
        f"ISP_{service.upper()}_DATABASE_URL": f"{cluster.database_urls[service]}{separator}application_name={name}",
        "ISP_KEY_DIR": str(key_dir),
    }
    suite = Suite(
        var_dir=cluster.var_dir / name,
        ports={service: free_port()},
        bootstrap=cluster.bootstrap,
        env=env,
        services=(service,),
    )
    return Replica(name, service, suite)


async def start_all(cluster: Cluster, names: Iterable[str]) -> None:
    await asyncio.gather(*(asyncio.to_thread(cluster.replicas[n].start) for n in names))


@contextlib.contextmanager
def cluster_up(var_dir: Path) -> Iterator[Cluster]:
    """The PostgreSQL server (fresh databases), the broker and the six replicas; all stopped after."""
    from isp_common.testing.postgres import create_database, local_postgres

    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    key_dir = var_dir / "keys"
    ensure_signing_key(key_dir)  # once, before the replicas: none of them races to make it
    with local_postgres() as server:
        urls = {s: create_database(server, f"chaos_{s}") for s in sorted(set(LAYOUT.values()))}
        broker = EmbeddedBroker(port=free_port(), log_path=var_dir / "logs" / "broker.log")
        broker.start()
        cluster = Cluster(var_dir, broker.bootstrap, urls, broker=broker)
        try:
            for name, service in LAYOUT.items():
                cluster.replicas[name] = make_replica(cluster, name, service, key_dir)
            yield cluster
        finally:
            for replica in cluster.replicas.values():
                replica.stop()
            broker.stop()


# -- reading the databases ---------------------------------------------------------------------


def query(url: str, sql: str, **params: Any) -> list[Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(sql, params).fetchall())


def relay_leader(cluster: Cluster, service: str) -> str | None:
    """The replica holding ``service``'s outbox-relay advisory lock (by its application name)."""
    from isp_common.leader import lock_key

    unsigned = lock_key(f"isp-{service}:outbox-relay") & 0xFFFFFFFFFFFFFFFF
    rows = query(
        cluster.database_urls[service],
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %(hi)s AND l.objid::bigint = %(lo)s "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        hi=unsigned >> 32,
        lo=unsigned & 0xFFFFFFFF,
    )
    return str(rows[0][0]) if rows else None


def inbox(url: str, consumer: str | None = None) -> dict[str, datetime]:
    """Event id -> when first processed, by one consumer or any."""
    if consumer is None:
        rows = query(url, "SELECT event_id, min(processed_at) FROM processed_event GROUP BY event_id")
    else:
        rows = query(url, "SELECT event_id, processed_at FROM processed_event WHERE consumer = %(c)s", c=consumer)
    return {str(event_id): _utc(at) for event_id, at in rows}


def unsent(url: str) -> int:
    return int(query(url, "SELECT count(*) FROM outbox_message WHERE sent_at IS NULL")[0][0])


def read_decisions(url: str, people: dict[str, Person]) -> list[Decision]:
    decisions = [
        Decision(str(i), str(t), key_of(str(t), dict((event or {}).get("data") or {})), str(r))
        for i, t, r, event in query(url, "SELECT id, type, recipient, event FROM notifications_alert")
    ]
    for i, t, r, nhs in query(
        url, "SELECT alert_id, alert_type, recipient, nhs_number FROM notifications_withheld_share"
    ):
        p = people.get(str(nhs))
        key = (p.referral_id if t == RECEIVED else p.appointment_id) if p else None
        decisions.append(Decision(str(i), str(t), key, str(r), withheld=True))
    return decisions


def read_audit(url: str) -> list[tuple[AuditRecord, datetime]]:
    rows = query(url, "SELECT id, alert_id, decision, supersedes, recorded_at FROM audit_disclosure")
    return [
        (AuditRecord(str(i), str(a), str(d), s), datetime.fromisoformat(str(at).replace("Z", "+00:00")))
        for i, a, d, s, at in rows
    ]


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def read_alert_topics(bootstrap: str) -> list[TopicAlert]:
    """Every message on every ``isp.alerts.<ORG>.v1`` topic, in order."""
    from aiokafka.admin import AIOKafkaAdminClient
    from isp_common.testing.e2e import KafkaProbe

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith("isp.alerts."))
    finally:
        await admin.close()
    probe, found = KafkaProbe(bootstrap), []
    for topic in names:
        org = topic.removeprefix("isp.alerts.").rsplit(".", 1)[0]
        for record in await probe.read_all(topic):
            body = json.loads(record.value or b"{}")
            data = body.get("data") or {}
            found.append(TopicAlert(str(data.get("alert_id")), str(body.get("type")), key_of(body["type"], data), org))
    return found


# -- the load and the kills ----------------------------------------------------------------------


@dataclass
class Kill:
    at_fraction: float
    target: str  # notifications | referrals | relay-leader:<service>
    replica: str = ""
    killed_at: float | None = None
    restarted_at: float | None = None
    error: str | None = None


def parse_kills(text: str) -> list[Kill]:
    """``FRACTION:TARGET,...``: after that fraction of the input events is published, kill
    TARGET (``notifications`` or ``referrals``: a replica not leading its relay, a consumer;
    ``relay-leader:<service>``: the replica holding that service's relay lock)."""
    kills = []
    for part in text.split(","):
        fraction, _, target = part.strip().partition(":")
        kills.append(Kill(float(fraction), target))
    return sorted(kills, key=lambda k: k.at_fraction)


DEFAULT_KILLS = (
    "0.30:notifications,0.42:relay-leader:notifications,0.80:referrals,"
    "0.86:relay-leader:referrals,0.93:relay-leader:notifications"
)


class Chaos:
    """Runs the kill schedule against the cluster as the load generator publishes."""

    def __init__(self, cluster: Cluster, kills: list[Kill], restart_after: float, t0: float) -> None:
        self.cluster, self.kills, self.restart_after, self.t0 = cluster, kills, restart_after, t0
        self.tasks: list[asyncio.Task[None]] = []
        self._next = 0
        self._restarting: dict[str, asyncio.Task[None]] = {}

    def published(self, fraction: float) -> None:
        while self._next < len(self.kills) and self.kills[self._next].at_fraction <= fraction:
            self.tasks.append(asyncio.create_task(self._kill(self.kills[self._next])))
            self._next += 1

    async def _kill(self, kill: Kill) -> None:
        service = kill.target.split(":", 1)[1] if kill.target.startswith("relay-leader:") else kill.target
        for name, task in list(self._restarting.items()):  # both replicas up before killing one again
            if self.cluster.replicas[name].service == service:
                await task
        try:
            leader = await asyncio.to_thread(relay_leader, self.cluster, service)
            if kill.target.startswith("relay-leader:"):
                chosen = leader
            else:
                chosen = next((r.name for r in self.cluster.of(service) if r.name != leader), None)
            if chosen is None or chosen not in self.cluster.replicas:
                kill.error = f"no replica to kill (relay leader: {leader})"
                return
            kill.replica, replica = chosen, self.cluster.replicas[chosen]
            await asyncio.to_thread(replica.kill)
            kill.killed_at = time.time() - self.t0
            print(f"  [{kill.killed_at:6.1f}s] SIGKILL {chosen} ({kill.target}; relay leader was {leader})", flush=True)
            self._restarting[chosen] = asyncio.create_task(self._restart(kill, replica))
            await self._restarting[chosen]
            self._restarting.pop(chosen, None)
        except Exception as exc:  # a kill that failed is reported, not hidden
            kill.error = f"{type(exc).__name__}: {exc}"
            print(f"  kill {kill.target} failed: {kill.error}", flush=True)

    async def _restart(self, kill: Kill, replica: Replica) -> None:
        await asyncio.sleep(self.restart_after)
        await asyncio.to_thread(replica.start)
        kill.restarted_at = time.time() - self.t0
        print(f"  [{kill.restarted_at:6.1f}s] {replica.name} restarted and ready", flush=True)

    async def finish(self) -> None:
        await asyncio.gather(*self.tasks)


@dataclass
class Phase:
    label: str
    events: list[Any]  # CloudEvents
    topic: str
    consumers: list[tuple[str, str]]  # (service, consumer name) that must hold every event in their inbox


def phases(people: Sequence[Person]) -> list[Phase]:
    from isp_schemas import topics

    return [
        Phase(
            "consents",
            [consent(p) for p in people],
            topics.CONSENT,
            [("notifications", f"notifications:{topics.CONSENT}")],
        ),
        Phase(
            "referrals",
            [referral(p) for p in people],
            topics.REFERRALS,
            [("referrals", f"referrals:{topics.REFERRALS}"), ("notifications", f"notifications:{topics.REFERRALS}")],
        ),
        Phase(
            "bookings", [booking(p) for p in people], topics.TREATMENT, [("referrals", f"referrals:{topics.TREATMENT}")]
        ),
        Phase(
            "misses", [missed(p) for p in people], topics.TREATMENT, [("referrals", f"referrals:{topics.TREATMENT}")]
        ),
    ]


@dataclass
class Run:
    people: int
    events: int
    rate: float
    started_at: str
    var_dir: str
    published_s: dict[str, float] = field(default_factory=dict)  # event id -> seconds since start
    phase_s: dict[str, list[float]] = field(default_factory=dict)  # label -> [published from, consumed at]
    settled_s: float | None = None
    settled: bool = False
    kills: list[Kill] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    withheld: int = 0
    log_problems: dict[str, list[str]] = field(default_factory=dict)


async def publish(producer: AIOKafkaProducer, phase: Phase, run: Run, chaos: Chaos, t0: float, sent: int) -> int:
    """Publish one phase at ``run.rate`` a second, every send acknowledged; tell the kill schedule."""
    start, futures = time.perf_counter(), []
    for i, event in enumerate(phase.events):
        if (ahead := start + i / run.rate - time.perf_counter()) > 0:
            await asyncio.sleep(ahead)
        key, value = message(event)
        futures.append(await producer.send(phase.topic, value=value, key=key, headers=CONTENT_TYPE))
        run.published_s[event.id] = time.time() - t0
        sent += 1
        chaos.published(sent / run.events)
    await producer.flush()
    await asyncio.gather(*futures)  # raises if the broker refused one: the harness loses nothing silently
    return sent


async def wait_consumed(cluster: Cluster, phase: Phase, deadline: float) -> bool:
    ids = {e.id for e in phase.events}
    while time.monotonic() < deadline:
        missing = 0
        for service, consumer in phase.consumers:
            held = await asyncio.to_thread(inbox, cluster.database_urls[service], consumer)
            missing += len(ids - held.keys())
        if not missing:
            return True
        await asyncio.sleep(1.0)
    return False


async def wait_settled(cluster: Cluster, expected: Sequence[Expected], deadline: float) -> bool:
    """Every expected alert row and audit record present, every outbox empty, the broker quiet."""
    from .throughput import BrokerQuiet

    wanted = Counter(e.alert_type for e in expected)
    notifications, audit = cluster.database_urls["notifications"], cluster.database_urls["audit"]
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(
            query, notifications, "SELECT type, count(*) FROM notifications_alert GROUP BY type"
        )
        have = {str(t): int(n) for t, n in rows}
        records = await asyncio.to_thread(
            query, audit, "SELECT count(*) FROM audit_disclosure WHERE decision IN ('shared', 'withheld')"
        )
        pending = [await asyncio.to_thread(unsent, url) for url in cluster.database_urls.values()]
        if all(have.get(t, 0) >= n for t, n in wanted.items()) and records[0][0] >= len(expected) and not any(pending):
            break
        await asyncio.sleep(2.0)
    else:
        return False
    quiet = BrokerQuiet(cluster.bootstrap)
    await quiet.start()
    try:
        return await quiet.wait(quiet_for=5.0, limit=max(deadline - time.monotonic(), 10.0), tolerance=0)
    finally:
        await quiet.stop()


async def drive(
    cluster: Cluster, args: argparse.Namespace, run: Run, plan: list[Phase], expected: list[Expected], t0: float
) -> None:
    chaos = Chaos(cluster, run.kills, args.restart_after, t0)
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    deadline = time.monotonic() + args.timeout
    sent = 0
    try:
        for phase in plan:
            began = time.time() - t0
            print(f"  [{began:6.1f}s] publishing {len(phase.events):,} {phase.label}", flush=True)
            sent = await publish(producer, phase, run, chaos, t0, sent)
            ok = await wait_consumed(cluster, phase, deadline)
            run.phase_s[phase.label] = [began, time.time() - t0]
            print(f"  [{time.time() - t0:6.1f}s] {phase.label} consumed: {ok}", flush=True)
    finally:
        await producer.stop()
    await chaos.finish()
    run.settled = await wait_settled(cluster, expected, deadline)
    run.settled_s = time.time() - t0


def expectations(people: Sequence[Person], plan: Sequence[Phase]) -> list[Expected]:
    """Each referral and each miss, by the id the harness publishes it with."""
    by_label = {phase.label: phase.events for phase in plan}
    return [
        Expected(e.id, RECEIVED, p.referral_id, PROVIDER) for e, p in zip(by_label["referrals"], people, strict=True)
    ] + [Expected(e.id, DNA, p.appointment_id, CSC) for e, p in zip(by_label["misses"], people, strict=True)]


# -- the run -------------------------------------------------------------------------------------


def timeline(run: Run, t0: float, processed: dict[str, datetime], decided: Iterable[datetime]) -> dict[str, Any]:
    """Counts per second: input events published, input events first processed, decisions audited."""

    def binned(seconds: Iterable[float]) -> list[int]:
        counts = Counter(int(max(s, 0)) for s in seconds)
        return [counts.get(i, 0) for i in range(max(counts, default=0) + 1)]

    inputs = [at.timestamp() - t0 for i, at in processed.items() if i in run.published_s]
    return {
        "bin_s": 1,
        "published": binned(run.published_s.values()),
        "processed": binned(inputs),
        "decided": binned(at.timestamp() - t0 for at in decided),
        "kills": [asdict(k) for k in run.kills],
        "phases": run.phase_s,
        "settled_s": run.settled_s,
    }


def reconcile_run(
    cluster: Cluster, run: Run, people: list[Person], expected: list[Expected], t0: float
) -> dict[str, Any]:
    by_nhs = {p.nhs: p for p in people}
    decisions = read_decisions(cluster.database_urls["notifications"], by_nhs)
    audit = read_audit(cluster.database_urls["audit"])
    alerts = asyncio.run(read_alert_topics(cluster.bootstrap))
    run.checks = reconcile(expected, decisions, [r for r, _ in audit], alerts)
    run.withheld = sum(d.withheld for d in decisions)
    processed: dict[str, datetime] = {}
    for service in ("notifications", "referrals"):
        for event_id, at in inbox(cluster.database_urls[service]).items():
            processed[event_id] = min(at, processed.get(event_id, at))
    return timeline(run, t0, processed, (at for r, at in audit if r.decision in DECISIONS))


def run_chaos(args: argparse.Namespace) -> tuple[Run, dict[str, Any]]:
    from .throughput import log_problems, utc_text

    var_dir = args.var_dir or Path(tempfile.mkdtemp(prefix="isp-chaos-"))
    people = [Person.fresh() for _ in range(args.people)]
    plan = phases(people)
    expected = expectations(people, plan)
    run = Run(args.people, 4 * args.people, args.rate, utc_text(datetime.now(UTC)), str(var_dir), kills=args.kills)
    print(f"chaos: {run.events:,} input events for {args.people:,} people; var dir {var_dir}", flush=True)
    with cluster_up(var_dir) as cluster:
        started = time.monotonic()
        asyncio.run(start_all(cluster, FIRST))
        asyncio.run(start_all(cluster, [n for n in LAYOUT if n not in FIRST]))
        print(f"six replicas ready in {time.monotonic() - started:.1f}s", flush=True)
        t0 = time.time()
        asyncio.run(drive(cluster, args, run, plan, expected, t0))
        print(f"  [{run.settled_s or 0:6.1f}s] settled: {run.settled}; reconciling", flush=True)
        figures = reconcile_run(cluster, run, people, expected, t0)
    run.log_problems = {
        name: lines for sub in sorted(var_dir.iterdir()) if sub.is_dir() for name, lines in log_problems(sub).items()
    }
    return run, figures


def report(run: Run, figures: dict[str, Any], out: Path) -> int:
    from .chaos_plot import draw

    kills = [k for k in run.kills if k.killed_at is not None]
    print()
    print(f"{run.events:,} input events, {len(kills)} kills, settled: {run.settled} after {run.settled_s or 0:.0f}s")
    for k in run.kills:
        print(f"  kill at {k.at_fraction:.0%} ({k.target}): {k.replica or '-'} {k.error or ''}")
    for check in run.checks:
        print(check.line())
    if run.withheld:
        print(f"withheld shares (a decision waiting for its basis): {run.withheld}")
    for log, problems in run.log_problems.items():
        print(f"{log}: {problems[0]} with ERROR/CRITICAL/Traceback (see {run.var_dir})")
    out.mkdir(parents=True, exist_ok=True)
    data = {
        **{k: v for k, v in asdict(run).items() if k not in ("published_s", "checks", "kills")},
        "kills": [asdict(k) for k in run.kills],
        "checks": [c.figures() for c in run.checks],
        "timeline": figures,
    }
    (out / "chaos.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    draw(figures, out / "chaos-timeline.png", title=f"{run.events:,} input events, {len(kills)} replicas SIGKILLed")
    print(f"figures: {out / 'chaos-timeline.png'} and {out / 'chaos.json'}")
    failed = any(c.failed for c in run.checks) or len(kills) < 3 or any(k.error for k in run.kills)
    return 1 if failed else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2500, help="people; four input events each (default 2,500)")
    parser.add_argument("--rate", type=float, default=100.0, help="input events published a second")
    parser.add_argument("--kills", type=parse_kills, default=parse_kills(DEFAULT_KILLS), help=parse_kills.__doc__)
    parser.add_argument("--restart-after", type=float, default=3.0, help="seconds before a killed replica restarts")
    parser.add_argument("--timeout", type=float, default=1200.0, help="longest the whole run may take (s)")
    parser.add_argument("--out", type=Path, default=Path("docs/perf"), help="where the PNG and JSON go")
    parser.add_argument("--var-dir", type=Path, default=None, help="the replicas' var dirs (default: a temp dir)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run, figures = run_chaos(args)
    return report(run, figures, args.out)


if __name__ == "__main__":
    sys.exit(main())
