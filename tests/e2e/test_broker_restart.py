"""The embedded broker keeps topics in memory (the pinned Tansu build has only the ``memory://``
and ``s3://`` storage engines): a restart empties every topic and forgets every committed offset.

What must not be lost is what a partner relies on: the webhook and the replay
(``GET /v1/alerts?after=``) are served from the notifications database, not from the topic. This
test runs its own suite on its own broker (the session broker is shared by the other tests),
produces DNA events, restarts the broker on the same port in the middle, produces more, and
checks that every alert reaches the webhook subscriber, the replay (with no duplicate) and the
audit trail. The webhook may repeat a delivery (CONTRACT §5: the same ``webhook-id`` on every retry,
receivers dedupe on it), so it is checked per ``webhook-id``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from isp_common.launcher import Suite
from isp_common.testing import auth_headers, fresh_nhs_number, unique
from isp_common.testing.e2e import KafkaProbe, WebhookReceiver, wait_for, wait_for_consent
from isp_common.testing.fixtures import running_suite
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from isp_schemas.referrals import ReferralAssessmentMissed

pytestmark = [pytest.mark.e2e]

DNA = "uk.isp.alert.did_not_attend.v1"
PER_BATCH = 4


@pytest.fixture(scope="module")
def own_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """A suite with its own embedded broker, which this test restarts."""
    with running_suite(Path(tmp_path_factory.mktemp("restart-var"))) as suite:
        yield suite


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


def restart_broker(suite: Suite) -> None:
    """Stop the embedded broker and start a new one on the same port: every topic and offset is gone."""
    assert suite.broker is not None
    suite.broker.stop()
    suite.broker.start()


async def send_dna(suite: Suite, kafka: KafkaProbe, provider: str, csc: str) -> None:
    """A consent to tell ``csc`` about a new person's attendance, then a missed assessment of them."""
    person = Person(nhs_number=fresh_nhs_number(), given_name="Alex", family_name="Doe")
    consent = ConsentGiven(
        consent_id=unique("con-"),
        person=person,
        recorded_by=provider,
        recipients=[csc],
        purposes=["safeguarding"],
        data_categories=["attendance"],
        given_on=date.today(),
    )
    await kafka.send_event(consent.topic, CloudEvent.create(type=consent.event_type, source_org=provider, data=consent))
    await wait_for_consent(suite, provider, consent.consent_id, timeout=120)
    scheduled = datetime.now(UTC)
    missed = ReferralAssessmentMissed(
        referral_id=unique("ref-"),
        direction="to_treatment",
        from_org=csc,
        to_org=provider,
        person=person,
        at=scheduled + timedelta(hours=1),
        appointment_id=unique("apt-"),
        scheduled_for=scheduled,
        recorded_at=scheduled + timedelta(hours=1),
    )
    await kafka.send_event(missed.topic, CloudEvent.create(type=missed.event_type, source_org=provider, data=missed))


async def dna_alerts(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]] | None:
    """The CSC's DNA alerts, once there are ``count`` of them."""
    response = await client.get("/v1/alerts", params={"limit": 1000})
    found = [a for a in response.json()["items"] if a["type"] == DNA] if response.status_code == 200 else []
    return found if len(found) >= count else None


async def test_webhook_and_replay_lose_nothing_across_a_broker_restart(own_suite, receiver):
    suite = own_suite
    kafka = KafkaProbe(suite.bootstrap or "")
    csc, provider = f"CSC-{unique()[:8].upper()}", f"PRV-{unique()[:8].upper()}"
    admin = auth_headers(suite.var_dir / "keys", "PARTNERSHIP", "admin")
    for org, kind in ((csc, "children_social_care"), (provider, "treatment_provider")):
        body = {"name": f"Test {org}", "dsl_contact": "dsl@example.test", "kind": kind}
        put = httpx.put(f"{suite.url('notifications')}/v1/directory/{org}", json=body, headers=admin)
        assert put.status_code == 200, put.text
    headers = auth_headers(suite.var_dir / "keys", csc, "social_care")
    path = f"/{csc}"
    async with httpx.AsyncClient(base_url=suite.url("notifications"), headers=headers, timeout=10) as client:
        sub = await client.post("/v1/subscriptions", json={"url": receiver.url(path), "types": [DNA]})
        assert sub.status_code == 201, sub.text

        for _ in range(PER_BATCH):
            await send_dna(suite, kafka, provider, csc)
        await wait_for(lambda: dna_alerts(client, PER_BATCH), timeout=120)

        restart_broker(suite)  # the first batch's webhooks and audit records may still be on their way

        for _ in range(PER_BATCH):
            await send_dna(suite, kafka, provider, csc)
        alerts = await wait_for(lambda: dna_alerts(client, 2 * PER_BATCH), timeout=180)
        ids = {a["alert_id"] for a in alerts}
        assert len(ids) == 2 * PER_BATCH

        def delivered() -> set[str]:
            got = {json.loads(r["body"])["id"] for r in receiver.at(path) if r["status"] == 200}
            return got if ids <= got else set()

        await wait_for(delivered, timeout=180)
        by_webhook_id: dict[str, set[str]] = {}
        for request in receiver.at(path):
            alert_id = json.loads(request["body"])["id"]
            if alert_id in ids:  # heartbeats come to the same URL, each under its own webhook-id
                by_webhook_id.setdefault(request["headers"]["webhook-id"], set()).add(alert_id)
        assert all(len(alert_ids) == 1 for alert_ids in by_webhook_id.values())  # a webhook-id is one alert
        assert len(by_webhook_id) == len(ids)  # one webhook-id per alert, however often it was tried

        def audited() -> bool:  # the audit service's own database: every alert has its record
            database = f"file:{suite.var_dir / 'audit.db'}?mode=ro"
            with contextlib.closing(sqlite3.connect(database, uri=True)) as conn:
                return ids <= {row[0] for row in conn.execute("SELECT alert_id FROM audit_disclosure")}

        await wait_for(audited, timeout=180)

        replay = (await client.get("/v1/alerts", params={"after": 0, "limit": 1000})).json()
        replayed = [a["alert_id"] for a in replay["items"]]
        assert sorted(replayed) == sorted(ids)  # every alert, none twice
        assert [a["event_number"] for a in replay["items"]] == list(range(1, 2 * PER_BATCH + 1))
        assert replay["event_count"] == 2 * PER_BATCH
