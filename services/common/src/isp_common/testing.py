"""Pytest fixtures shared by every test suite (loaded from the root ``conftest.py``).

Broker choice, in order: ``ISP_KAFKA_BOOTSTRAP`` (any running broker); a
testcontainers Kafka when ``ISP_TEST_KAFKA=container`` and a Docker engine
answers; otherwise the embedded broker on a free port.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
            "ISP_AUDIT_CHECKPOINT_EVERY_RECORDS": "5",
            "ISP_AUDIT_RECONCILIATION_GRACE_SECONDS": "0",
            **{
                f"ISP_NOTIFICATIONS_{k}": v
                for k, v in (
                    ("WEBHOOK_RETRY_BASE", "0.3"),
                    ("WEBHOOK_RETRY_MAX_DELAY", "1"),
                    ("WEBHOOK_RETRY_WINDOW", "120"),
                    ("HEARTBEAT_INTERVAL", "3"),
                    ("ENDPOINT_FAILURE_ESCALATION", "4"),
                    ("DEADLINE_CHECK_INTERVAL", "1"),
                    ("DELIVERY_POLL_INTERVAL", "0.2"),
                )
            },  # noqa: E501
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL (see :mod:`isp_common.testing_pg`); skipped where none can run."""
    given = os.environ.get("ISP_TEST_DATABASE_URL")
    if given:
        yield given
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    from .testing_pg import local_postgres

    try:
        server = local_postgres()
        url = server.__enter__()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"PostgreSQL not available here: {exc} (apt-get install postgresql)")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the test server, for one test."""
    from .testing_pg import create_database

    return create_database(postgres_server, unique("test_"))


CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


@pytest.fixture(scope="module")  # not session: sync Playwright leaves a loop "running" until it stops
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's package, driven by Playwright (no browser download).

    Skipped, with the reason, only where no Chromium is installed.
    """
    executable = os.environ.get("ISP_CHROMIUM") or next((p for p in CHROMIUM_PATHS if os.path.exists(p)), None)
    if not executable:
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield b
        finally:
            b.close()


class WebhookReceiver:
    """A local HTTP server: each path answers 500 for its first ``failures`` requests (or
    always, with ``-1``), then 200, and keeps every request."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    seen = sum(1 for r in receiver.requests if r["path"] == self.path)
                    failures = receiver.failures.get(self.path, 0)
                    status = 500 if failures < 0 or seen < failures else 200
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body, "status": status}
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


async def wait_for_consent(suite: Suite, token_for: Callable[..., str], org: str, consent_id: str,
                           timeout: float = 60.0) -> dict:  # fmt: skip
    """Poll the notifications service until it holds ``consent_id`` (recorded by ``org``).

    Consents and the events they cover travel on different topics, so a test that sends both
    must wait for the consent, or the share may be decided first and (rightly) withheld.
    """
    import httpx

    headers = {"Authorization": f"Bearer {token_for(org, 'provider', 'social_care')}"}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=suite.url("notifications"), headers=headers) as client:
        while time.monotonic() < deadline:
            response = await client.get(f"/v1/consents/{consent_id}")
            if response.status_code == 200:
                return response.json()
            await asyncio.sleep(0.2)
    raise AssertionError(f"consent {consent_id} not received by notifications in {timeout:.0f}s")


async def wait_for(fn: Callable[[], Any], timeout: float = 45.0, interval: float = 0.25) -> Any:
    """Call ``fn`` (sync or async) until it returns something truthy; return that, or fail after ``timeout``."""
    import inspect

    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout:.0f}s")
        await asyncio.sleep(interval)
