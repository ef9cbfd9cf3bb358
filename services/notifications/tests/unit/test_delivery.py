"""Webhook delivery: signatures, one webhook-id across retries, backoff, the delivery log,
cancellation on withdrawal, heartbeats, escalation, and which URLs are allowed."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_notifications import handlers
from isp_notifications.alerts import referrals
from isp_notifications.config import Settings
from isp_notifications.delivery import loop as delivery
from isp_notifications.delivery import urls, webhooks
from isp_notifications.facts import consent_given
from isp_notifications.tables import AlertRecord, Delivery, DeliveryAttempt, Subscription
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn
from isp_schemas.people import Person
from isp_schemas.referrals import ReferralAssessmentMissed
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

CSC, PROVIDER = "WSCC-CSC", "CGL-WSX"
PARENT = Person(nhs_number="9434765919")
ESCALATION = "uk.isp.alert.delivery_escalation.v1"


class Runtime:
    """The one part of ServiceRuntime the delivery loop uses."""

    def __init__(self, engine):
        self.engine = engine

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)


def fast_settings(**kw) -> Settings:
    base = dict(
        webhook_retry_base=0.01,
        webhook_retry_max_delay=0.02,
        webhook_retry_window=60.0,
        heartbeat_interval=0,
        endpoint_failure_escalation=3600.0,
    )
    base.update(kw)
    return Settings(**base)


def subscribe(store, url="http://receiver.test/hook", types=("*",)) -> Subscription:
    sub = Subscription(id="sub-1", org=CSC, url=url, types=list(types), secret=webhooks.new_secret())

    def add(uow):
        uow.session.add(sub)

    store.run(add)
    return sub


def consent_and_dna(store, scheduled_for=None, now=None):
    consent = ConsentGiven(
        consent_id="con-1",
        person=PARENT,
        recorded_by=PROVIDER,
        recipients=[CSC],
        purposes=["safeguarding"],
        data_categories=["attendance"],
        given_on=date(2026, 1, 1),
    )
    store.handle(consent_given, consent, PROVIDER)
    scheduled_for = scheduled_for or datetime.now(UTC)
    missed = ReferralAssessmentMissed(
        referral_id="ref-1",
        direction="to_treatment",
        from_org=CSC,
        to_org=PROVIDER,
        person=PARENT,
        at=scheduled_for,
        appointment_id="apt-1",
        scheduled_for=scheduled_for,
        recorded_at=scheduled_for,
    )
    store.handle(referrals.assessment_missed, missed, PROVIDER, now=now or datetime.now(UTC))
    return store.alerts_to(CSC)[0]


class Receiver:
    """An endpoint that fails ``failures`` times, then answers 200; it keeps what it got."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500 if len(self.requests) <= self.failures else 200)


def delivery_loop(store, receiver, settings=None) -> delivery.DeliveryLoop:
    loop = delivery.DeliveryLoop(Runtime(store.engine), settings or fast_settings())
    loop._client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    return loop


async def drain(loop, rounds=40):
    import asyncio

    for _ in range(rounds):
        await loop.pass_once()
        await asyncio.sleep(0.03)


def rows(store, model, *where):
    with UnitOfWork(store.engine) as uow:
        found = uow.session.exec(select(model).where(*where)).all()
        for row in found:
            uow.session.expunge(row)
        return found


async def test_three_failures_then_200_is_one_delivery_with_one_webhook_id(store):
    sub = subscribe(store)
    alert = consent_and_dna(store)
    receiver = Receiver(failures=3)
    await drain(delivery_loop(store, receiver))
    assert len(receiver.requests) == 4
    assert {r.headers["webhook-id"] for r in receiver.requests} == {receiver.requests[0].headers["webhook-id"]}
    assert len({r.content for r in receiver.requests}) == 1  # the same body every time
    last = receiver.requests[-1]
    body = Webhook(sub.secret).verify(last.content, dict(last.headers))
    assert body["id"] == alert["id"] and body["subscription"] == "sub-1" and body["eventnumber"] == 1
    [sent] = rows(store, Delivery)
    assert sent.status == "delivered" and sent.attempts == 4
    log = rows(store, DeliveryAttempt, DeliveryAttempt.delivery_id == sent.id)
    assert [a.outcome for a in sorted(log, key=lambda a: a.attempt)] == ["retry", "retry", "retry", "delivered"]
    assert rows(store, AlertRecord, AlertRecord.id == alert["id"])[0].status == "delivered"
    assert len(store.audit("shared")) == 1


async def test_a_subscription_only_gets_the_types_it_asked_for(store):
    subscribe(store, types=("uk.isp.alert.referral_received.v1",))
    consent_and_dna(store)
    assert rows(store, Delivery) == []


async def test_a_consent_withdrawn_before_a_retry_cancels_the_delivery(store):
    subscribe(store)
    consent_and_dna(store)
    store.mark_outbox_sent()  # on the topic already; the webhook copy is still pending
    receiver = Receiver(failures=100)
    loop = delivery_loop(store, receiver, fast_settings(webhook_retry_base=5, webhook_retry_max_delay=5))
    await loop.pass_once()
    assert len(receiver.requests) == 1
    withdrawn = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=datetime.now(UTC).date())
    store.handle(handlers.consent_withdrawn, withdrawn, PROVIDER)
    [cancelled] = rows(store, Delivery)
    assert cancelled.status == "cancelled"
    await loop.pass_once(datetime.now(UTC) + timedelta(seconds=10))
    assert len(receiver.requests) == 1


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    for attempt, step in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        delay = webhooks.retry_delay(attempt, 30, 3600, rng)
        assert step / 2 <= delay <= step


def test_default_retries_keep_going_for_at_least_24_hours(store):
    subscribe(store)
    consent_and_dna(store)
    settings = Settings()
    [d] = rows(store, Delivery)
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    first = now
    failure = webhooks.Outcome(False, 503, "HTTP 503", 5)
    with UnitOfWork(store.engine) as uow:
        d = uow.session.get(Delivery, d.id)
        while d.status == "pending":
            delivery.record_outcome(uow, d, failure, now, settings)
            now = as_utc(d.next_attempt_at) if d.status == "pending" else now
        uow.commit()
    assert d.status == "failed"
    assert now - first >= timedelta(hours=24)
    assert d.attempts > 10


def test_signed_headers_follow_standard_webhooks():
    secret = webhooks.new_secret()
    body = json.dumps({"id": "a"})
    headers = webhooks.signed_headers(secret, "msg_1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == {"id": "a"}
    assert headers["webhook-signature"].startswith("v1,")


async def test_an_idle_subscription_gets_a_signed_heartbeat_with_the_running_count(store):
    sub = subscribe(store)
    consent_and_dna(store)
    receiver = Receiver()
    loop = delivery_loop(store, receiver, fast_settings(heartbeat_interval=60))
    await loop.pass_once()  # the alert
    await loop.pass_once(datetime.now(UTC) + timedelta(seconds=61))
    beat = receiver.requests[-1]
    body = Webhook(sub.secret).verify(beat.content, dict(beat.headers))
    assert body["type"] == "uk.isp.subscription.heartbeat.v1"
    assert body["data"]["events_since_start"] == 1 and body["eventnumber"] == 1


def test_a_dna_alert_not_acknowledged_by_its_deadline_is_escalated_to_the_sender(store):
    scheduled = datetime(2026, 3, 9, 9, tzinfo=UTC)
    alert = consent_and_dna(store, scheduled_for=scheduled, now=scheduled + timedelta(hours=1))
    before = scheduled + timedelta(hours=23)
    assert store.run(delivery.escalate_missed_deadlines, before) == 0
    after = scheduled + timedelta(hours=24, minutes=1)
    assert store.run(delivery.escalate_missed_deadlines, after) == 1
    assert store.run(delivery.escalate_missed_deadlines, after) == 0
    [escalation] = store.alerts_to(PROVIDER, ESCALATION)
    assert escalation["data"]["escalated_alert_id"] == alert["id"] and escalation["data"]["recipient"] == CSC


def test_an_acknowledged_dna_alert_is_not_escalated(store):
    scheduled = datetime(2026, 3, 9, 9, tzinfo=UTC)
    alert = consent_and_dna(store, scheduled_for=scheduled, now=scheduled + timedelta(hours=1))

    def ack(uow):
        row = uow.session.get(AlertRecord, alert["id"])
        row.acknowledged_at = scheduled + timedelta(hours=2)
        uow.session.add(row)

    store.run(ack)
    assert store.run(delivery.escalate_missed_deadlines, scheduled + timedelta(days=2)) == 0


def test_an_endpoint_failing_for_an_hour_is_escalated_to_the_sender(store):
    subscribe(store)
    consent_and_dna(store)
    [d] = rows(store, Delivery)
    start = datetime.now(UTC)
    failure = webhooks.Outcome(False, None, "ConnectError", 5)
    with UnitOfWork(store.engine) as uow:
        delivery.record_outcome(uow, uow.session.get(Delivery, d.id), failure, start, Settings())
        uow.commit()
    assert store.run(delivery.escalate_failing_endpoints, start + timedelta(minutes=59), 3600) == 0
    assert store.run(delivery.escalate_failing_endpoints, start + timedelta(minutes=61), 3600) == 1
    [escalation] = store.alerts_to(PROVIDER, ESCALATION)
    assert escalation["data"]["last_error"] == "ConnectError" and escalation["data"]["attempts"] == 1


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
        assert urls.validate_webhook_url(url, environment, resolver) == url
    else:
        with pytest.raises(urls.InvalidWebhookUrl, match=refused):
            urls.validate_webhook_url(url, environment, resolver)


async def test_a_partner_whose_endpoint_hangs_does_not_hold_up_deliveries_to_other_partners(store):
    """Attempts run as their own tasks: one dead endpoint (each try waits for the timeout) must
    not delay an alert queued for another organisation after it."""
    import asyncio

    slow_started, release = asyncio.Event(), asyncio.Event()

    async def endpoint(request: httpx.Request) -> httpx.Response:
        if request.url.host == "hangs.test":
            slow_started.set()
            await release.wait()
        return httpx.Response(200)

    alert = consent_and_dna(store)

    def queue(sub_id: str, host: str) -> None:
        def add(uow):
            uow.session.add(
                Subscription(id=sub_id, org=CSC, url=f"http://{host}/hook", types=["*"], secret=webhooks.new_secret())
            )
            uow.session.add(
                Delivery(
                    id=f"msg_{sub_id}", alert_id=alert["id"], subscription_id=sub_id, org=CSC, event_number=1, body="{}"
                )
            )

        store.run(add)

    loop = delivery.DeliveryLoop(Runtime(store.engine), fast_settings())
    loop._client = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    queue("sub-slow", "hangs.test")
    await asyncio.wait_for(loop.pass_once(wait=False), 2)
    await asyncio.wait_for(slow_started.wait(), 5)
    queue("sub-fast", "fine.test")  # queued while the first attempt still hangs
    await asyncio.wait_for(loop.pass_once(wait=False), 2)
    for _ in range(100):
        if rows(store, Delivery, Delivery.id == "msg_sub-fast")[0].status == "delivered":
            break
        await asyncio.sleep(0.02)
    assert rows(store, Delivery, Delivery.id == "msg_sub-fast")[0].status == "delivered"
    assert rows(store, Delivery, Delivery.id == "msg_sub-slow")[0].status == "pending"
    release.set()
    await asyncio.gather(*loop._tasks)
    slow_attempts = rows(store, DeliveryAttempt, DeliveryAttempt.delivery_id == "msg_sub-slow")
    assert [a.outcome for a in slow_attempts] == ["delivered"]  # in flight: never started twice


@pytest.mark.integration
def test_of_two_notifications_replicas_on_postgresql_only_one_posts_webhooks(postgres_url):
    from isp_common.db import create_schema, make_engine

    engine = make_engine(postgres_url)
    create_schema(engine)
    first = delivery.DeliveryLoop(Runtime(engine), fast_settings())
    second = delivery.DeliveryLoop(Runtime(engine), fast_settings())
    assert first.leadership.held() and not second.leadership.held()
    first.leadership.release()  # the leader stops: the other takes over
    assert second.leadership.held() and not first.leadership.held()
    second.leadership.release()


async def test_in_production_each_try_checks_the_address_again_and_refuses_an_internal_one(store):
    """A subscription's host may be re-pointed inside the network after it was validated."""
    alert = consent_and_dna(store)

    def add(uow):
        uow.session.add(
            Subscription(id="sub-int", org=CSC, url="https://10.0.0.5/hook", types=["*"], secret=webhooks.new_secret())
        )
        uow.session.add(
            Delivery(id="msg_int", alert_id=alert["id"], subscription_id="sub-int", org=CSC, event_number=1, body="{}")
        )

    store.run(add)
    receiver = Receiver()
    settings = fast_settings(environment="production", partnership_key="a-production-secret")
    loop = delivery_loop(store, receiver, settings)
    await loop.pass_once()
    assert receiver.requests == []  # never posted
    [attempt] = rows(store, DeliveryAttempt, DeliveryAttempt.delivery_id == "msg_int")
    assert attempt.error.startswith("refused: private addresses are refused")
