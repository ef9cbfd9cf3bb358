"""The relay is woken by every commit, including one made while it is publishing a batch: those rows
go out as soon as that batch is done, not after the poll interval (a wake that came during a batch
was once cleared with it, and the last rows of a burst waited up to 200 ms for nothing)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.outbox import OutboxRelay
from isp_common.testing import unique
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person


def event(i: int) -> CloudEvent:
    data = ConsentWithdrawn(consent_id=f"con-{i}", person=Person(nhs_number="9434765919"), withdrawn_on="2026-11-02")
    return CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=unique(f"e{i}-"))


class HeldProducer:
    """Takes every send at once, but holds the first until :attr:`release` is set."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.first_held = asyncio.Event()
        self.release = asyncio.Event()
        self.changed = asyncio.Event()

    async def send(self, topic: str, *, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
        if not self.sent and not self.release.is_set():
            self.first_held.set()
            await self.release.wait()
        self.sent.append(dict(headers)["ce_id"].decode())
        self.changed.set()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def until_sent(self, ids: set[str]) -> None:
        while not ids <= set(self.sent):
            self.changed.clear()
            await self.changed.wait()


class NoAdmin:
    async def ensure(self, topics: set[str]) -> None:
        return None


def commit(engine: Any, e: CloudEvent) -> None:
    with UnitOfWork(engine) as uow:
        uow.publish(e, "t")
        uow.commit()


async def test_rows_committed_while_a_batch_is_out_are_published_without_waiting_for_the_poll(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    create_schema(engine)
    producer = HeldProducer()
    # a poll interval far longer than the test waits: only a wake can publish the second row in time
    relay = OutboxRelay(engine, producer, NoAdmin(), poll_interval=60.0)  # type: ignore[arg-type]  # stand-ins
    first, second = event(1), event(2)
    commit(engine, first)
    relay.start()
    try:
        await asyncio.wait_for(producer.first_held.wait(), timeout=10)  # the first batch is out
        commit(engine, second)
        relay.wake()  # as the runtime does after each commit
        producer.release.set()
        await asyncio.wait_for(producer.until_sent({first.id, second.id}), timeout=10)
        assert producer.sent == [first.id, second.id]
    finally:
        await relay.stop()
