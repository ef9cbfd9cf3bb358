"""A published outbox row is a copy of its event (personal data and all) that the broker holds: the
relay deletes it ``sent_retention`` after it was published, a chunk per transaction; rows not yet
published and quarantined rows stay, however old."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.outbox import OutboxRelay, PendingRow, pending_rows, prune_sent
from isp_common.settings import ServiceSettings
from isp_common.tables import OutboxMessage, QuarantinedOutboxMessage
from isp_common.testing import unique
from isp_common.times import utcnow
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from pydantic import ValidationError
from sqlmodel import Session, col, select

NHS = "9434765919"


def event(i: int) -> CloudEvent:
    data = ConsentWithdrawn(consent_id=f"con-{i}", person=Person(nhs_number=NHS), withdrawn_on="2026-11-02")
    return CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=unique(f"e{i}-"))


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    create_schema(engine)
    return engine


@pytest.fixture
def either_engine(sqlite_or_postgres_url):
    engine = make_engine(sqlite_or_postgres_url)
    create_schema(engine)
    return engine


def publish(engine, n: int) -> None:
    with UnitOfWork(engine) as uow:
        for i in range(n):
            uow.publish(event(i), "t")
        uow.commit()


def rows(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def mark_sent(engine, ids: list[int], hours_ago: float) -> None:
    with Session(engine) as session:
        for row in session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))):
            row.sent_at = utcnow() - timedelta(hours=hours_ago)
            session.add(row)
        session.commit()


class Acknowledging:
    """A producer whose every send the broker acknowledges at once."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, topic: str, **_kw: Any) -> asyncio.Future[None]:
        self.sent.append(topic)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class NoAdmin:
    async def ensure(self, topics: set[str]) -> None:
        return None


def test_only_rows_published_before_the_cut_go_oldest_first_a_chunk_at_a_time(either_engine):
    engine = either_engine
    publish(engine, 6)
    ids = [row.id for row in rows(engine)]
    assert None not in ids
    mark_sent(engine, ids[:3], hours_ago=30)  # past a day
    mark_sent(engine, ids[3:5], hours_ago=1)  # published lately
    # ids[5]: not yet published; made old on purpose, it must stay all the same
    with Session(engine) as session:
        last = session.get(OutboxMessage, ids[5])
        assert last is not None
        last.created_at = utcnow() - timedelta(days=30)
        session.add(last)
        session.add(
            QuarantinedOutboxMessage(
                outbox_id=99,
                topic="t",
                event_id="held",
                event_type="x",
                value=b"{}",
                created_at=utcnow() - timedelta(days=30),
                reason="refused",
            )
        )
        session.commit()
    cut = utcnow() - timedelta(hours=24)
    assert prune_sent(engine, cut, limit=2) == 2
    assert [row.id for row in rows(engine)] == ids[2:]  # the oldest first
    assert prune_sent(engine, cut, limit=2) == 1
    assert prune_sent(engine, cut, limit=2) == 0
    left = rows(engine)
    assert [row.id for row in left] == ids[3:]
    assert [row.sent_at is None for row in left] == [False, False, True]
    with Session(engine) as session:
        assert len(session.exec(select(QuarantinedOutboxMessage)).all()) == 1


async def test_the_relay_prunes_what_it_published_once_its_retention_has_passed(engine, monkeypatch):
    monkeypatch.setattr("isp_common.outbox.PRUNE_CHUNK", 2)  # several chunks, one transaction each
    publish(engine, 5)
    producer = Acknowledging()
    keep = OutboxRelay(engine, producer, NoAdmin(), sent_retention=timedelta(hours=24))  # type: ignore[arg-type]  # stand-ins
    assert await keep.flush() == 5 and len(producer.sent) == 5
    assert await keep.prune() == 0  # published just now: kept
    assert len(rows(engine)) == 5 and all(row.sent_at is not None for row in rows(engine))

    publish(engine, 1)  # not yet published: never pruned
    relay = OutboxRelay(engine, producer, NoAdmin(), sent_retention=timedelta(0))  # type: ignore[arg-type]
    assert await relay.prune() == 5 and relay.pruned == 5
    (left,) = rows(engine)
    assert left.sent_at is None


async def test_a_backlog_is_pruned_a_few_chunks_at_a_time_and_what_waits_is_published_between(engine, monkeypatch):
    monkeypatch.setattr("isp_common.outbox.PRUNE_CHUNK", 2)
    monkeypatch.setattr("isp_common.outbox.PRUNE_CHUNKS_AT_A_TIME", 2)
    publish(engine, 5)
    ids = [row.id for row in rows(engine)]
    mark_sent(engine, [i for i in ids if i is not None], hours_ago=48)  # a backlog, as after an upgrade
    producer = Acknowledging()
    relay = OutboxRelay(engine, producer, NoAdmin(), sent_retention=timedelta(hours=24))  # type: ignore[arg-type]  # stand-ins
    assert await relay.prune() == 4  # two chunks of two: this turn's share
    publish(engine, 1)
    assert await relay.flush() == 1 and len(producer.sent) == 1  # published between two turns
    assert await relay.prune() == 1  # the rest of the backlog; the row just published is kept
    (left,) = rows(engine)
    assert left.id not in ids and left.sent_at is not None


async def test_the_running_relay_publishes_then_prunes_between_batches(engine):
    publish(engine, 3)
    relay = OutboxRelay(
        engine,
        Acknowledging(),  # type: ignore[arg-type]  # a stand-in producer
        NoAdmin(),  # type: ignore[arg-type]
        poll_interval=0.01,
        sent_retention=timedelta(0),
        prune_every=0.01,
    )
    relay.start()
    try:
        for _ in range(500):
            if relay.published == 3 and not rows(engine):
                break
            await asyncio.sleep(0.01)
    finally:
        await relay.stop()
    assert relay.published == 3 and relay.pruned == 3 and rows(engine) == []


async def test_a_relay_without_a_retention_keeps_every_row(engine):
    publish(engine, 2)
    relay = OutboxRelay(engine, Acknowledging(), NoAdmin())  # type: ignore[arg-type]  # stand-ins
    assert await relay.flush() == 2
    assert await relay.prune() == 0 and len(rows(engine)) == 2


def test_the_retention_is_a_day_by_default_and_must_be_positive(tmp_path, monkeypatch):
    settings = ServiceSettings(var_dir=tmp_path)
    assert settings.outbox_sent_retention_hours == 24 and settings.outbox_prune_interval == 300
    monkeypatch.setenv("ISP_OUTBOX_SENT_RETENTION_HOURS", "0")
    with pytest.raises(ValidationError, match="ISP_OUTBOX_SENT_RETENTION_HOURS"):
        ServiceSettings(var_dir=tmp_path)


def test_the_relay_reads_unsent_rows_oldest_first_as_plain_values(either_engine):
    """The relay reads what it publishes as plain tuples (no ORM objects): only rows not yet sent,
    oldest first, at most the batch, with every field the row was written with."""
    publish(either_engine, 5)
    written = rows(either_engine)
    mark_sent(either_engine, [written[1].id], hours_ago=0)
    pending = pending_rows(either_engine, limit=3)
    assert [row.id for row in pending] == [written[0].id, written[2].id, written[3].id]
    first = pending[0]
    assert isinstance(first, PendingRow)
    assert (first.topic, first.key, first.event_id, first.event_type, first.value, first.created_at) == (
        written[0].topic,
        written[0].key,
        written[0].event_id,
        written[0].event_type,
        written[0].value,
        written[0].created_at,
    )
    assert [row.id for row in pending_rows(either_engine, limit=10)] == [r.id for r in written if r.id != written[1].id]
