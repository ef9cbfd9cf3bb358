"""The delivery loop: webhook tries and retries, and heartbeats.

Runs as one background task on the service's event loop (HTTP with ``httpx.AsyncClient``);
each pass's database work is short, synchronous, and committed per delivery. The rules are
plain functions taking a unit of work and ``now`` so unit tests drive them with explicit times.

* A due delivery is re-checked first: a withheld alert, a deleted subscription, or a consent
  withdrawn since the alert was queued cancels it (CONTRACT §6: a withdrawal stops alerts
  queued but not yet sent).
* A 2xx answer is delivery; anything else is retried after :func:`webhooks.retry_delay`,
  for ``webhook_retry_window`` after the first try (at least 24 h), then given up as failed.
* Every try is written to the delivery log (``notifications_delivery_attempt``).
* The timer's deadline check (:meth:`DeliveryLoop.check_deadlines`) runs the escalations in
  :mod:`.escalation` and flags overdue conference reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from isp_common import telemetry
from isp_common.db import UnitOfWork
from isp_common.leader import Leadership
from isp_common.runtime import ServiceRuntime
from isp_common.times import as_utc
from sqlmodel import select

from .. import facts, policy
from ..alerts.conferences import flag_overdue_reports
from ..config import Settings
from ..tables import AlertRecord, Delivery, DeliveryAttempt, Subscription
from . import urls, webhooks
from .escalation import escalate_failing_endpoints, escalate_missed_deadlines

log = logging.getLogger(__name__)
HEARTBEAT_TYPE = "uk.isp.subscription.heartbeat.v1"
BATCH = 50


# -- rules (unit of work + now) ------------------------------------------------------------


def due_deliveries(uow: UnitOfWork, now: datetime, limit: int = BATCH) -> list[Delivery]:
    return list(
        uow.session.exec(
            select(Delivery)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
    )


def still_to_send(uow: UnitOfWork, delivery: Delivery, now: datetime) -> Subscription | None:
    """The subscription to send to, or None after cancelling a delivery that must not go."""
    sub = uow.session.get(Subscription, delivery.subscription_id)
    alert = uow.session.get(AlertRecord, delivery.alert_id)
    reason = None
    if sub is None or not sub.active:
        reason = "subscription deleted"
    elif alert is None or alert.status == "withheld":
        reason = "alert withheld"
    elif alert.lawful_basis and not _basis_holds(uow, alert, now):
        reason = "consent withdrawn or expired"
    if reason is None:
        return sub
    cancel_delivery(uow, delivery, reason, now)
    return None


def cancel_delivery(uow: UnitOfWork, delivery: Delivery, reason: str, now: datetime) -> None:
    """Stop a pending delivery for good, and say why in its delivery log."""
    delivery.status, delivery.last_error = "cancelled", reason
    uow.session.add(delivery)
    uow.session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            subscription_id=delivery.subscription_id,
            attempt=delivery.attempts,
            at=now,
            outcome="cancelled",
            error=reason,
        )
    )


def _basis_holds(uow: UnitOfWork, alert: AlertRecord, now: datetime) -> bool:
    request = policy.Request(
        recipient=alert.recipient,
        purpose=alert.purpose or policy.SAFEGUARDING,
        required=tuple(alert.data_categories),
        at=now,
        person=alert.nhs_number,
    )
    known = policy.Facts(consents=facts.consents_of(uow.session, alert.nhs_number))
    return policy.basis_still_holds(alert.lawful_basis, request, known)


def record_outcome(
    uow: UnitOfWork, delivery: Delivery, outcome: webhooks.Outcome, now: datetime, settings: Settings
) -> None:
    sub = uow.session.get(Subscription, delivery.subscription_id)
    alert = uow.session.get(AlertRecord, delivery.alert_id)
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    if outcome.ok:
        result = "delivered"
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        if alert is not None and alert.status in ("pending", "failed"):
            alert.status, alert.delivered_at = "delivered", now
            uow.session.add(alert)
        if sub is not None:
            sub.failing_since = None
    else:
        delivery.last_error = outcome.error
        delivery.first_failure_at = delivery.first_failure_at or now
        if sub is not None:
            sub.failing_since = sub.failing_since or now
        if now - as_utc(delivery.first_attempt_at) >= timedelta(seconds=settings.webhook_retry_window):
            result = "failed"
            delivery.status = "failed"
            if alert is not None and alert.status == "pending":
                alert.status = "failed"
                uow.session.add(alert)
        else:
            result = "retry"
            wait = webhooks.retry_delay(
                delivery.attempts, settings.webhook_retry_base, settings.webhook_retry_max_delay
            )
            delivery.next_attempt_at = now + timedelta(seconds=wait)
    if sub is not None:
        sub.last_sent_at = now
        uow.session.add(sub)
    uow.session.add(delivery)
    uow.session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            subscription_id=delivery.subscription_id,
            attempt=delivery.attempts,
            at=now,
            status_code=outcome.status_code,
            outcome=result,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )


def idle_subscriptions(uow: UnitOfWork, now: datetime, interval: float) -> list[Subscription]:
    if interval <= 0:
        return []
    since = now - timedelta(seconds=interval)
    subs = uow.session.exec(select(Subscription).where(Subscription.active == True)).all()  # noqa: E712
    return [s for s in subs if as_utc(s.last_sent_at or s.created_at) <= since]


def heartbeat_body(sub: Subscription, now: datetime) -> tuple[str, str]:
    """A heartbeat (FHIR topic-based subscriptions' ``heartbeat``): the running event count lets
    the receiver see a gap and replay with ``GET /v1/alerts?after=<count>``."""
    webhook_id = "hb_" + uuid.uuid4().hex
    body = {
        "specversion": "1.0",
        "id": webhook_id,
        "source": "urn:isp:service:notifications",
        "type": HEARTBEAT_TYPE,
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "subscription": sub.id,
        "eventnumber": sub.event_count,
        "data": {
            "subscription_id": sub.id,
            "events_since_start": sub.event_count,
            "status": "error" if sub.failing_since else "active",
        },
    }
    return webhook_id, json.dumps(body, separators=(",", ":"))


# -- the loop -----------------------------------------------------------------------------------


class DeliveryLoop:
    def __init__(self, runtime: ServiceRuntime, settings: Settings):
        self.runtime = runtime
        self.settings = settings
        self._task: asyncio.Task | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._heartbeat_task: asyncio.Task | None = None
        self._concurrency = asyncio.Semaphore(settings.webhook_concurrency)
        # with several replicas on PostgreSQL, one posts webhooks at a time (no double posts)
        self.leadership = Leadership(runtime.engine, "isp-notifications:webhook-delivery")

    async def start(self) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines name partners' URLs
        self._client = httpx.AsyncClient(timeout=self.settings.webhook_timeout, follow_redirects=False)
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.leadership.release()
        if self._client:
            await self._client.aclose()

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

    async def pass_once(self, now: datetime | None = None, *, wait: bool = True) -> int:
        """Start an attempt for every due delivery not already in flight.

        Attempts run as their own tasks: one partner's slow or dead endpoint (each try may
        take the whole timeout) must not hold up deliveries to everyone else. ``wait`` makes
        the pass finish its attempts before returning (tests; the loop does not wait).
        """
        now = now or datetime.now(UTC)
        jobs = []
        with self.runtime.uow() as uow:
            for delivery in due_deliveries(uow, now):
                if delivery.id in self._in_flight:
                    continue
                sub = still_to_send(uow, delivery, now)
                if sub is not None:
                    jobs.append((delivery.id, sub.url, sub.secret, delivery.body, delivery.traceparent))
            uow.commit()
        started = [self._spawn(self._attempt_once(*job)) for job in jobs]
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = self._spawn(self._heartbeats(now))
            started.append(self._heartbeat_task)
        if wait:
            await asyncio.gather(*started, return_exceptions=True)
        return len(jobs)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _attempt_once(self, delivery_id: str, *job) -> None:
        self._in_flight.add(delivery_id)
        try:
            async with self._concurrency:
                await self._attempt(delivery_id, *job)
        except Exception:
            log.exception("webhook delivery %s: attempt failed to run", delivery_id)
        finally:
            self._in_flight.discard(delivery_id)

    async def _attempt(self, delivery_id: str, url: str, secret: str, body: str, traceparent: str | None) -> None:
        at = datetime.now(UTC)
        headers = webhooks.signed_headers(secret, delivery_id, at, body)
        token = telemetry.attach(telemetry.context_from_traceparent(traceparent))
        try:
            with telemetry.tracer("isp-notifications").start_as_current_span(
                "webhook delivery", kind=telemetry.trace.SpanKind.CLIENT, attributes={"webhook.id": delivery_id}
            ):
                current = telemetry.current_traceparent()
                if current:
                    headers["traceparent"] = current  # the partner's system can continue the trace
                refused = await self._address_refused(url)
                outcome = refused or await webhooks.post(self._client, url, headers, body)
        finally:
            telemetry.detach(token)
        with self.runtime.uow() as uow:
            delivery = uow.session.get(Delivery, delivery_id)
            if delivery is not None and delivery.status == "pending":
                record_outcome(uow, delivery, outcome, datetime.now(UTC), self.settings)
                uow.commit()
        log.info("webhook delivery %s: %s", delivery_id, outcome.status_code or outcome.error)

    async def _address_refused(self, url: str) -> webhooks.Outcome | None:
        """In production, check the host's addresses again before each try: a name that resolved
        to a public address when the subscription was made may point inside the network now."""
        if self.settings.environment != "production":
            return None
        try:
            await asyncio.to_thread(urls.validate_webhook_url, url, self.settings.environment)
        except urls.InvalidWebhookUrl as exc:
            return webhooks.Outcome(ok=False, status_code=None, error=f"refused: {exc}", duration_ms=0)
        return None

    async def _heartbeats(self, now: datetime) -> None:
        with self.runtime.uow() as uow:
            due = [
                (s.id, s.url, s.secret, *heartbeat_body(s, now))
                for s in idle_subscriptions(uow, now, self.settings.heartbeat_interval)
            ]
        for sub_id, url, secret, webhook_id, body in due:
            outcome = await webhooks.post(
                self._client, url, webhooks.signed_headers(secret, webhook_id, now, body), body
            )
            with self.runtime.uow() as uow:
                sub = uow.session.get(Subscription, sub_id)
                if sub is not None:
                    sub.last_sent_at = datetime.now(UTC)
                    uow.session.add(sub)
                uow.session.add(
                    DeliveryAttempt(
                        subscription_id=sub_id,
                        kind="heartbeat",
                        attempt=1,
                        status_code=outcome.status_code,
                        error=outcome.error,
                        outcome="delivered" if outcome.ok else "failed",
                        duration_ms=outcome.duration_ms,
                    )
                )
                uow.commit()

    async def check_deadlines(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        with self.runtime.uow() as uow:
            escalate_missed_deadlines(uow, now)
            escalate_failing_endpoints(uow, now, self.settings.endpoint_failure_escalation)
            flag_overdue_reports(uow, now)
            uow.commit()
