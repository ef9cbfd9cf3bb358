"""Throughput and memory of the event path (``make bench``; figures printed, not asserted).

- facts: the notifications service's consents, in batches of 500 read ahead, as it consumes: each
  consent kept, the changes that came before it applied, the person's withheld shares looked at;
  then social care's referrals, each kept with its links and its ``referral_received`` decided;
- decide: the notifications service's hot path, through the real consumer (parse, inbox check,
  lawful-basis decision, alert and audit rows through the outbox) on a SQLite file, for
  missed-assessment events whose parent gave consent: half one commit per event, half in batches
  of 500 with the service's read-ahead, as it consumes;
- redeliver: the same events again (each a no-op found in the inbox);
- relay: the outbox relay publishing those rows to the embedded broker (acks=all);
- services: resident memory of each service process once the suite is ready.
"""

from __future__ import annotations

import asyncio
import random
import resource
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from isp_common.consumer import EventProcessor
from isp_common.db import UnitOfWork, make_engine
from isp_common.launcher import EmbeddedBroker, Suite, create_topics, free_port, free_service_ports
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person, make_nhs_number
from isp_schemas.referrals import ReferralAssessmentMissed, ReferralRequested


class NoDeadLetters:
    async def send(self, key, value, headers, reason, *args, **kwargs):
        raise AssertionError(f"nothing should be dead-lettered in the benchmark: {reason}")


def people(n: int) -> list[Person]:
    rng = random.Random(7)
    found: list[Person] = []
    while len(found) < n:
        number = make_nhs_number(f"{rng.randrange(10**8, 10**9)}")
        if number:
            found.append(Person(nhs_number=number))
    return found


def social_care_to_provider(referral_id: str, person: Person) -> dict[str, Any]:
    """The fields every referral event carries: social care's referral of ``person`` to the provider."""
    return {
        "referral_id": referral_id,
        "direction": "to_treatment",
        "from_org": "WSCC-CSC",
        "to_org": "CGL-WSX",
        "person": person,
    }


def events(n: int) -> tuple[list[bytes], list[bytes]]:
    consents, missed = [], []
    now = datetime.now(UTC)
    for i, person in enumerate(people(n)):
        consent = ConsentGiven(
            consent_id=f"con-{i}",
            person=person,
            recorded_by="CGL-WSX",
            recipients=["WSCC-CSC"],
            purposes=["safeguarding"],
            data_categories=["attendance"],
            given_on=date(2026, 1, 1),
        )
        consents.append(CloudEvent.create(type=consent.event_type, source_org="CGL-WSX", data=consent).to_json_bytes())
        dna = ReferralAssessmentMissed(
            **social_care_to_provider(f"ref-{i}", person),
            at=now,
            appointment_id=f"apt-{i}",
            scheduled_for=now,
            recorded_at=now,
        )
        missed.append(CloudEvent.create(type=dna.event_type, source_org="CGL-WSX", data=dna).to_json_bytes())
    return consents, missed


def referrals_of(n: int) -> list[bytes]:
    """Social care's referral of ``n`` people to the provider, each naming a child: other people
    than those of :func:`events`, whose decisions the referrals would otherwise change."""
    made = []
    for i, person in enumerate(people(2 * n)[n:]):
        referral = ReferralRequested(
            **social_care_to_provider(f"ref-other-{i}", person),
            children=[{"local_id": f"child-{i}"}],
            rag="amber",
            summary="alcohol misuse",
        )
        made.append(CloudEvent.create(type=referral.event_type, source_org="WSCC-CSC", data=referral).to_json_bytes())
    return made


async def decide(n: int, workdir: Path) -> dict[str, float]:
    from isp_common import directory, pgroles
    from isp_common.clock import SystemClock
    from isp_common.settings import ServiceSettings
    from isp_common.workingdays import WorkingCalendar
    from isp_notifications.handlers import handlers_by_topic, read_ahead

    engine = make_engine(f"sqlite:///{workdir}/notifications-bench.db")
    pgroles.migrate(engine, "notifications", None)  # the service's own tables, as it starts
    settings = ServiceSettings(service_name="notifications", var_dir=workdir)
    directory.seed_at_start(engine, settings, datetime.now(UTC))  # the partnership's organisations
    handlers = handlers_by_topic(WorkingCalendar(), SystemClock())

    def processor(topic: str) -> EventProcessor:
        # NoDeadLetters stands in for DeadLetters: it has the one method the processor calls
        deadletters: Any = NoDeadLetters()
        return EventProcessor(f"bench:{topic}", handlers[topic], lambda: UnitOfWork(engine), deadletters)

    async def in_batches(consumer: EventProcessor, raws: list[bytes], topic: str) -> float:
        """Seconds to handle ``raws`` as the service consumes: batches of up to 500, read ahead."""
        consumer.prefetch = read_ahead
        started = time.perf_counter()
        for start in range(0, len(raws), 500):
            messages = [(None, raw, []) for raw in raws[start : start + 500]]
            assert set(await consumer.process_batch(messages, topic)) == {"handled"}
        return time.perf_counter() - started

    consents, missed = events(n)
    facts_batched = await in_batches(processor(topics.CONSENT), consents, topics.CONSENT)
    referred = referrals_of(n)
    referrals_batched = await in_batches(processor(topics.REFERRALS), referred, topics.REFERRALS)
    referrals = processor(topics.REFERRALS)
    one_by_one, batched = missed[: n // 2], missed[n // 2 :]
    started = time.perf_counter()
    for raw in one_by_one:
        assert await referrals.process(None, raw, [], topics.REFERRALS) == "handled"
    decided = time.perf_counter() - started
    decided_batched = await in_batches(referrals, batched, topics.REFERRALS)
    started = time.perf_counter()
    for raw in missed:
        assert await referrals.process(None, raw, [], topics.REFERRALS) == "duplicate"
    redelivered = time.perf_counter() - started
    return {
        "decide_per_s": len(one_by_one) / decided,
        "decide_batched_per_s": len(batched) / decided_batched,
        "redeliver_per_s": n / redelivered,
        "facts_batched_per_s": len(consents) / facts_batched,
        "referrals_batched_per_s": len(referred) / referrals_batched,
        "engine": engine,
    }


async def relay(engine, bootstrap: str) -> tuple[int, float]:
    from isp_common.kafka_clients import TopicAdmin, new_producer
    from isp_common.outbox import OutboxRelay

    admin = TopicAdmin(bootstrap, partitions=6, replication=1)
    await admin.start()
    producer = new_producer(bootstrap, "bench-relay")
    await producer.start()
    try:
        outbox = OutboxRelay(engine, producer, admin, batch_size=1000)
        sent, started = 0, time.perf_counter()
        while (batch := await outbox.flush()) > 0:
            sent += batch
        return sent, time.perf_counter() - started
    finally:
        await producer.stop()
        await admin.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(n: int = 5_000, with_suite: bool = True) -> None:
    with tempfile.TemporaryDirectory(prefix="isp-bench-") as tmp:
        workdir = Path(tmp)
        result = asyncio.run(decide(n, workdir))
        print(
            f"decide (notifications consumer, DNA with consent, SQLite file): one commit per event "
            f"{result['decide_per_s']:,.0f} events/s; in batches of 500 read ahead, as the service consumes, "
            f"{result['decide_batched_per_s']:,.0f} events/s ({n // 2:,} events each)"
        )
        print(f"redeliver (same ids again, inbox no-op): {result['redeliver_per_s']:,.0f} events/s")
        print(
            f"facts (notifications consumer, consent.given, each a fact kept and the person's withheld "
            f"shares looked at again; in batches of 500 read ahead): {result['facts_batched_per_s']:,.0f} events/s"
        )
        print(
            f"referrals (notifications consumer, referral.requested from social care, each kept with its links "
            f"and its referral_received decided; in batches of 500 read ahead): "
            f"{result['referrals_batched_per_s']:,.0f} events/s"
        )
        broker = EmbeddedBroker(port=free_port(), log_path=workdir / "broker.log")
        broker.start()
        try:
            asyncio.run(create_topics(broker.bootstrap))
            sent, took = asyncio.run(relay(result["engine"], broker.bootstrap))
            rate = sent / took
            print(f"relay (outbox → embedded broker, acks=all): {sent:,} messages in {took:.2f}s = {rate:,.0f}/s")
            if with_suite:
                suite = Suite(var_dir=workdir / "suite", ports=free_service_ports(), bootstrap=broker.bootstrap)
                try:
                    ready = suite.start(timeout=120)
                    memory = ", ".join(f"{name} {rss_mb(p.pid):.0f} MB" for name, p in suite.processes.items())
                    print(f"services ready in {ready:.1f}s; resident memory: {memory}")
                finally:
                    suite.stop()
        finally:
            broker.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"benchmark process peak memory: {peak:.0f} MB")
