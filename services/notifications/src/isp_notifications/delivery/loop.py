"""The delivery loop: webhook tries and retries, and heartbeats.

Runs as one background task on the service's event loop, posting with the HTTP client the
composition root gives it (``bootstrap.build(http_client=...)``; tests pass a fake; in service,
:func:`.urls.webhook_client`, whose connections are pinned to checked addresses). Each
pass's database work is short, synchronous, and committed per delivery; the rules are in
:mod:`.deliveries`. Every "now" is the runtime's clock.

Every try, heartbeats included, first checks the URL's addresses against the rule of
:mod:`isp_notifications.domain.webhook_urls` (in production, resolving the name again), and
is signed with the subscription's secrets, opened from their sealed form only for the try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from datetime import datetime
from typing import Any, NamedTuple

import httpx
from isp_common import telemetry
from isp_common.leader import Leadership
from isp_common.runtime import ServiceRuntime
from opentelemetry.trace import SpanKind
from prometheus_client.metrics_core import Metric

from ..domain.delivery import RetrySchedule, heartbeat
from ..domain.errors import InvalidWebhookUrl
from ..settings import Settings
from ..tables import Delivery, Subscription
from . import deliveries, escalation, urls, webhooks
from .failures import FailureLog
from .sealing import SecretBox, SecretUnreadable, box_for

log = logging.getLogger(__name__)


class Job(NamedTuple):
    """A try to make."""

    delivery_id: str
    subscription_id: str
    org: str
    url: str
    keys: tuple[str, ...]
    body: str
    traceparent: str | None


class DeliveryLoop:
    def __init__(self, runtime: ServiceRuntime, settings: Settings, http: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.settings = settings
        self.http = http
        self.schedule = RetrySchedule(
            base=settings.webhook_retry_base, cap=settings.webhook_retry_max_delay, window=settings.webhook_retry_window
        )
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._concurrency = asyncio.Semaphore(settings.webhook_concurrency)
        # with several replicas on PostgreSQL, one posts webhooks at a time (no double posts)
        self.leadership = Leadership(runtime.engine, "isp-notifications:webhook-delivery")
        self.failures = FailureLog(self.schedule)
        self._box: SecretBox | None = None
        runtime.metrics.collect_with(self._past_deadline)

    @property
    def secrets(self) -> SecretBox:
        """Seals and opens the subscriptions' signing secrets (made on first use: production has
        refused to start without its key before then)."""
        if self._box is None:
            self._box = box_for(self.settings)
        return self._box

    def _keys(self, sub: Subscription, now: datetime) -> tuple[str, ...] | None:
        """The secrets to sign a try to ``sub`` with, or None (logged) when they cannot be opened."""
        try:
            return deliveries.signing_keys(sub, self.secrets, now)
        except SecretUnreadable:
            log.error(
                "webhook subscription %s of %s: its secret cannot be opened with the configured keys", sub.id, sub.org
            )
            return None

    async def start(self) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines name partners' URLs
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.leadership.release()  # the HTTP client is the composition root's to close

    async def settle(self) -> None:
        """Wait for every try and heartbeat already started (tests; :meth:`stop` cancels them instead)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                if self.leadership.held():
                    await self.pass_once(wait=False)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery pass failed; continuing")
            await asyncio.sleep(self.settings.delivery_poll_interval)

    async def pass_once(self, *, wait: bool = True) -> int:
        """Start an attempt for every due delivery not already in flight.

        Attempts run as their own tasks: one partner's slow or dead endpoint (each try may
        take the whole timeout) must not hold up deliveries to everyone else. ``wait`` makes
        the pass finish its attempts before returning (tests; the loop does not wait).
        """
        now = self.runtime.clock.now()
        jobs: list[Job] = []
        with self.runtime.uow() as uow:
            for delivery in deliveries.due(uow, now):
                if delivery.id in self._in_flight:
                    continue
                sub = deliveries.still_to_send(uow, delivery, now)
                keys = self._keys(sub, now) if sub is not None else None
                if sub is not None and keys is not None:
                    jobs.append(Job(delivery.id, sub.id, sub.org, sub.url, keys, delivery.body, delivery.traceparent))
            uow.commit()
        started = [self._spawn(self._attempt_once(job)) for job in jobs]
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = self._spawn(self._heartbeats())
            started.append(self._heartbeat_task)
        if wait:
            await asyncio.gather(*started, return_exceptions=True)
        return len(jobs)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _attempt_once(self, job: Job) -> None:
        delivery_id = job.delivery_id
        self._in_flight.add(delivery_id)
        try:
            async with self._concurrency:
                await self._attempt(job)
        except Exception:
            log.exception("webhook delivery %s: attempt failed to run", delivery_id)
        finally:
            self._in_flight.discard(delivery_id)

    async def _attempt(self, job: Job) -> None:
        delivery_id, url, body = job.delivery_id, job.url, job.body
        headers = webhooks.signed_headers(job.keys, delivery_id, self.runtime.clock.now(), body)
        token = telemetry.attach(telemetry.context_from_traceparent(job.traceparent))
        try:
            with telemetry.tracer("isp-notifications").start_as_current_span(
                "webhook delivery", kind=SpanKind.CLIENT, attributes={"webhook.id": delivery_id}
            ):
                current = telemetry.current_traceparent()
                if current:
                    headers["traceparent"] = current  # the partner's system can continue the trace
                refused = await self._address_refused(url)
                outcome = refused or await webhooks.post(self.http, url, headers, body)
        finally:
            telemetry.detach(token)
        now = self.runtime.clock.now()
        with self.runtime.uow() as uow:
            delivery = uow.session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return  # cancelled or settled meanwhile: this try's answer changes nothing
            step = deliveries.record_outcome(uow, delivery, outcome, now, self.schedule)
            uow.commit()
        self.runtime.metrics.count("isp_webhook_attempts", result=step.result, type="alert")
        self.failures.after_try(job.subscription_id, job.org, step, delivery.attempts, outcome.error, now)
        log.debug("webhook delivery %s: %s", delivery_id, outcome.status_code or outcome.error)

    async def _address_refused(self, url: str) -> webhooks.Outcome | None:
        """Check the host's addresses again before each try: a name that resolved to a public
        address when the subscription was made may point inside the network now. (The pinned
        transport checks again the address it connects to.)"""
        try:
            await asyncio.to_thread(urls.check_webhook_url, url, self.settings.environment)
        except InvalidWebhookUrl as exc:
            return webhooks.Outcome(ok=False, status_code=None, error=f"refused: {exc.reason}", duration_ms=0)
        return None

    async def _heartbeats(self) -> None:
        now = self.runtime.clock.now()
        with self.runtime.uow() as uow:
            due = [
                (s.id, s.url, keys, *heartbeat(s.id, s.event_count, s.failing_since is not None, now))
                for s in deliveries.idle_subscriptions(uow, now, self.settings.heartbeat_interval)
                if (keys := self._keys(s, now)) is not None
            ]
        for sub_id, url, keys, webhook_id, body in due:
            headers = webhooks.signed_headers(keys, webhook_id, now, body)
            outcome = await self._address_refused(url) or await webhooks.post(self.http, url, headers, body)
            with self.runtime.uow() as uow:
                deliveries.record_heartbeat(uow, sub_id, outcome, self.runtime.clock.now())
                uow.commit()
            self.runtime.metrics.count(
                "isp_webhook_attempts", result="delivered" if outcome.ok else "failed", type="heartbeat"
            )

    def _past_deadline(self) -> Iterator[Metric]:
        """At scrape time: alerts past their deadline, neither delivered nor acknowledged, by type."""
        metrics = self.runtime.metrics
        family = metrics.gauge(
            "isp_alerts_past_deadline", "Alerts past their deadline, neither delivered nor acknowledged.", ("type",)
        )
        with self.runtime.uow() as uow:
            for alert_type, count in escalation.past_deadline(uow, self.runtime.clock.now()):
                metrics.sample(family, float(count), alert_type)
        yield family
