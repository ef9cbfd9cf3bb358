"""Helpers for tests against running services: a Kafka probe, a webhook receiver, polling.

Tests wait on observable effects (a read-back API, a sentinel event), never on fixed sleeps:
:func:`wait_for` is the one polling helper.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ..launcher import Suite


class KafkaProbe:
    """A small aiokafka client for tests: send raw or CloudEvent messages, and read topics."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
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


def event_json(record: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(record.value)
    return body


class WebhookReceiver:
    """A local HTTP server: each path answers 500 for its first ``failures`` requests (or
    always, with ``-1``), then 200, and keeps every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
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

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


async def wait_for_consent(
    suite: Suite, token_for: Callable[..., str], org: str, consent_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    """Poll the notifications service until it holds ``consent_id`` (recorded by ``org``).

    Consents and the events they cover travel on different topics, so a test that sends both
    must wait for the consent, or the share may be decided first and (rightly) withheld.
    """
    import httpx

    headers = {"Authorization": f"Bearer {token_for(org, 'provider', 'social_care')}"}
    async with httpx.AsyncClient(base_url=suite.url("notifications"), headers=headers) as client:

        async def held() -> dict[str, Any] | None:
            response = await client.get(f"/v1/consents/{consent_id}")
            return response.json() if response.status_code == 200 else None

        found: dict[str, Any] = await wait_for(held, timeout=timeout, interval=0.2)
        return found


async def wait_for(fn: Callable[[], Any], timeout: float = 45.0, interval: float = 0.25) -> Any:
    """Call ``fn`` (sync or async) until it returns something truthy; return that, or fail after ``timeout``."""
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
