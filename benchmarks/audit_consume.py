"""What the audit service's consumers cost per DNA alert, in process (CPU per event; printed, not asserted).

- records: signed ``uk.isp.audit.disclosure.v1`` records, built as notifications publishes them, through
  the service's own consumer path (parse, signature check, read-ahead, append to the chain, inbox, commit:
  ``EventProcessor.process_batch``) on a SQLite file migrated as the service migrates it, in batches of
  200 (the consumers' default) and of 46 (audit's mean batch flat out);
- ledger: the alerts ledger (``AlertsLedger.run``) reading ``did_not_attend`` alerts that another process
  publishes to the embedded broker at 600 a second; the CPU of this process per alert and the mean batch.

    .venv/bin/python -m benchmarks --only audit_consume
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from isp_audit import guard
from isp_audit.handlers import READ_AHEAD, by_topic
from isp_audit.ledger import AlertsLedger
from isp_audit.settings import Settings
from isp_audit.tables import AlertSeen
from isp_common import pgroles, provenance
from isp_common.clock import SystemClock
from isp_common.consumer import EventProcessor
from isp_common.db import UnitOfWork, make_engine
from isp_common.eventkeys import ensure_signer
from isp_common.launcher import EmbeddedBroker, free_port
from isp_common.outbox import outbox_headers
from isp_common.tables import OutboxMessage
from isp_common.trust import trust_for
from isp_schemas import topics
from isp_schemas.alerts import DidNotAttendAlert
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from .pipeline import NoDeadLetters, people

CSC = "WSCC-CSC"


def disclosure_messages(n: int, signer: provenance.Signer) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """``n`` signed disclosure records of shared DNA alerts, as notifications' relay publishes them."""
    now, messages = datetime.now(UTC), []
    for i, person in enumerate(people(n)):
        nhs = person.nhs_number
        record = DisclosureRecorded(
            alert_id=str(uuid.uuid4()),
            alert_type=DidNotAttendAlert.event_type,
            decision="shared",
            discloser="CGL-WSX",
            recipient=CSC,
            person=nhs,
            children=[{"local_id": f"WSCC-C-{i}", "date_of_birth": "2019-03-14"}],
            purpose="safeguarding",
            data_categories=["attendance"],
            lawful_basis={"kind": "consent", "consent_id": f"con-{i}"},
            source_event_id=str(uuid.uuid4()),
            channel="kafka",
            trace_id=uuid.uuid4().hex,
            shared_at=now,
            provenance="signed",
        )
        event = CloudEvent.create(type=record.event_type, source_org="CGL-WSX", data=record, subject=nhs)
        row = OutboxMessage(
            topic=topics.AUDIT,
            key=nhs,
            event_id=event.id,
            event_type=event.type,
            value=event.to_json_bytes(),
            traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
        )
        messages.append((nhs.encode(), row.value, outbox_headers(row, signer)))
    return messages


def audit_database(workdir: Path, name: str) -> Engine:
    engine = make_engine(f"sqlite:///{workdir / name}")
    pgroles.migrate(engine, "audit", None)  # the service's own tables, as it starts
    guard.protect(engine)
    return engine


async def records(n: int, batch: int, workdir: Path) -> float:
    """CPU seconds per disclosure record through the consumer, after a first batch to warm up."""
    engine = audit_database(workdir, f"records-{batch}.db")
    keys = workdir / "keys"
    signer = ensure_signer(keys / "notifications.jwk", create=True)
    trust = trust_for(engine, keys, allow_unsigned=False)

    def check(value: bytes, headers: list[tuple[str, bytes]], event: CloudEvent) -> str:
        return provenance.check(value, headers, event.source_org, event.type, event.data, trust)

    deadletters: Any = NoDeadLetters()  # has the one method the processor calls
    consumer = EventProcessor(
        f"audit:{topics.AUDIT}",
        by_topic(SystemClock())[topics.AUDIT],
        lambda: UnitOfWork(engine),
        deadletters,
        provenance=check,
        prefetch=READ_AHEAD[topics.AUDIT],
    )
    messages = disclosure_messages(n + batch, signer)
    assert set(await consumer.process_batch(messages[:batch], topics.AUDIT)) == {"handled"}
    started = time.process_time()
    for start in range(batch, len(messages), batch):
        assert set(await consumer.process_batch(messages[start : start + batch], topics.AUDIT)) == {"handled"}
    return (time.process_time() - started) / n


def alert_values(n: int) -> list[bytes]:
    values = []
    for _ in range(n):
        data = {**EXAMPLES[DidNotAttendAlert.event_type], "alert_id": str(uuid.uuid4())}
        alert = DidNotAttendAlert.model_validate(data)
        values.append(CloudEvent.create(type=alert.event_type, source_org="CGL-WSX", data=alert).to_json_bytes())
    return values


async def publish(bootstrap: str, values: list[bytes], rate: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    started = time.monotonic()
    for i, value in enumerate(values):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        await producer.send(topics.alerts(CSC), value, key=str(i % 50).encode())
    await producer.flush()
    await producer.stop()


async def ledger(n: int, rate: float, bootstrap: str, workdir: Path) -> tuple[float, float]:
    """(CPU seconds of this process per alert, mean alerts per batch) of the ledger as the service runs it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topics.alerts(CSC), 6, 1)])
    await admin.close()
    engine = audit_database(workdir, "ledger.db")
    settings = Settings()
    batches = 0

    class Counted(AlertsLedger):
        def _note_and_commit(self, messages: list[tuple[str, bytes | None]]) -> None:
            nonlocal batches
            batches += 1
            super()._note_and_commit(messages)

    alerts = Counted(
        bootstrap,
        "bench-alerts-ledger",
        lambda: UnitOfWork(engine),
        1000,
        SystemClock(),
        fetch_min_bytes=settings.alerts_fetch_min_bytes,
        fetch_max_wait_ms=settings.alerts_fetch_max_wait_ms,
    )
    task = asyncio.create_task(alerts.run())
    await asyncio.sleep(3)  # joined its group
    values = alert_values(n)
    child = os.fork()
    if child == 0:  # pragma: no cover - the publishing child
        asyncio.run(publish(bootstrap, values, rate))
        os._exit(0)
    started, noted = time.process_time(), 0
    with engine.connect() as connection:
        while noted < n:
            await asyncio.sleep(0.1)
            noted = connection.execute(select(func.count()).select_from(AlertSeen)).scalar_one()
            connection.rollback()
    cpu = time.process_time() - started
    os.waitpid(child, 0)
    task.cancel()
    return cpu / n, n / max(batches, 1)


def run(n: int = 4_000) -> None:
    with tempfile.TemporaryDirectory(prefix="isp-bench-audit-") as tmp:
        workdir = Path(tmp)
        for batch in (200, 46):
            per_record = asyncio.run(records(n, batch, workdir))
            print(f"audit disclosure records (signed, batches of {batch}): {per_record * 1e6:.0f} µs CPU per record")
        broker = EmbeddedBroker(port=free_port(), log_path=workdir / "broker.log")
        broker.start()
        try:
            per_alert, per_batch = asyncio.run(ledger(n, 600.0, broker.bootstrap, workdir))
        finally:
            broker.stop()
        print(f"audit alerts ledger (600 alerts/s): {per_alert * 1e6:.0f} µs CPU per alert, {per_batch:.0f} a batch")


if __name__ == "__main__":
    run()
