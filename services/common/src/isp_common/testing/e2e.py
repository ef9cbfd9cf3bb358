"""Helpers for tests against running services: a Kafka probe, a webhook receiver, polling.

Tests wait on observable effects (a read-back API, a sentinel event), never on fixed sleeps:
:func:`wait_for` is the one polling helper.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import threading
import time
from collections.abc import AsyncGenerator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ..launcher import Suite


class KafkaProbe:
    """A small aiokafka client for tests: send raw or CloudEvent messages, and read topics.

    Reading never sleeps: :meth:`collect` reads until enough messages match, :meth:`read_all`
    reads what a topic holds now, and :meth:`collect_until` reads up to a sentinel, a message
    sent on the same key after the ones under test (so on the same partition, behind them):
    once it is read, none of those can still arrive.
    """

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

    async def send_event(self, topic: str, event: Any, key: str | None = None) -> None:
        """Send a CloudEvent, keyed by ``key`` or else by its subject (as partners key them)."""
        raw_key = (key if key is not None else event.subject or "").encode() or None
        await self.send(
            topic, event.to_json_bytes(), key=raw_key, headers=[("content-type", b"application/cloudevents+json")]
        )

    async def collect(
        self, topic: str, predicate: Callable[[Any], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[Any]:
        """Read ``topic`` from the beginning until ``count`` messages match; return the matches
        (fewer if ``timeout`` passes first)."""
        found: list[Any] = []
        async with contextlib.aclosing(self._records(topic, timeout)) as records:
            async for record in records:
                if predicate(record):
                    found.append(record)
                    if len(found) >= count:
                        break
        return found

    async def collect_until(
        self,
        topic: str,
        predicate: Callable[[Any], bool],
        sentinel: Callable[[Any], bool],
        *,
        timeout: float = 60.0,
    ) -> list[Any]:
        """The messages matching ``predicate`` read before the first one matching ``sentinel``.

        The messages under test must share the sentinel's key: then they are on its partition,
        ahead of it, and this is all of them there will ever be. Fails if no sentinel comes.
        """
        found: list[Any] = []
        async with contextlib.aclosing(self._records(topic, timeout)) as records:
            async for record in records:
                if sentinel(record):
                    return found
                if predicate(record):
                    found.append(record)
        raise AssertionError(f"no sentinel on {topic} in {timeout:.0f}s")

    async def read_all(self, topic: str, predicate: Callable[[Any], bool] | None = None) -> list[Any]:
        """Every message ``topic`` holds now (up to its end offsets when called), filtered."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        found: list[Any] = []
        try:
            if topic not in await consumer.topics():
                return found
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not partitions:  # a topic just created may be listed before its partitions are known
                return found
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends: dict[Any, int] = await consumer.end_offsets(partitions)
            deadline = time.monotonic() + 30.0
            while any([await consumer.position(tp) < end for tp, end in ends.items()]):
                if time.monotonic() > deadline:
                    raise AssertionError(f"could not read {topic} to its end in 30s")
                batch = await consumer.getmany(*partitions, timeout_ms=200)
                for records in batch.values():
                    found.extend(r for r in records if predicate is None or predicate(r))
        finally:
            await consumer.stop()
        return found

    async def _records(self, topic: str, timeout: float) -> AsyncGenerator[Any, None]:
        """``topic`` from the beginning, as messages arrive, for ``timeout`` seconds (a poll, not a sleep)."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        yield record
        finally:
            await consumer.stop()


def event_json(record: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(record.value)
    return body


class WebhookReceiver:
    """A local HTTP server: each path answers 500 for its first ``failures`` requests (or
    always, with ``-1``), then 200, and keeps every request. :meth:`close` (or leaving it as a
    context manager) stops it and closes its listening socket."""

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

    def close(self) -> None:
        """Stop serving and close the listening socket (``shutdown`` alone leaves it open, a
        ``ResourceWarning`` in whichever test the garbage collector next runs)."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


async def wait_for_consent(suite: Suite, org: str, consent_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the notifications service until it holds ``consent_id`` (recorded by ``org``).

    Consents and the events they cover travel on different topics, so a test that sends both
    must wait for the consent, or the share may be decided first and (rightly) withheld.
    """
    import httpx

    from . import auth_headers

    headers = auth_headers(suite.var_dir / "keys", org, "provider", "social_care")
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
