"""The outbox relay against the real broker (embedded Tansu, or ISP_KAFKA_BOOTSTRAP)."""

from __future__ import annotations

import json

import pytest
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.kafka_clients import TopicAdmin, new_producer
from isp_common.outbox import OutboxRelay
from isp_common.tables import OutboxMessage
from isp_common.testing import unique
from isp_common.testing.e2e import wait_for
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from sqlmodel import select

pytestmark = pytest.mark.integration


def event(i: int, nhs: str = "9434765919") -> CloudEvent:
    data = ConsentWithdrawn(consent_id=f"con-{i}", person=Person(nhs_number=nhs), withdrawn_on="2026-11-02")
    return CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=unique(f"e{i}-"))


async def relay_for(engine, bootstrap):
    admin = TopicAdmin(bootstrap, partitions=3, replication=1)
    await admin.start()
    producer = new_producer(bootstrap, "test-relay")
    await producer.start()
    return OutboxRelay(engine, producer, admin, batch_size=50), producer, admin


async def publish_and_read(engine, broker_bootstrap, kafka, topic: str, n: int):
    with UnitOfWork(engine) as uow:
        for i in range(n):
            uow.publish(event(i), topic)
        uow.commit()
    relay, producer, admin = await relay_for(engine, broker_bootstrap)
    try:
        sent = 0
        while (batch := await relay.flush()) > 0:
            sent += batch
    finally:
        await producer.stop()
        await admin.stop()
    records = await kafka.collect(topic, lambda r: True, count=n, timeout=30)
    return sent, records


async def test_relay_publishes_committed_rows_in_order_with_headers_and_marks_them_sent(
    sqlite_or_postgres_url, broker_bootstrap, kafka
):
    engine = make_engine(sqlite_or_postgres_url)
    create_schema(engine)
    topic = unique("test.outbox.")
    sent, records = await publish_and_read(engine, broker_bootstrap, kafka, topic, 120)
    assert sent == 120
    assert len(records) == 120
    # one key (one person): one partition, in the order written
    assert [json.loads(r.value)["data"]["consent_id"] for r in records] == [f"con-{i}" for i in range(120)]
    headers = dict(records[0].headers)
    assert headers["content-type"] == b"application/cloudevents+json"
    assert records[0].key == b"9434765919"
    with UnitOfWork(engine) as uow:
        assert all(r.sent_at is not None for r in uow.session.exec(select(OutboxMessage)))


async def test_a_restarted_relay_does_not_resend_rows_already_sent(broker_bootstrap, kafka, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    create_schema(engine)
    topic = unique("test.outbox.")
    await publish_and_read(engine, broker_bootstrap, kafka, topic, 5)
    relay, producer, admin = await relay_for(engine, broker_bootstrap)  # "restart"
    try:
        assert await relay.flush() == 0
    finally:
        await producer.stop()
        await admin.stop()
    assert len(await kafka.read_all(topic)) == 5


async def test_of_two_relay_replicas_one_publishes_and_the_other_takes_over_when_it_stops(
    broker_bootstrap, kafka, sqlite_or_postgres_url
):
    # on PostgreSQL an advisory lock; on a SQLite file a lock on a file next to it (a second
    # process started on the same file by mistake must not publish every row again)
    from isp_common.leader import Leadership

    engine = make_engine(sqlite_or_postgres_url)
    create_schema(engine)
    first, second = Leadership(engine, "test:relay"), Leadership(engine, "test:relay")
    assert first.held() and not second.held()
    assert first.held()  # still leads on the next check
    first.release()
    assert second.held() and not first.held()
    second.release()

    topic = unique("test.outbox.")
    relays = []
    for _ in range(2):
        relay, producer, admin = await relay_for(engine, broker_bootstrap)
        relay.poll_interval = 0.05
        relays.append((relay, producer, admin))
    try:
        for relay, _, _ in relays:
            relay.start()
        with UnitOfWork(engine) as uow:
            for i in range(50):
                uow.publish(event(i), topic)
            uow.commit()
        records = await kafka.collect(topic, lambda r: True, count=50, timeout=30)
        assert [json.loads(r.value)["data"]["consent_id"] for r in records] == [f"con-{i}" for i in range(50)]
        # a relay counts rows once it has marked them sent, just after the broker has them
        await wait_for(lambda: sum(r.published for r, _, _ in relays) == 50, timeout=30, interval=0.02)
        leaders = [r for r, _, _ in relays if r.published]
        assert len(leaders) == 1, "exactly one replica published"
        await leaders[0].stop()  # the leader goes: the other takes over
        with UnitOfWork(engine) as uow:
            uow.publish(event(50), topic)
            uow.commit()
        records = await kafka.collect(topic, lambda r: True, count=51, timeout=30)
        assert len(records) == 51
    finally:
        for relay, producer, admin in relays:
            await relay.stop()
            await producer.stop()
            await admin.stop()
    assert len(await kafka.read_all(topic)) == 51  # both stopped: nothing was published twice


async def test_a_row_larger_than_the_broker_takes_does_not_stop_the_rows_behind_it(
    broker_bootstrap, kafka, tmp_path, caplog
):
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    create_schema(engine)
    topic = unique("test.outbox.")
    huge = event(1)
    huge_bytes = huge.to_json_bytes().replace(b'"con-1"', b'"con-1' + b"x" * 2_000_000 + b'"')
    with UnitOfWork(engine) as uow:
        uow.publish(event(0), topic)
        uow.session.add(
            OutboxMessage(topic=topic, key="9434765919", event_id=huge.id, event_type=huge.type, value=huge_bytes)
        )
        uow.publish(event(2), topic)
        uow.commit()
    relay, producer, admin = await relay_for(engine, broker_bootstrap)
    try:
        handled = 0
        while (batch := await relay.flush()) > 0:
            handled += batch
    finally:
        await producer.stop()
        await admin.stop()
    assert handled == 3 and relay.published == 2 and relay.given_up == 1
    records = await kafka.collect(topic, lambda r: True, count=2, timeout=30)
    assert [json.loads(r.value)["data"]["consent_id"] for r in records] == ["con-0", "con-2"]
    assert huge.id in caplog.text and "xxxx" not in caplog.text  # named by id, never by content
    with UnitOfWork(engine) as uow:
        assert all(r.sent_at is not None for r in uow.session.exec(select(OutboxMessage)))


async def test_on_postgresql_a_commit_in_another_replica_wakes_the_leading_relay_at_once(
    broker_bootstrap, kafka, postgres_url
):
    """The leading relay LISTENs for ``NOTIFY isp_outbox``: rows another replica committed (its
    in-process wake cannot reach this relay) are published without waiting for the poll."""
    import asyncio

    engine = make_engine(postgres_url)
    create_schema(engine)
    relay, producer, admin = await relay_for(engine, broker_bootstrap)
    relay.poll_interval = 600.0  # only a wake can publish within this test
    topic = unique("test.outbox.")
    relay.start()
    try:
        await asyncio.wait_for(relay.listening.wait(), timeout=30)
        while relay._wake.is_set():  # the wake on listening taken: the relay now waits for the next
            await asyncio.sleep(0.01)
        with UnitOfWork(engine) as uow:  # no on_commit: as another replica's commit
            uow.publish(event(0), topic)
            uow.commit()
        records = await kafka.collect(topic, lambda r: True, count=1, timeout=20)
        assert len(records) == 1
        assert relay.published == 1
    finally:
        await relay.stop()
        await producer.stop()
        await admin.stop()
    assert not relay.listening.is_set()


async def test_a_listening_connection_refused_is_opened_again(postgres_url, monkeypatch, caplog):
    """A refused or lost listening connection costs latency, never rows (the poll goes on), and is
    opened again."""
    import asyncio
    import contextlib

    import psycopg

    engine = make_engine(postgres_url)
    create_schema(engine)
    relay = OutboxRelay(engine, producer=None, admin=None)  # type: ignore[arg-type]  # only its listener runs
    tries: list[str] = []
    connect = psycopg.AsyncConnection.connect

    async def refused_once(*args, **kwargs):
        tries.append("try")
        if len(tries) == 1:
            raise psycopg.OperationalError("refused")
        return await connect(*args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", refused_once)
    listener = asyncio.ensure_future(relay._listen(retry_after=0.05))
    try:
        await asyncio.wait_for(relay.listening.wait(), timeout=30)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    assert len(tries) == 2
    assert "not listening for commits (OperationalError)" in caplog.text
    assert postgres_url.split("@")[0] not in caplog.text  # no credentials in the log
