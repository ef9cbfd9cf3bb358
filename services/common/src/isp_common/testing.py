"""Pytest fixtures shared by every test suite (loaded from the root ``conftest.py``).

Broker choice, in order: ``ISP_KAFKA_BOOTSTRAP`` (any running broker); a
testcontainers Kafka when ``ISP_TEST_KAFKA=container`` and a Docker engine
answers; otherwise the embedded broker on a free port.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from .auth import issue_token
from .launcher import SERVICES, EmbeddedBroker, Suite, create_topics, free_port


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def broker_bootstrap(tmp_path_factory) -> Iterator[str]:
    given = os.environ.get("ISP_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    if os.environ.get("ISP_TEST_KAFKA") == "container" and _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:3.9.0").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    log_dir = tmp_path_factory.mktemp("broker")
    broker = EmbeddedBroker(port=free_port(), log_path=log_dir / "broker.log")
    broker.start()
    asyncio.run(create_topics(broker.bootstrap))
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def suite(broker_bootstrap, tmp_path_factory) -> Iterator[Suite]:
    """The four services as real processes on free ports, sharing the test broker."""
    var_dir = tmp_path_factory.mktemp("suite-var")
    suite = Suite(
        var_dir=Path(var_dir),
        ports={name: free_port() for name in SERVICES},
        bootstrap=broker_bootstrap,
        env={
            "ISP_TIMER_INTERVAL": "1.0",
            "ISP_LOG_LEVEL": "INFO",
        },
    )
    started = time.monotonic()
    try:
        suite.start(timeout=120)
    except Exception:
        suite.stop()
        for log in sorted((Path(var_dir) / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise
    suite.ready_after = time.monotonic() - started  # type: ignore[attr-defined]
    yield suite
    suite.stop()


@pytest.fixture(scope="session")
def token_for(suite) -> Callable[..., str]:
    """``token_for("WSCC-CSC", "social_care")``: a bearer token the suite accepts."""
    key_dir = suite.var_dir / "keys"

    def make(org: str, *roles: str, sub: str | None = None) -> str:
        return issue_token(key_dir, sub or f"tester@{org.lower()}", org, list(roles) or ["admin"])

    return make


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


class KafkaProbe:
    """A small aiokafka client for tests: send raw or CloudEvent messages, and read topics."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: list | None = None) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers or [])
        finally:
            await producer.stop()

    async def send_event(self, topic: str, event: Any) -> None:
        key = (event.subject or "").encode() or None
        await self.send(
            topic, event.to_json_bytes(), key=key, headers=[("content-type", b"application/cloudevents+json")]
        )

    async def collect(
        self,
        topic: str,
        predicate: Callable[[Any], bool],
        *,
        count: int = 1,
        timeout: float = 30.0,
        settle: float = 0.0,
    ) -> list[Any]:
        """Read ``topic`` from the beginning until ``count`` messages match (then keep
        reading ``settle`` seconds more to catch duplicates); return every match."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        found: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            settle_until: float | None = None
            while time.monotonic() < deadline:
                if settle_until is not None and time.monotonic() >= settle_until:
                    break
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        if predicate(record):
                            found.append(record)
                if len(found) >= count and settle_until is None:
                    if settle <= 0:
                        break
                    settle_until = time.monotonic() + settle
        finally:
            await consumer.stop()
        return found


def event_json(record: Any) -> dict:
    return json.loads(record.value)


@pytest.fixture(scope="session")
def kafka(broker_bootstrap) -> KafkaProbe:
    return KafkaProbe(broker_bootstrap)
