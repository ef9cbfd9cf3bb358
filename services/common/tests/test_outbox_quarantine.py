"""The relay never blocks on one row (issue 11 item 4): a row the broker refuses for good, or one
failing ``max_attempts`` times in a row, is moved to ``outbox_quarantine`` and the rows behind it
flow on; errors that say the broker is unreachable never count against a row; an operator puts a
row back with ``release``; the quarantine is a metric; every service's migration builds the table."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import errors as kafka_errors
from aiokafka.errors import KafkaConnectionError, NotEnoughReplicasError
from alembic import command
from isp_common import migrations
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.kafka_clients import TopicAdmin, new_producer
from isp_common.outbox import OutboxRelay, quarantined, refused_for_good, release
from isp_common.tables import OutboxMessage, QuarantinedOutboxMessage
from isp_common.testing import unique
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from sqlalchemy import inspect
from sqlmodel import Session, col, select

NHS = "9434765919"


def event(i: int) -> CloudEvent:
    data = ConsentWithdrawn(consent_id=f"con-{i}", person=Person(nhs_number=NHS), withdrawn_on="2026-11-02")
    return CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=unique(f"e{i}-"))


def consent_ids(records: list[Any]) -> list[str]:
    return [json.loads(r.value)["data"]["consent_id"] for r in records]


def outbox_rows(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    create_schema(engine)
    return engine


# -- against the embedded broker ------------------------------------------------------------------


class Poisoned:
    """The real producer, except that one event's sends fail with a retriable error."""

    def __init__(self, producer, event_id: str) -> None:
        self.producer, self.event_id, self.failures = producer, event_id, 0

    async def send(self, topic: str, *, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]):
        if ("ce_id", self.event_id.encode()) in headers:
            self.failures += 1
            raise NotEnoughReplicasError("the topic has too few in-sync replicas")
        return await self.producer.send(topic, value=value, key=key, headers=headers)


async def relay_for(engine, bootstrap: str, poisoned: str | None = None, max_attempts: int = 10):
    admin = TopicAdmin(bootstrap, partitions=3, replication=1)
    await admin.start()
    producer = new_producer(bootstrap, "test-quarantine")
    await producer.start()
    sender = Poisoned(producer, poisoned) if poisoned else producer
    relay = OutboxRelay(engine, sender, admin, batch_size=50, max_attempts=max_attempts)  # type: ignore[arg-type]  # Poisoned has the one method the relay calls

    async def close() -> None:
        await producer.stop()
        await admin.stop()

    return relay, close


async def drain(relay: OutboxRelay) -> None:
    """Flush until nothing is left, trying failed flushes again as the relay's loop does (at most 20)."""
    for _ in range(20):
        try:
            if await relay.flush() == 0:
                return
        except NotEnoughReplicasError:
            continue
    raise AssertionError("the relay never drained")


@pytest.mark.integration
async def test_a_2mb_row_is_quarantined_and_the_rows_behind_it_audit_records_included_are_published_in_order(
    engine, broker_bootstrap, kafka, caplog
):
    topic, audit_topic = unique("test.quarantine."), unique("test.quarantine.audit.")
    huge = event(1)
    huge_bytes = huge.to_json_bytes().replace(b'"con-1"', b'"con-1' + b"x" * 2_000_000 + b'"')
    audit_ids = [unique("audit-") for _ in range(2)]
    with UnitOfWork(engine) as uow:
        uow.publish(event(0), topic)
        uow.session.add(OutboxMessage(topic=topic, key=NHS, event_id=huge.id, event_type=huge.type, value=huge_bytes))
        uow.publish(event(2), topic)
        for audit_id in audit_ids:
            uow.session.add(
                OutboxMessage(
                    topic=audit_topic,
                    key=audit_id,
                    event_id=audit_id,
                    event_type=DisclosureRecorded.event_type,
                    value=json.dumps({"id": audit_id}).encode(),
                )
            )
        uow.publish(event(3), topic)
        uow.commit()
    relay, close = await relay_for(engine, broker_bootstrap)
    try:
        with caplog.at_level(logging.ERROR, logger="isp_common.outbox"):
            await drain(relay)
    finally:
        await close()
    assert relay.published == 5 and relay.given_up == 1
    assert consent_ids(await kafka.collect(topic, lambda r: True, count=3, timeout=30)) == ["con-0", "con-2", "con-3"]
    audit = await kafka.collect(audit_topic, lambda r: True, count=2, timeout=30)
    # each audit row has its own key, so its own partition: Kafka orders per key, not across them
    assert sorted(json.loads(r.value)["id"] for r in audit) == sorted(audit_ids)
    [held] = quarantined(engine)
    assert (held.event_id, held.topic, held.key, held.value) == (huge.id, topic, NHS, huge_bytes)
    assert held.reason == "refused by the broker: MessageSizeTooLargeError"
    assert huge.id not in {r.event_id for r in outbox_rows(engine)}  # moved, not copied
    assert all(r.sent_at is not None for r in outbox_rows(engine))
    [logged] = [r for r in caplog.records if "quarantined" in r.getMessage()]
    assert huge.id in logged.getMessage() and str(len(huge_bytes)) in logged.getMessage()
    assert "xxxx" not in caplog.text and NHS not in caplog.text  # named by id, type and size, never by content


@pytest.mark.integration
async def test_a_row_failing_n_times_in_a_row_is_quarantined_and_release_puts_it_back(engine, broker_bootstrap, kafka):
    topic = unique("test.quarantine.")
    events = [event(i) for i in range(4)]
    with UnitOfWork(engine) as uow:
        for e in events:
            uow.publish(e, topic)
        uow.commit()
    relay, close = await relay_for(engine, broker_bootstrap, poisoned=events[1].id, max_attempts=3)
    try:
        await drain(relay)
        assert (relay.published, relay.given_up, relay.producer.failures) == (3, 1, 3)  # type: ignore[attr-defined]  # the Poisoned stand-in counts
    finally:
        await close()
    [held] = quarantined(engine)
    assert held.event_id == events[1].id
    assert held.reason == "failed 3 times in a row (last: NotEnoughReplicasError)"
    records = await kafka.collect(topic, lambda r: True, count=3, timeout=30)
    assert consent_ids(records) == ["con-0", "con-2", "con-3"]

    new_id = release(engine, held.id)  # the cause fixed: a relay whose sends succeed
    assert quarantined(engine) == []
    assert [(r.id, r.sent_at) for r in outbox_rows(engine) if r.event_id == events[1].id] == [(new_id, None)]
    relay, close = await relay_for(engine, broker_bootstrap)
    try:
        await drain(relay)
        assert relay.published == 1
    finally:
        await close()
    records = await kafka.collect(topic, lambda r: True, count=4, timeout=30)
    assert consent_ids(records) == ["con-0", "con-2", "con-3", "con-1"]
    assert dict(records[-1].headers)["ce_id"] == events[1].id.encode()
    assert len(await kafka.read_all(topic)) == 4  # nothing published twice


# -- without a broker -----------------------------------------------------------------------------


@dataclass
class FailingProducer:
    """Every send fails with ``error``, as when the broker is down."""

    error: Exception
    sends: list[str] = field(default_factory=list)

    async def send(self, topic: str, **_kw: Any) -> asyncio.Future[None]:
        self.sends.append(topic)
        raise self.error


class NoAdmin:
    async def ensure(self, topics: set[str]) -> None:
        return None


@pytest.mark.parametrize(
    ("error", "for_good"),
    [
        (kafka_errors.MessageSizeTooLargeError, True),
        (kafka_errors.RecordTooLargeError, True),
        (kafka_errors.InvalidTopicError, True),
        (kafka_errors.CorruptRecordException, True),
        (kafka_errors.NotEnoughReplicasError, False),  # retriable: counted towards max_attempts
        (kafka_errors.TopicAuthorizationFailedError, False),  # an ACL an operator may fix: counted
        (kafka_errors.KafkaTimeoutError, False),  # the broker, not the row: never counted
        (kafka_errors.SaslAuthenticationFailed, False),
        (kafka_errors.UnknownError, False),
        (ValueError, False),
    ],
)
def test_only_errors_about_the_row_itself_refuse_it_for_good(error, for_good):
    assert refused_for_good(error("detail")) is for_good


async def test_a_broker_that_cannot_be_reached_quarantines_nothing(engine):
    with UnitOfWork(engine) as uow:
        uow.publish(event(0), "t")
        uow.commit()
    producer = FailingProducer(KafkaConnectionError("no route to broker"))
    relay = OutboxRelay(engine, producer, NoAdmin(), max_attempts=2)  # type: ignore[arg-type]  # stand-ins
    for _ in range(5):
        with pytest.raises(KafkaConnectionError):
            await relay.flush()
    assert len(producer.sends) == 5 and quarantined(engine) == [] and relay.given_up == 0
    assert [r.sent_at for r in outbox_rows(engine)] == [None]


async def test_release_puts_a_quarantined_row_back_at_the_end_of_the_outbox(engine, caplog):
    held = QuarantinedOutboxMessage(
        outbox_id=7,
        topic="t",
        key=NHS,
        event_id="e-held",
        event_type="uk.isp.x.v1",
        value=b'{"secret": "content"}',
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        created_at=event(0).time,
        reason="refused by the broker: MessageSizeTooLargeError",
    )
    with UnitOfWork(engine) as uow:
        uow.publish(event(0), "t")
        uow.commit()
    with Session(engine, expire_on_commit=False) as session:
        session.add(held)
        session.commit()
    assert held.id is not None
    with caplog.at_level(logging.WARNING, logger="isp_common.outbox"):
        new_id = release(engine, held.id)
    first, back = outbox_rows(engine)
    assert back.id == new_id > first.id
    assert (back.topic, back.key, back.event_id, back.event_type, back.value, back.traceparent, back.sent_at) == (
        held.topic,
        held.key,
        held.event_id,
        held.event_type,
        held.value,
        held.traceparent,
        None,
    )
    assert quarantined(engine) == []
    assert "e-held" in caplog.text and "content" not in caplog.text
    with pytest.raises(LookupError):
        release(engine, held.id)  # released once only


def test_the_rows_in_quarantine_are_a_metric_read_at_scrape_time(runtime):
    def gauge() -> float | None:
        return runtime.metrics.registry.get_sample_value("isp_outbox_quarantined", {"service": runtime.name})

    assert gauge() == 0
    with runtime.uow() as uow:
        for i in range(2):
            uow.session.add(
                QuarantinedOutboxMessage(
                    outbox_id=i,
                    topic="t",
                    event_id=f"e{i}",
                    event_type="x",
                    value=b"{}",
                    created_at=event(i).time,
                    reason="failed 10 times in a row (last: NotEnoughReplicasError)",
                )
            )
        uow.commit()
    assert gauge() == 2


# -- every service's migration --------------------------------------------------------------------

QUARANTINE_REVISIONS = {  # the revision that adds the table, and the one before it
    "isp_referrals": ("f1a3c5e7b901", "e2b1d8f6a102"),
    "isp_register": ("f2a3c5e7b902", "e7c9b1d3f502"),
    "isp_notifications": ("f3a3c5e7b903", "e2b1d8f6a002"),
    "isp_audit": ("f4a3c5e7b904", "e5f7a9c1d324"),
    "isp_gateway": ("f5a3c5e7b905", "0e0c00e8dca7"),
}


def table_shape(engine) -> tuple[dict[str, bool], set[str]]:
    found = inspect(engine)
    columns = {c["name"]: c["nullable"] for c in found.get_columns("outbox_quarantine")}
    return columns, {i["name"] for i in found.get_indexes("outbox_quarantine")}


@pytest.mark.parametrize("package", sorted(QUARANTINE_REVISIONS))
def test_each_services_migration_builds_the_quarantine_table_the_model_declares_and_downgrades(
    package, sqlite_or_postgres_url
):
    engine = make_engine(sqlite_or_postgres_url)
    revision, before = QUARANTINE_REVISIONS[package]
    command.upgrade(migrations.config(package, engine), revision)
    model = QuarantinedOutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table models
    columns, indexes = table_shape(engine)
    assert columns == {c.name: c.nullable for c in model.columns}
    assert indexes == {i.name for i in model.indexes}
    command.downgrade(migrations.config(package, engine), before)
    assert "outbox_quarantine" not in inspect(engine).get_table_names()
    command.upgrade(migrations.config(package, engine), revision)
    assert "outbox_quarantine" in inspect(engine).get_table_names()
    engine.dispose()
