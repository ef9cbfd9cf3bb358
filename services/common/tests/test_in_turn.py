"""A consumer prepares each batch while the one before it is finished
(:func:`isp_common.consumer.in_turn`): batches are still finished one at a time, in the order
they came, each prepared before it is finished; cancelling stops the batch being finished."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isp_common.consumer import in_turn


async def turns(steps: int) -> None:
    for _ in range(steps):
        await asyncio.sleep(0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)), max_size=12))
def test_batches_are_finished_one_at_a_time_in_order(delays: list[tuple[int, int, int]]) -> None:
    """Whatever each step takes (event-loop turns to arrive, to be prepared, to be finished)."""
    log: list[tuple[str, int]] = []
    finishing: list[int] = []

    async def batches() -> AsyncIterator[int]:
        for number, (arrive, _prepare, _finish) in enumerate(delays):
            await turns(arrive)
            yield number

    async def prepare(number: int) -> str:
        log.append(("prepared", number))
        await turns(delays[number][1])
        return f"batch {number}"

    async def finish(number: int, prepared: str) -> None:
        assert prepared == f"batch {number}"
        finishing.append(number)
        assert len(finishing) - len([e for e in log if e[0] == "finished"]) == 1  # none other at once
        await turns(delays[number][2])
        log.append(("finished", number))

    asyncio.run(in_turn(batches(), prepare, finish))
    finished = [number for what, number in log if what == "finished"]
    assert finished == list(range(len(delays)))
    for number in finished:  # each prepared before it was finished, and after the one before it was
        assert log.index(("prepared", number)) < log.index(("finished", number))
        if number:
            assert log.index(("prepared", number - 1)) < log.index(("prepared", number))


async def test_the_next_batch_is_prepared_while_this_one_is_finished() -> None:
    next_prepared = asyncio.Event()
    order: list[str] = []

    async def batches() -> AsyncIterator[int]:
        for number in range(3):
            yield number

    async def prepare(number: int) -> int:
        order.append(f"prepare {number}")
        if number == 1:
            next_prepared.set()
        return number

    async def finish(number: int, _prepared: int) -> None:
        if number == 0:  # would wait for ever if the next batch were prepared only after this one
            await asyncio.wait_for(next_prepared.wait(), 5)
        order.append(f"finish {number}")

    await in_turn(batches(), prepare, finish)
    assert order == ["prepare 0", "prepare 1", "finish 0", "prepare 2", "finish 1", "finish 2"]


async def test_a_failure_while_finishing_stops_it_and_nothing_after_is_finished() -> None:
    finished: list[int] = []

    async def batches() -> AsyncIterator[int]:
        for number in range(4):
            yield number

    async def prepare(number: int) -> int:
        return number

    async def finish(number: int, _prepared: int) -> None:
        if number == 1:
            raise RuntimeError("the database is gone")
        finished.append(number)

    with pytest.raises(RuntimeError):
        await in_turn(batches(), prepare, finish)
    assert finished == [0]


async def test_cancelling_cancels_the_batch_being_finished() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()
    finished: list[int] = []

    async def batches() -> AsyncIterator[int]:
        yield 0
        await asyncio.Event().wait()  # no more for now
        yield 1

    async def prepare(number: int) -> int:
        return number

    async def finish(number: int, _prepared: int) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finished.append(number)

    consuming = asyncio.ensure_future(in_turn(batches(), prepare, finish))
    await asyncio.wait_for(started.wait(), 5)
    consuming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consuming
    assert cancelled.is_set() and finished == []
