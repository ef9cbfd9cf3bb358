"""GET /v1/withheld and POST /v1/withheld/{alert_id}/release (CONTRACT §6 v1.1): a designated
safeguarding lead's release on professional judgement, audited, the partnership IG told."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FixedClock, InProcessBus, auth_headers, outbox_events
from isp_schemas import topics

from ..kit import CSC, PROVIDER, assessment_missed
from .test_api import PARENT, publish

DNA = "uk.isp.alert.did_not_attend.v1"
RELEASE = {"reason": "the baby is at risk tonight", "service_user_informed": False, "not_informed_reason": "risk"}


@pytest.fixture
def runtime(make_runtime) -> ServiceRuntime:
    runtime: ServiceRuntime = make_runtime()
    return runtime


@pytest.fixture
def client(runtime: ServiceRuntime) -> TestClient:
    return TestClient(runtime.api)


@pytest.fixture
def bus(runtime: ServiceRuntime) -> InProcessBus:
    return InProcessBus([runtime])


def dsl(runtime: ServiceRuntime, org: str = PROVIDER, role: str = "dsl") -> dict[str, str]:
    return auth_headers(runtime.settings.resolved_key_dir, org, role)


async def withheld_dna(bus: InProcessBus, clock: FixedClock) -> str:
    await publish(bus, clock, assessment_missed(PARENT, clock.now() - timedelta(hours=1)), PROVIDER)
    [notice] = bus.events(topics.alerts(PROVIDER), "uk.isp.alert.disclosure_withheld.v1")
    alert_id: str = notice["data"]["withheld_alert_id"]
    return alert_id


def audit(runtime: ServiceRuntime) -> list[dict[str, Any]]:
    return [e["data"] for e in outbox_events(runtime.engine, topics.AUDIT)]


async def test_the_dsl_lists_open_withheld_alerts_and_releases_one(runtime, client, bus, clock):
    alert_id = await withheld_dna(bus, clock)
    listed = client.get("/v1/withheld", headers=dsl(runtime)).json()["items"]
    assert [(w["alert_id"], w["intended_recipient"], w["state"]) for w in listed] == [(alert_id, CSC, "open")]
    assert "no consent recorded" in listed[0]["reason"]

    response = client.post(f"/v1/withheld/{alert_id}/release", json=RELEASE, headers=dsl(runtime))
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "released"
    await bus.drain()
    [alert] = outbox_events(runtime.engine, topics.alerts(CSC), DNA)
    basis = alert["data"]["lawful_basis"]
    assert basis["kind"] == "professional_judgement" and basis["reason"] == RELEASE["reason"] and basis["by"]
    shared = [r for r in audit(runtime) if r["decision"] == "shared"]
    assert len(shared) == 1 and shared[0]["supersedes"]
    assert shared[0]["service_user_informed"] is False and shared[0]["not_informed_reason"] == "risk"
    [told] = outbox_events(runtime.engine, topics.alerts("PARTNERSHIP"), "uk.isp.alert.judgement_release.v1")
    assert told["data"]["withheld_alert_id"] == alert_id and told["data"]["discloser"] == PROVIDER
    assert "person" not in told["data"]
    [released] = outbox_events(runtime.engine, topics.alerts(PROVIDER), "uk.isp.alert.disclosure_released.v1")
    assert released["data"]["lawful_basis"] == basis
    assert client.get("/v1/withheld", headers=dsl(runtime)).json()["items"] == []
    again = client.post(f"/v1/withheld/{alert_id}/release", json=RELEASE, headers=dsl(runtime))
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"


async def test_only_the_disclosers_dsl_may_release(runtime, client, bus, clock):
    alert_id = await withheld_dna(bus, clock)
    assert (
        client.post(f"/v1/withheld/{alert_id}/release", json=RELEASE, headers=dsl(runtime, role="provider")).status_code
        == 403
    )
    other = client.post(f"/v1/withheld/{alert_id}/release", json=RELEASE, headers=dsl(runtime, org=CSC))
    assert other.status_code == 404  # another organisation's withheld alert does not exist for it
    assert outbox_events(runtime.engine, topics.alerts(CSC), DNA) == []


async def test_not_telling_the_service_user_needs_its_reason(runtime, client, bus, clock):
    alert_id = await withheld_dna(bus, clock)
    body = {"reason": "risk", "service_user_informed": False}
    response = client.post(f"/v1/withheld/{alert_id}/release", json=body, headers=dsl(runtime))
    assert response.status_code == 422
    assert "not_informed_reason" in response.text


async def test_a_withheld_alert_past_its_deadline_can_no_longer_be_released(runtime, client, bus, clock):
    alert_id = await withheld_dna(bus, clock)
    clock.advance(timedelta(days=1))
    response = client.post(f"/v1/withheld/{alert_id}/release", json=RELEASE, headers=dsl(runtime))
    assert response.status_code == 409
    assert "past its deadline" in response.json()["detail"]


async def test_informing_is_recorded_per_share(runtime, client, bus, clock):
    alert_id = await withheld_dna(bus, clock)
    client.post(f"/v1/withheld/{alert_id}/release", json=RELEASE, headers=dsl(runtime))
    told = {"nhs_number": PARENT.nhs_number, "informed": True, "alert_id": alert_id}
    response = client.post("/v1/informing", json=told, headers=dsl(runtime, role="provider"))
    assert response.status_code == 201, response.text
    assert response.json() == {"org": PROVIDER, "informed": True, "reason": None, "alert_id": alert_id}
    # another share (none here) or another organisation's share is not the caller's to state
    other = client.post("/v1/informing", json=told, headers=dsl(runtime, org=CSC, role="social_care"))
    assert other.status_code == 404
    unknown = client.post("/v1/informing", json={**told, "alert_id": "nope"}, headers=dsl(runtime, role="provider"))
    assert unknown.status_code == 404
