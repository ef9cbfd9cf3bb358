"""An agent's stream hands its events over in batches (``isp_common.kafka.BatchingStream.take_batches``):
in order, at most ``max_`` at a time, each batch acknowledged only once the caller has had it, events
fetched before a rebalance skipped and acknowledged, and an actor's cancellation ending it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any
from weakref import WeakSet

from isp_common.kafka import BatchingStream, acknowledge
from mode.utils.queues import FlowControlEvent, ThrowableQueue

TOPIC = "isp.test.v1"


class Message:
    def __init__(self, offset: int, generation_id: int = 1) -> None:
        self.topic, self.offset, self.generation_id = TOPIC, offset, generation_id
        self.tracked = self.acked = False
        self.refcount = 1  # one channel

    def on_final_ack(self, consumer: Any) -> bool:
        self.acked = True
        consumer.acked.append(self.offset)
        return True


def stream() -> Any:
    flow = FlowControlEvent(initially_suspended=False)
    queue: ThrowableQueue[Any] = ThrowableQueue(flow_control=flow)
    consumer = SimpleNamespace(acked=[], unacked=WeakSet())

    async def maybe_start() -> bool:
        return False

    return SimpleNamespace(
        channel=SimpleNamespace(queue=queue),
        app=SimpleNamespace(
            consumer=consumer,
            topics=SimpleNamespace(acking_topics={TOPIC}),
            flow_control=flow,
            consumer_generation_id=1,
        ),
        maybe_start=maybe_start,
        should_stop=False,
        loop=asyncio.get_running_loop(),
        events_total=0,
        _channel_stop_iteration=lambda _channel: None,
    )


def put(fake: Any, *offsets: int, generation_id: int = 1) -> None:
    for offset in offsets:
        fake.channel.queue.put_nowait(SimpleNamespace(message=Message(offset, generation_id)))


def offsets(events: list[Any]) -> list[int]:
    return [event.message.offset for event in events]


async def take(
    fake: Any, max_: int, within: float, batches: int, during: Callable[[list[Any]], Awaitable[None]] | None = None
) -> list[list[int]]:
    taken: list[list[int]] = []
    it = BatchingStream.take_batches(fake, max_, within)
    async for events in it:
        taken.append(offsets(events))
        if during is not None:
            await during(events)
        if len(taken) == batches:
            break
    await it.aclose()  # type: ignore[attr-defined]
    return taken


def test_events_come_in_order_at_most_max_a_batch() -> None:
    async def run() -> None:
        fake = stream()
        put(fake, *range(7))
        assert await take(fake, max_=3, within=0.01, batches=3) == [[0, 1, 2], [3, 4, 5], [6]]
        assert fake.events_total == 7

    asyncio.run(run())


def test_nothing_is_acknowledged_before_the_caller_has_had_the_batch() -> None:
    async def run() -> None:
        fake = stream()
        put(fake, *range(5))
        acked_while_handled: list[list[int]] = []

        async def during(events: list[Any]) -> None:
            acked_while_handled.append(list(fake.app.consumer.acked))
            assert all(event.message.tracked for event in events)
            await asyncio.sleep(0)

        assert await take(fake, max_=2, within=0.01, batches=3, during=during) == [[0, 1], [2, 3], [4]]
        assert acked_while_handled == [[], [0, 1], [0, 1, 2, 3]]
        assert fake.app.consumer.acked == [0, 1, 2, 3, 4]  # the last batch once handed back

    asyncio.run(run())


def test_a_caller_that_acknowledges_may_take_the_next_batch_first() -> None:
    """As a service consumes: the next batch is taken (and prepared) while this one is still applied,
    so nothing is acknowledged until the caller says so, and then only what it names."""

    async def run() -> None:
        fake = stream()
        put(fake, *range(5))
        it = BatchingStream.take_batches(fake, 2, 0.01, caller_acknowledges=True)
        first = await it.__anext__()
        second = await it.__anext__()
        assert (offsets(first), offsets(second)) == ([0, 1], [2, 3])
        assert fake.app.consumer.acked == []
        BatchingStream.acknowledge(fake, first)
        assert fake.app.consumer.acked == [0, 1]
        third = await it.__anext__()
        assert offsets(third) == [4] and fake.app.consumer.acked == [0, 1]
        BatchingStream.acknowledge(fake, second)
        BatchingStream.acknowledge(fake, third)
        assert fake.app.consumer.acked == [0, 1, 2, 3, 4]
        await it.aclose()  # type: ignore[attr-defined]

    asyncio.run(run())


def test_a_batch_waits_within_for_more_after_its_first_event() -> None:
    async def run() -> None:
        fake = stream()
        put(fake, 0)
        fake.loop.call_later(0.01, put, fake, 1)
        assert await take(fake, max_=10, within=0.2, batches=1) == [[0, 1]]

    asyncio.run(run())


def test_events_fetched_before_a_rebalance_are_skipped_and_acknowledged() -> None:
    async def run() -> None:
        fake = stream()
        fake.app.consumer_generation_id = 2
        put(fake, 0, 1, generation_id=1)
        put(fake, 2, 3, generation_id=2)
        assert await take(fake, max_=10, within=0.01, batches=1) == [[2, 3]]
        assert fake.app.consumer.acked == [0, 1, 2, 3]

    asyncio.run(run())


def test_an_actor_cancelled_ends_the_batches() -> None:
    async def run() -> None:
        fake = stream()
        put(fake, 0)
        taken: list[list[int]] = []

        async def consume() -> None:
            async for events in BatchingStream.take_batches(fake, 10, 0.01):
                taken.append(offsets(events))

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.05)
        fake.channel.queue._throw(StopAsyncIteration())
        await asyncio.wait_for(task, 1)
        assert taken == [[0]] and fake.app.consumer.acked == [0]

    asyncio.run(run())


def test_a_message_two_channels_hold_is_acknowledged_once_both_are_done_and_only_once() -> None:
    consumer = SimpleNamespace(acked=[])
    shared, single = Message(0), Message(1)
    shared.refcount = 2
    acknowledge(consumer, [SimpleNamespace(message=shared), SimpleNamespace(message=single)])
    assert consumer.acked == [1] and shared.refcount == 1 and not shared.acked
    acknowledge(consumer, [SimpleNamespace(message=shared), SimpleNamespace(message=single)])
    assert consumer.acked == [1, 0] and shared.acked and single.refcount == 0
