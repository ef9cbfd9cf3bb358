"""faust's consumer as the services run it delivers each fetched batch in one race against a
rebalance (``isp_common.kafka._BatchDeliveryConsumer``), keeping faust's per-message rules: in
order, messages behind the read offset dropped, read offsets moved on, gaps noted in acknowledged
topics."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from isp_common.kafka import _BatchDeliveryConsumer


def consumer(acks: bool = False) -> Any:
    fake = SimpleNamespace(
        delivered=[],
        gaps=[],
        _read_offset=defaultdict(lambda: None),
        _commit_every=None,
        _n_acked=0,
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda _topic: acks)),
    )

    async def callback(message: Any) -> None:
        fake.delivered.append((message.partition, message.offset))

    async def add_gap(tp: Any, start: int, end: int) -> None:
        fake.gaps.append((tp, start, end))

    fake.callback, fake._add_gap = callback, add_gap
    return fake


def fetched(*items: tuple[str, int]) -> list[tuple[str, Any]]:
    return [(tp, SimpleNamespace(topic="t", partition=tp, offset=offset)) for tp, offset in items]


def deliver(fake: Any, *items: tuple[str, int]) -> None:
    asyncio.run(_BatchDeliveryConsumer._deliver(fake, fetched(*items)))


def test_a_batch_is_delivered_in_order_and_moves_the_read_offsets() -> None:
    fake = consumer()
    deliver(fake, ("p0", 0), ("p1", 5), ("p0", 1), ("p1", 6))
    assert fake.delivered == [("p0", 0), ("p1", 5), ("p0", 1), ("p1", 6)]
    assert dict(fake._read_offset) == {"p0": 1, "p1": 6}


def test_messages_behind_the_read_offset_are_dropped_as_faust_drops_them() -> None:
    fake = consumer()
    fake._read_offset["p0"] = 10
    deliver(fake, ("p0", 9), ("p0", 10), ("p0", 11))
    assert fake.delivered == [("p0", 10), ("p0", 11)]


def test_a_gap_in_an_acknowledged_topic_is_noted_and_not_otherwise() -> None:
    acked = consumer(acks=True)
    acked._read_offset["p0"] = 3
    deliver(acked, ("p0", 7))
    assert acked.gaps == [("p0", 4, 7)] and acked.delivered == [("p0", 7)]
    plain = consumer(acks=False)
    plain._read_offset["p0"] = 3
    deliver(plain, ("p0", 7))
    assert plain.gaps == []


def test_a_long_batch_yields_to_the_loop() -> None:
    fake = consumer()
    ticks = 0

    async def run() -> None:
        nonlocal ticks

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        await _BatchDeliveryConsumer._deliver(fake, fetched(*(("p0", i) for i in range(450))))
        task.cancel()

    asyncio.run(run())
    assert len(fake.delivered) == 450
    assert ticks >= 4  # the loop ran other tasks while the batch was delivered
