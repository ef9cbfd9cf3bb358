"""Webhook subscriptions and alerts over HTTP as an attacker would try them (issue 11, "Webhooks"
and "Audience"): the delivery log tells nothing about what answers at a URL; secrets are never
stored in plain text and rotate with an overlap; the DSL's alerts reach only role ``dsl``;
only practitioners and DSLs subscribe, and an organisation's subscriptions are capped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FakeHttpClient, auth_headers
from isp_notifications.commands import ALERT_TYPES
from isp_notifications.delivery.sealing import KEY_FILE
from isp_notifications.domain.audience import DSL_ONLY
from isp_notifications.settings import Settings
from isp_notifications.tables import AlertRecord, Delivery, Subscription
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ..kit import CSC

HOOK = {"url": "http://localhost:9/hook", "types": ["*"]}
CROSS_AREA = "uk.isp.alert.register_cross_area.v1"
DNA = "uk.isp.alert.did_not_attend.v1"
PROBLEM = "application/problem+json"


def as_org(runtime: ServiceRuntime, org: str = CSC, role: str = "social_care") -> dict[str, str]:
    return auth_headers(runtime.settings.resolved_key_dir, org, role)


def subscribe(client: TestClient, runtime: ServiceRuntime, role: str = "social_care", **body: Any) -> Any:
    return client.post("/v1/subscriptions", json={**HOOK, **body}, headers=as_org(runtime, role=role))


def webhook_to(runtime: ServiceRuntime, sub_id: str, alert_id: str = "alert-1", alert_type: str = DNA) -> None:
    """An alert for CSC queued to the subscription (as :func:`disclosure.queue_webhooks` queues one)."""
    now = runtime.clock.now()
    with runtime.uow() as uow:
        uow.session.add(
            AlertRecord(id=alert_id, type=alert_type, recipient=CSC, sender=CSC, event={"id": alert_id}, created_at=now)
        )
        uow.session.add(
            Delivery(
                id=f"msg_{alert_id}",
                alert_id=alert_id,
                subscription_id=sub_id,
                org=CSC,
                event_number=1,
                body=f'{{"id":"{alert_id}"}}',
                next_attempt_at=now,
            )
        )
        uow.commit()


# -- the delivery log --------------------------------------------------------------------------


async def test_the_delivery_log_shows_only_when_which_event_and_delivered_or_failed(make_runtime):
    """A subscriber could point a webhook at any internal address and read what answered there."""
    runtime = make_runtime(FakeHttpClient(lambda _request: httpx.Response(503, text="internal admin console")))
    client = TestClient(runtime.api)
    sub = subscribe(client, runtime).json()
    webhook_to(runtime, sub["id"])
    await runtime.context.delivery.pass_once()
    log = client.get(f"/v1/subscriptions/{sub['id']}/attempts", headers=as_org(runtime))
    [attempt] = log.json()["items"]
    assert attempt == {"delivery_id": "msg_alert-1", "kind": "alert", "at": "2026-03-10T12:00:00Z", "outcome": "failed"}
    assert "503" not in log.text and "HTTP" not in log.text and "duration" not in log.text


# -- secrets -----------------------------------------------------------------------------------


def test_a_secret_is_stored_sealed_never_in_plain_text(make_runtime, tmp_path):
    runtime = make_runtime()
    client = TestClient(runtime.api)
    sub = subscribe(client, runtime).json()
    with runtime.engine.connect() as connection:
        [row] = connection.execute(text("SELECT * FROM notifications_subscription")).mappings().all()
    stored = " ".join(str(v) for v in row.values())
    assert sub["secret"].startswith("whsec_") and sub["secret"] not in stored and "whsec_" not in stored
    assert sub["secret"].removeprefix("whsec_") not in stored
    key = (tmp_path / "keys" / KEY_FILE).read_bytes()  # the embedded default's key, owner-only
    assert Fernet(key).decrypt(row["secret_sealed"].encode()).decode() == sub["secret"]
    assert (tmp_path / "keys" / KEY_FILE).stat().st_mode & 0o077 == 0


def verifies(secret: str, request: httpx.Request) -> bool:
    """Whether a receiver holding ``secret`` accepts ``request`` (at the wall time)."""
    try:
        Webhook(secret).verify(request.content, dict(request.headers))
    except WebhookVerificationError:
        return False
    return True


def signed_with(secret: str, request: httpx.Request) -> bool:
    """Whether one of ``request``'s signatures is ``secret``'s (whatever the time now)."""
    at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    mine = Webhook(secret).sign(msg_id=request.headers["webhook-id"], timestamp=at, data=request.content.decode())
    return mine in request.headers["webhook-signature"].split(" ")


async def test_a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends(make_runtime, clock):
    clock.set(datetime.now(UTC))  # a receiver checks the signature's time against its own clock
    http = FakeHttpClient()
    runtime = make_runtime(http, webhook_secret_overlap=3600)
    client, loop = TestClient(runtime.api), runtime.context.delivery
    old = subscribe(client, runtime).json()
    rotated = client.post(f"/v1/subscriptions/{old['id']}/secret", headers=as_org(runtime))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old["secret"] and rotated.json()["previous_valid_until"] == (
        clock.now() + timedelta(hours=1)
    ).isoformat().replace("+00:00", "Z")
    webhook_to(runtime, old["id"], "during")
    await loop.pass_once()
    during = http.requests[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verifies(new, during) and verifies(old["secret"], during)  # a receiver with either accepts it
    clock.advance(seconds=3601)
    webhook_to(runtime, old["id"], "after")
    await loop.pass_once()
    after = http.requests[-1]
    assert after is not during and len(after.headers["webhook-signature"].split(" ")) == 1
    assert signed_with(new, after) and not signed_with(old["secret"], after)


def test_only_the_owning_organisation_rotates_a_secret(make_runtime):
    runtime = make_runtime()
    client = TestClient(runtime.api)
    sub = subscribe(client, runtime).json()
    other = client.post(f"/v1/subscriptions/{sub['id']}/secret", headers=as_org(runtime, "BHCC-CSC"))
    admin = client.post(f"/v1/subscriptions/{sub['id']}/secret", headers=as_org(runtime, role="admin"))
    assert other.status_code == 403 and admin.status_code == 403
    assert other.headers["content-type"] == PROBLEM


def test_production_refuses_to_start_without_a_key_for_webhook_secrets(tmp_path):
    production = dict(var_dir=tmp_path, environment="production", partnership_key="p" * 40)
    [missing] = [p for p in Settings(**production).production_problems() if "WEBHOOK_SECRET_KEY" in p]
    assert "must be set" in missing
    [bad] = [p for p in Settings(**production, webhook_secret_key="hunter2").production_problems() if "WEBHOOK" in p]
    assert "Fernet" in bad and "hunter2" not in bad
    good = Settings(**production, webhook_secret_key=Fernet.generate_key().decode()).production_problems()
    assert not [p for p in good if "WEBHOOK" in p]


# -- audience ----------------------------------------------------------------------------------


def alerts(client: TestClient, runtime: ServiceRuntime, role: str, **params: Any) -> set[str]:
    response = client.get("/v1/alerts", params=params, headers=as_org(runtime, role=role))
    assert response.status_code == 200, response.text
    return {a["type"] for a in response.json()["items"]}


def test_the_dsls_alerts_exist_only_for_role_dsl(make_runtime):
    runtime = make_runtime()
    client = TestClient(runtime.api)
    sub = subscribe(client, runtime, role="dsl").json()
    assert sub["types"] == ["*"]
    webhook_to(runtime, sub["id"], "cross", CROSS_AREA)
    webhook_to(runtime, sub["id"], "dna", DNA)
    assert alerts(client, runtime, "dsl") == {CROSS_AREA, DNA}
    for role in ("social_care", "provider", "admin"):
        assert alerts(client, runtime, role) == {DNA}
        assert alerts(client, runtime, role, after=0, subscription_id=sub["id"]) == {DNA}
        assert client.get("/v1/alerts/cross", headers=as_org(runtime, role=role)).status_code == 404
        assert client.post("/v1/alerts/cross/ack", headers=as_org(runtime, role=role)).status_code == 404
    assert client.get("/v1/alerts/cross", headers=as_org(runtime, role="dsl")).status_code == 200
    assert client.post("/v1/alerts/cross/ack", headers=as_org(runtime, role="dsl")).status_code == 200


@pytest.mark.parametrize("role", ["admin", "ig_officer"])
def test_an_admin_or_ig_officer_cannot_subscribe(make_runtime, role):
    runtime = make_runtime()
    refused = subscribe(TestClient(runtime.api), runtime, role=role)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM


def test_only_a_dsl_subscribes_to_the_dsls_types_and_anyone_elses_star_leaves_them_out(make_runtime):
    runtime = make_runtime()
    client = TestClient(runtime.api)
    named = subscribe(client, runtime, types=[DNA, CROSS_AREA])
    assert named.status_code == 403 and CROSS_AREA in named.json()["detail"]
    star = subscribe(client, runtime, role="provider").json()
    assert set(star["types"]) == ALERT_TYPES - DSL_ONLY and not DSL_ONLY & set(star["types"])
    with runtime.uow() as uow:
        assert uow.session.get(Subscription, star["id"]).types == star["types"]
    assert subscribe(client, runtime, role="dsl", types=[CROSS_AREA]).status_code == 201


def test_an_organisation_has_at_most_its_cap_of_subscriptions(make_runtime):
    runtime = make_runtime(max_subscriptions_per_org=2)
    client = TestClient(runtime.api)
    first = subscribe(client, runtime).json()
    assert subscribe(client, runtime, role="dsl").status_code == 201
    third = subscribe(client, runtime)
    assert third.status_code == 409 and third.headers["content-type"] == PROBLEM
    assert "2" in third.json()["detail"] and "max_subscriptions_per_org" in third.json()["detail"]
    client.delete(f"/v1/subscriptions/{first['id']}", headers=as_org(runtime))
    assert subscribe(client, runtime).status_code == 201  # a deleted one no longer counts
    other = client.post("/v1/subscriptions", json=HOOK, headers=as_org(runtime, "BHCC-CSC"))
    assert other.status_code == 201  # the cap is each organisation's own
