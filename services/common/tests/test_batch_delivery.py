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


def fetching(records: dict[str, list[int]], flow_active: bool = True) -> Any:
    """A consumer whose next fetch returns ``records`` (partition -> offsets)."""
    fake = SimpleNamespace(
        should_stop=False,
        flow_active=flow_active,
        _buffered_partitions=set(),
        app=SimpleNamespace(consumer_generation_id=1, monitor=SimpleNamespace(ends={})),
        highwaters=[],
        seeks=0,
    )
    fake.app.monitor.track_tp_end_offset = fake.app.monitor.ends.__setitem__

    async def wait_next_records(_timeout: float) -> tuple[Any, Any]:
        return {tp: list(offsets) for tp, offsets in records.items()}, set(records)

    async def perform_seek() -> None:
        fake.seeks += 1

    def highwater(tp: str) -> int:
        fake.highwaters.append(tp)
        return records[tp][-1] + 1

    def iterate(fetched: dict[str, list[int]]) -> Any:  # round-robin, as faust's scheduler
        its = {tp: iter(offsets) for tp, offsets in fetched.items()}
        while its:
            for tp in list(its):
                offset = next(its[tp], None)
                if offset is None:
                    del its[tp]
                else:
                    yield tp, offset

    fake._wait_next_records, fake.perform_seek, fake.highwater = wait_next_records, perform_seek, highwater
    fake.scheduler = SimpleNamespace(iterate=iterate)
    fake._to_message = lambda tp, offset: SimpleNamespace(partition=tp, offset=offset)
    return fake


def test_a_fetch_gives_the_messages_round_robin_reading_each_end_offset_once() -> None:
    fake = fetching({"p0": [0, 1, 2], "p1": [5, 6]})
    fetched = asyncio.run(_BatchDeliveryConsumer._fetch(fake, 1.0))
    assert [(tp, m.offset) for tp, m in fetched] == [("p0", 0), ("p1", 5), ("p0", 1), ("p1", 6), ("p0", 2)]
    assert sorted(fake.highwaters) == ["p0", "p1"] and fake.app.monitor.ends == {"p0": 3, "p1": 7}


def test_a_fetch_while_the_flow_is_stopped_seeks_back_and_gives_nothing() -> None:
    fake = fetching({"p0": [0, 1]}, flow_active=False)
    assert asyncio.run(_BatchDeliveryConsumer._fetch(fake, 1.0)) == []
    assert fake.seeks == 1
