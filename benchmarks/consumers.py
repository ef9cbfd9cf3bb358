"""What consuming costs per event before any handler runs (issue 12): the same messages read from
the embedded broker through a faust agent's ``take_batches`` (as the services consume) and through
aiokafka's ``getmany``. CPU per event is printed, nothing asserted.

    .venv/bin/python -m benchmarks.consumers [--messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from isp_common.kafka import FaustApp
from isp_common.launcher import EmbeddedBroker, free_port

TOPIC = "bench.consumers"


async def fill(bootstrap: str, messages: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(TOPIC, 6, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    sent = [await producer.send(TOPIC, b"x" * 900, key=str(i % 100).encode()) for i in range(messages)]
    await producer.flush()
    await asyncio.gather(*sent)
    await producer.stop()


async def with_aiokafka(bootstrap: str, messages: int) -> float:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id="aiokafka", auto_offset_reset="earliest", fetch_max_wait_ms=50
    )
    await consumer.start()
    seen, started = 0, time.process_time()
    while seen < messages:
        batch = await consumer.getmany(timeout_ms=1000, max_records=500)
        seen += sum(len(records) for records in batch.values())
        await consumer.commit()
    cpu = time.process_time() - started
    await consumer.stop()
    return cpu / seen


def with_faust(bootstrap: str, messages: int, report: int) -> None:
    """In a child process (a faust worker owns its process): CPU per event through take_batches(500),
    written to the ``report`` pipe."""
    app = FaustApp(
        "bench-consumers",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        topic_partitions=6,
        datadir=tempfile.mkdtemp(prefix="isp-bench-faust-"),
    )
    state = {"seen": 0, "started": 0.0}

    @app.agent(app.topic(TOPIC, key_serializer="raw", value_serializer="raw"))
    async def consume(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_batches(500, within=0.005):
            if state["seen"] == 0:
                state["started"] = time.process_time()
            state["seen"] += len(events)
            if state["seen"] >= messages:
                per_event = (time.process_time() - state["started"]) / state["seen"]
                os.write(report, f"{per_event}".encode())
                os._exit(0)

    sys.argv = ["bench-consumers", "worker", "-l", "warn"]
    app.main()


def run(messages: int = 20_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="isp-bench-consumers-") as tmp:
        broker = EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "broker.log")
        broker.start()
        try:
            asyncio.run(fill(broker.bootstrap, messages))
            plain = asyncio.run(with_aiokafka(broker.bootstrap, messages))
            read, write = os.pipe()
            child = os.fork()
            if child == 0:  # pragma: no cover - the child
                os.close(read)
                with_faust(broker.bootstrap, messages, write)
            os.close(write)
            os.waitpid(child, 0)
            faust = float(os.read(read, 64) or "nan")
        finally:
            broker.stop()
    print(
        f"consuming {messages:,} messages of 900 B, CPU per event before any handler: "
        f"faust take_batches(500) {faust * 1e6:.0f} µs, aiokafka getmany(500) {plain * 1e6:.0f} µs",
        flush=True,
    )
    return {"faust_s": faust, "aiokafka_s": plain}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consumers")
    parser.add_argument("--messages", type=int, default=20_000)
    run(parser.parse_args().messages)
