"""Webhook delivery: signatures, one webhook-id across retries, backoff, the delivery log,
cancellation on withdrawal, heartbeats, escalation, and which URLs are allowed.

The delivery loop is the one ``bootstrap.build`` makes, posting through a FakeHttpClient, with
time from the runtime's FixedClock."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from isp_common.runtime import ServiceRuntime
from isp_common.tables import OutboxMessage
from isp_common.testing import FakeHttpClient, FixedClock, nhs_number, outbox_events
from isp_common.times import as_utc
from isp_notifications.delivery import deliveries, escalation, webhooks
from isp_notifications.delivery.loop import DeliveryLoop
from isp_notifications.domain.delivery import retry_delay
from isp_notifications.domain.errors import InvalidWebhookUrl
from isp_notifications.domain.webhook_urls import validate_webhook_url
from isp_notifications.handlers import consent, referrals
from isp_notifications.tables import AlertRecord, Delivery, DeliveryAttempt, Subscription
from isp_schemas import topics
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from ..kit import CSC, PROVIDER, assessment_missed, consent_given

PARENT = Person(nhs_number=nhs_number(0))
ESCALATION = "uk.isp.alert.delivery_escalation.v1"
PRODUCTION = dict(
    environment="production", partnership_key="a-production-secret", webhook_secret_key=Fernet.generate_key().decode()
)
FAST = dict(
    webhook_retry_base=0.01,
    webhook_retry_max_delay=0.02,
    webhook_retry_window=60.0,
    heartbeat_interval=0,
    endpoint_failure_escalation=3600.0,
)


def failing(times: int) -> Callable[[httpx.Request], httpx.Response]:
    """An endpoint that answers 500 ``times`` times, then 200."""
    tries = itertools.count(1)
    return lambda _request: httpx.Response(500 if next(tries) <= times else 200)


def loop_of(runtime: ServiceRuntime) -> DeliveryLoop:
    loop: DeliveryLoop = runtime.context.delivery
    return loop


def sealed_secret(runtime) -> str:
    """A new signing secret, sealed as the service keeps it."""
    return loop_of(runtime).secrets.seal(webhooks.new_secret())


def secret_of(runtime, sub: Subscription) -> str:
    return loop_of(runtime).secrets.open(sub.secret_sealed)


def subscribe(runtime, url="http://receiver.test/hook", types=("*",), sub_id="sub-1") -> Subscription:
    sub = Subscription(
        id=sub_id,
        org=CSC,
        url=url,
        types=list(types),
        secret_sealed=sealed_secret(runtime),
        created_at=runtime.clock.now(),
    )
    with runtime.uow() as uow:
        uow.session.add(sub)
        uow.commit()
    return sub


def handle(runtime, handler, data, source: str) -> None:
    now = runtime.clock.now()
    event = CloudEvent.create(type=data.event_type, source_org=source, data=data, time=now)
    with runtime.uow() as uow:
        handler(uow, event, data, now)
        uow.commit()


def consent_and_dna(runtime, scheduled_for: datetime | None = None) -> dict[str, Any]:
    """A consent covering attendance, then a missed assessment: one did_not_attend alert for CSC."""
    given = consent_given(PARENT)
    with runtime.uow() as uow:
        event = CloudEvent.create(type=given.event_type, source_org=PROVIDER, data=given)
        consent.consent_given(uow, event, given, runtime.clock.now())
        uow.commit()
    missed = assessment_missed(PARENT, scheduled_for or runtime.clock.now())
    handle(runtime, referrals.assessment_missed, missed, PROVIDER)
    return alerts_to(runtime, CSC)[0]


def alerts_to(runtime, org: str, type: str | None = None) -> list[dict[str, Any]]:
    return outbox_events(runtime.engine, topics.alerts(org), type)


def audit(runtime, decision: str) -> list[dict[str, Any]]:
    return [e["data"] for e in outbox_events(runtime.engine, topics.AUDIT) if e["data"]["decision"] == decision]


def rows(runtime, model, *where):
    with runtime.uow() as uow:
        found = uow.session.exec(select(model).where(*where)).all()
        for row in found:
            uow.session.expunge(row)
        return found


async def drain(runtime, rounds: int = 10) -> None:
    """Delivery passes a second apart, each finishing its tries."""
    for _ in range(rounds):
        await loop_of(runtime).pass_once()
        runtime.clock.advance(seconds=1)


def receivers_time(clock: FixedClock) -> None:
    """A receiver verifies a signature against its own clock (5 minutes' tolerance): sign at the wall time."""
    clock.set(datetime.now(UTC))


async def test_three_failures_then_200_is_one_delivery_with_one_webhook_id(make_runtime, clock):
    receivers_time(clock)
    http = FakeHttpClient(failing(3))
    runtime = make_runtime(http, **FAST)
    sub = subscribe(runtime)
    alert = consent_and_dna(runtime)
    await drain(runtime)
    assert len(http.requests) == 4
    assert {r.headers["webhook-id"] for r in http.requests} == {http.requests[0].headers["webhook-id"]}
    assert len({r.content for r in http.requests}) == 1  # the same body every time
    last = http.requests[-1]
    body = Webhook(secret_of(runtime, sub)).verify(last.content, dict(last.headers))
    assert body["id"] == alert["id"] and body["subscription"] == "sub-1" and body["eventnumber"] == 1
    [sent] = rows(runtime, Delivery)
    assert sent.status == "delivered" and sent.attempts == 4
    log = rows(runtime, DeliveryAttempt, DeliveryAttempt.delivery_id == sent.id)
    assert [a.outcome for a in sorted(log, key=lambda a: a.attempt)] == ["retry", "retry", "retry", "delivered"]
    assert rows(runtime, AlertRecord, AlertRecord.id == alert["id"])[0].status == "delivered"
    assert len(audit(runtime, "shared")) == 1


def test_a_subscription_only_gets_the_types_it_asked_for(make_runtime):
    runtime = make_runtime(**FAST)
    subscribe(runtime, types=("uk.isp.alert.referral_received.v1",))
    consent_and_dna(runtime)
    assert rows(runtime, Delivery) == []


async def test_a_consent_withdrawn_before_a_retry_cancels_the_delivery(make_runtime):
    http = FakeHttpClient(failing(100))
    runtime = make_runtime(http, **{**FAST, "webhook_retry_base": 5, "webhook_retry_max_delay": 5})
    subscribe(runtime)
    consent_and_dna(runtime)
    with runtime.uow() as uow:  # on the topic already; the webhook copy is still pending
        mark_outbox_sent(uow, runtime.clock.now())
    await loop_of(runtime).pass_once()
    assert len(http.requests) == 1
    withdrawn = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=runtime.clock.now().date())
    handle(runtime, consent.consent_withdrawn, withdrawn, PROVIDER)
    [cancelled] = rows(runtime, Delivery)
    assert cancelled.status == "cancelled"
    runtime.clock.advance(seconds=10)
    await loop_of(runtime).pass_once()
    assert len(http.requests) == 1


def mark_outbox_sent(uow, now: datetime) -> None:
    for row in uow.session.exec(select(OutboxMessage)).all():
        row.sent_at = now
        uow.session.add(row)
    uow.commit()


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    for attempt, step in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        delay = retry_delay(attempt, 30, 3600, rng)
        assert step / 2 <= delay <= step


def test_default_retries_keep_going_for_at_least_24_hours(make_runtime):
    runtime = make_runtime()  # production's retry settings
    subscribe(runtime)
    consent_and_dna(runtime)
    [d] = rows(runtime, Delivery)
    now = first = datetime(2026, 3, 10, 12, tzinfo=UTC)
    failure = webhooks.Outcome(False, 503, "HTTP 503", 5)
    with runtime.uow() as uow:
        d = uow.session.get(Delivery, d.id)
        while d.status == "pending":
            deliveries.record_outcome(uow, d, failure, now, loop_of(runtime).schedule)
            now = as_utc(d.next_attempt_at) if d.status == "pending" else now
        uow.commit()
    assert d.status == "failed"
    assert now - first >= timedelta(hours=24)
    assert d.attempts > 10


def test_signed_headers_follow_standard_webhooks():
    secret = webhooks.new_secret()
    body = json.dumps({"id": "a"})
    headers = webhooks.signed_headers(secret, "msg_1", datetime.now(UTC), body)  # verified at the wall time
    assert Webhook(secret).verify(body, headers) == {"id": "a"}
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/cloudevents+json"


async def test_an_idle_subscription_gets_a_signed_heartbeat_with_the_running_count(make_runtime, clock):
    receivers_time(clock)
    http = FakeHttpClient()
    runtime = make_runtime(http, **{**FAST, "heartbeat_interval": 60})
    sub = subscribe(runtime)
    consent_and_dna(runtime)
    await loop_of(runtime).pass_once()  # the alert
    runtime.clock.advance(seconds=61)
    await loop_of(runtime).pass_once()
    beat = http.requests[-1]
    body = Webhook(secret_of(runtime, sub)).verify(beat.content, dict(beat.headers))
    assert body["type"] == "uk.isp.subscription.heartbeat.v1"
    assert body["data"]["events_since_start"] == 1 and body["eventnumber"] == 1


SCHEDULED = datetime(2026, 3, 9, 9, tzinfo=UTC)


def missed_an_hour_ago(make_runtime, clock: FixedClock) -> tuple[ServiceRuntime, dict[str, Any]]:
    """The service an hour after a missed assessment at ``SCHEDULED``, and the DNA alert to CSC."""
    runtime = make_runtime()
    clock.set(SCHEDULED + timedelta(hours=1))
    return runtime, consent_and_dna(runtime, scheduled_for=SCHEDULED)


def test_a_dna_alert_not_acknowledged_by_its_deadline_is_escalated_to_the_sender(make_runtime, clock: FixedClock):
    runtime, alert = missed_an_hour_ago(make_runtime, clock)
    with runtime.uow() as uow:
        assert escalation.escalate_missed_deadlines(uow, SCHEDULED + timedelta(hours=23)) == 0
        after = SCHEDULED + timedelta(hours=24, minutes=1)
        assert escalation.escalate_missed_deadlines(uow, after) == 1
        uow.commit()
        assert escalation.escalate_missed_deadlines(uow, after) == 0
    [escalated] = alerts_to(runtime, PROVIDER, ESCALATION)
    assert escalated["data"]["escalated_alert_id"] == alert["id"] and escalated["data"]["recipient"] == CSC


def test_an_acknowledged_dna_alert_is_not_escalated(make_runtime, clock: FixedClock):
    runtime, alert = missed_an_hour_ago(make_runtime, clock)
    with runtime.uow() as uow:
        row = uow.session.get(AlertRecord, alert["id"])
        row.acknowledged_at = SCHEDULED + timedelta(hours=2)
        uow.session.add(row)
        uow.commit()
        assert escalation.escalate_missed_deadlines(uow, SCHEDULED + timedelta(days=2)) == 0


def test_an_endpoint_failing_for_an_hour_is_escalated_to_the_sender(make_runtime):
    runtime = make_runtime()
    subscribe(runtime)
    consent_and_dna(runtime)
    [d] = rows(runtime, Delivery)
    start = runtime.clock.now()
    failure = webhooks.Outcome(False, None, "ConnectError", 5)
    with runtime.uow() as uow:
        deliveries.record_outcome(uow, uow.session.get(Delivery, d.id), failure, start, loop_of(runtime).schedule)
        uow.commit()
        assert escalation.escalate_failing_endpoints(uow, start + timedelta(minutes=59), 3600) == 0
        assert escalation.escalate_failing_endpoints(uow, start + timedelta(minutes=61), 3600) == 1
        uow.commit()
    [escalated] = alerts_to(runtime, PROVIDER, ESCALATION)
    assert escalated["data"]["last_error"] == "ConnectError" and escalated["data"]["attempts"] == 1


URLS = [
    ("https://hooks.example.org/isp", "production", None),
    ("http://hooks.example.org/isp", "production", "scheme"),
    ("https://127.0.0.1/hook", "production", "loopback"),
    ("https://localhost/hook", "production", "loopback"),
    ("https://10.1.2.3/hook", "production", "private"),
    ("https://192.168.0.10/hook", "production", "private"),
    ("https://169.254.169.254/latest/meta-data", "production", "link-local"),
    ("https://[::1]/hook", "production", "loopback"),
    ("https://[::ffff:10.0.0.1]/hook", "production", "private"),
    ("https://internal.example.org/hook", "production", "private"),  # resolves to 10.0.0.7
    ("https://user:pw@hooks.example.org/", "production", "credentials"),
    ("ftp://hooks.example.org/", "embedded", "scheme"),
    ("http://127.0.0.1:8080/hook", "embedded", None),
    ("http://localhost:8080/hook", "embedded", None),
    ("http://169.254.169.254/", "embedded", "link-local"),
]


@pytest.mark.parametrize(("url", "environment", "refused"), URLS)
def test_webhook_urls(url, environment, refused):
    def resolver(host):
        return {"hooks.example.org": ["93.184.216.34"], "internal.example.org": ["10.0.0.7"]}[host]

    if refused is None:
        assert validate_webhook_url(url, environment, resolver) == url
    else:
        with pytest.raises(InvalidWebhookUrl, match=refused):
            validate_webhook_url(url, environment, resolver)


def queue_delivery(runtime, alert_id: str, sub_id: str, url: str) -> None:
    """A pending delivery of ``alert_id`` to a subscription of its own at ``url``."""
    now = runtime.clock.now()
    with runtime.uow() as uow:
        uow.session.add(
            Subscription(id=sub_id, org=CSC, url=url, types=["*"], secret_sealed=sealed_secret(runtime), created_at=now)
        )
        uow.session.add(
            Delivery(
                id=f"msg_{sub_id}",
                alert_id=alert_id,
                subscription_id=sub_id,
                org=CSC,
                event_number=1,
                body="{}",
                next_attempt_at=now,
            )
        )
        uow.commit()


async def test_a_partner_whose_endpoint_hangs_does_not_hold_up_deliveries_to_other_partners(make_runtime):
    """Attempts run as their own tasks: one dead endpoint (each try waits for the timeout) must
    not delay an alert queued for another organisation after it."""
    slow_started, release = asyncio.Event(), asyncio.Event()

    async def endpoint(request: httpx.Request) -> httpx.Response:
        if request.url.host == "hangs.test":
            slow_started.set()
            await release.wait()
        return httpx.Response(200)

    runtime = make_runtime(FakeHttpClient(endpoint), **FAST)  # an async endpoint: httpx.MockTransport awaits it
    loop = loop_of(runtime)
    alert = consent_and_dna(runtime)
    queue_delivery(runtime, alert["id"], "sub-slow", "http://hangs.test/hook")
    await asyncio.wait_for(loop.pass_once(wait=False), 2)
    await asyncio.wait_for(slow_started.wait(), 5)
    queue_delivery(runtime, alert["id"], "sub-fast", "http://fine.test/hook")  # queued while the first still hangs
    await asyncio.wait_for(loop.pass_once(), 5)  # waits for the tries it starts: the fast one only
    assert rows(runtime, Delivery, Delivery.id == "msg_sub-fast")[0].status == "delivered"
    assert rows(runtime, Delivery, Delivery.id == "msg_sub-slow")[0].status == "pending"
    release.set()
    await loop.settle()
    slow_attempts = rows(runtime, DeliveryAttempt, DeliveryAttempt.delivery_id == "msg_sub-slow")
    assert [a.outcome for a in slow_attempts] == ["delivered"]  # in flight: never started twice


async def test_in_production_each_try_checks_the_address_again_and_refuses_an_internal_one(make_runtime):
    """A subscription's host may be re-pointed inside the network after it was validated."""
    http = FakeHttpClient()
    runtime = make_runtime(http, **FAST, **PRODUCTION)
    alert = consent_and_dna(runtime)
    queue_delivery(runtime, alert["id"], "sub-int", "https://10.0.0.5/hook")
    await loop_of(runtime).pass_once()
    assert http.requests == []  # never posted
    [attempt] = rows(runtime, DeliveryAttempt, DeliveryAttempt.delivery_id == "msg_sub-int")
    assert attempt.error.startswith("refused: private addresses are refused")
