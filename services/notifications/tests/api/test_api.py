"""The HTTP API in process: FastAPI's TestClient on ``bootstrap.build`` with an in-memory engine,
a FixedClock and a FakeHttpClient; partners' events arrive through the InProcessBus (the same
event path a faust agent runs). Every route is for the caller's own organisation; refusals are
problem+json."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FixedClock, InProcessBus, auth_headers, nhs_number, outbox_events
from isp_notifications.commands import ALERT_TYPES
from isp_notifications.domain.audience import DSL_ONLY
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent, EventData
from isp_schemas.people import Person
from isp_schemas.socialcare import ConferenceScheduled, EnquiryOpened

from ..kit import CSC, PROVIDER, assessment_missed, consent_given

PARENT = Person(nhs_number=nhs_number(3))
DNA = "uk.isp.alert.did_not_attend.v1"
PROBLEM = "application/problem+json"


@pytest.fixture
def runtime(make_runtime) -> ServiceRuntime:
    runtime: ServiceRuntime = make_runtime()
    return runtime


@pytest.fixture
def client(runtime: ServiceRuntime) -> TestClient:
    return TestClient(runtime.api)  # no lifespan: no broker, no delivery loop


@pytest.fixture
def bus(runtime: ServiceRuntime) -> InProcessBus:
    return InProcessBus([runtime])


def as_org(runtime: ServiceRuntime, org: str, role: str = "social_care") -> dict[str, str]:
    return auth_headers(runtime.settings.resolved_key_dir, org, role)


async def publish(bus: InProcessBus, clock: FixedClock, data: EventData, source: str) -> None:
    event = CloudEvent.create(type=data.event_type, source_org=source, data=data, time=clock.now())
    await bus.publish(event, data.topic)


async def consent_and_dna(bus: InProcessBus, clock: FixedClock, parent: Person = PARENT, n: int = 1) -> dict[str, Any]:
    """A consent covering attendance, then a missed assessment: one did_not_attend alert for CSC."""
    before = len(bus.events(topics.alerts(CSC), DNA))
    await publish(bus, clock, consent_given(parent, consent_id=f"con-{n}"), PROVIDER)
    missed = assessment_missed(parent, clock.now() - timedelta(hours=1), referral_id=f"ref-{n}")
    await publish(bus, clock, missed, PROVIDER)
    [alert] = bus.events(topics.alerts(CSC), DNA)[before:]
    return alert


def problem(response: Any, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == detail


# -- subscriptions ---------------------------------------------------------------------------


def test_a_subscription_is_the_organisations_own(runtime, client):
    created = client.post(
        "/v1/subscriptions", json={"url": "http://localhost:9/hook", "types": ["*"]}, headers=as_org(runtime, CSC)
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["secret"].startswith("whsec_") and sub["org"] == CSC
    assert sub["types"] == sorted(ALERT_TYPES - DSL_ONLY)  # a practitioner's "*": every type but the DSL's
    [listed] = client.get("/v1/subscriptions", headers=as_org(runtime, CSC)).json()["items"]
    assert listed["id"] == sub["id"] and listed["event_count"] == 0
    assert listed["created_at"] == "2026-03-10T12:00:00Z" and listed["failing_since"] is None
    other = client.delete(f"/v1/subscriptions/{sub['id']}", headers=as_org(runtime, "BHCC-CSC"))
    problem(other, 403, "This is not your organisation's subscription.")
    assert other.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "This is not your organisation's subscription.",
    }
    deleted = client.delete(f"/v1/subscriptions/{sub['id']}", headers=as_org(runtime, CSC))
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get("/v1/subscriptions", headers=as_org(runtime, CSC)).json() == {"items": []}
    gone = client.delete(f"/v1/subscriptions/{sub['id']}", headers=as_org(runtime, CSC))
    problem(gone, 404, f"No subscription {sub['id']}.")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"url": "http://localhost:9/hook", "types": ["nope", "*"]}, "Unknown alert types: nope."),
        ({"url": "ftp://127.0.0.1/x", "types": ["*"]}, "Webhook URL refused: the scheme must be https or http."),
        (
            {"url": "http://169.254.169.254/latest", "types": ["*"]},
            "Webhook URL refused: link-local addresses are refused.",
        ),
    ],
)
def test_a_subscription_needs_known_types_and_an_allowed_url(runtime, client, body, detail):
    response = client.post("/v1/subscriptions", json=body, headers=as_org(runtime, CSC))
    problem(response, 422, detail)
    assert response.json()["title"] == "Unprocessable Content"


def test_every_route_needs_a_token(client):
    assert client.get("/v1/subscriptions").status_code == 401
    assert client.get("/v1/alerts").status_code == 401


# -- alerts ----------------------------------------------------------------------------------


async def test_the_recipient_reads_and_acknowledges_an_alert_and_the_receipt_is_audited(runtime, client, bus, clock):
    alert = await consent_and_dna(bus, clock)
    [listed] = client.get("/v1/alerts", headers=as_org(runtime, CSC)).json()["items"]
    assert listed["alert_id"] == alert["id"] and listed["status"] == "pending" and listed["event"]["id"] == alert["id"]
    assert listed["created_at"] == "2026-03-10T12:00:00Z" and listed["deadline"] == "2026-03-11T11:00:00Z"
    problem(
        client.get(f"/v1/alerts/{alert['id']}", headers=as_org(runtime, PROVIDER)),
        403,
        "This alert is for another organisation.",
    )
    problem(client.get("/v1/alerts/nope", headers=as_org(runtime, CSC)), 404, "No alert with that id.")
    clock.advance(minutes=5)
    acked = client.post(f"/v1/alerts/{alert['id']}/ack", headers=as_org(runtime, CSC))
    assert acked.status_code == 200, acked.text
    assert acked.json() == {"alert_id": alert["id"], "acknowledged_at": "2026-03-10T12:05:00Z"}
    clock.advance(minutes=5)  # acknowledged once: the first time stays
    again = client.post(f"/v1/alerts/{alert['id']}/ack", headers=as_org(runtime, CSC))
    assert again.json()["acknowledged_at"] == "2026-03-10T12:05:00Z"
    delivered = client.get("/v1/alerts", params={"status": "delivered"}, headers=as_org(runtime, CSC)).json()
    assert [a["alert_id"] for a in delivered["items"]] == [alert["id"]]
    records = [e["data"] for e in outbox_events(runtime.engine, topics.AUDIT)]
    assert [(r["decision"], r["channel"]) for r in records] == [("shared", "kafka"), ("received", "api")]


async def test_a_subscription_replays_its_alerts_after_a_count_and_logs_its_tries(runtime, client, bus, clock):
    sub = client.post(
        "/v1/subscriptions", json={"url": "http://localhost:9/hook", "types": ["*"]}, headers=as_org(runtime, CSC)
    ).json()
    alert = await consent_and_dna(bus, clock)
    replay = client.get("/v1/alerts", params={"after": 0}, headers=as_org(runtime, CSC)).json()
    assert replay["event_count"] == 1
    assert [(a["alert_id"], a["event_number"]) for a in replay["items"]] == [(alert["id"], 1)]
    named = client.get("/v1/alerts", params={"after": 1, "subscription_id": sub["id"]}, headers=as_org(runtime, CSC))
    assert named.json() == {"items": [], "total": 0, "next": None, "event_count": 1}
    await runtime.context.delivery.pass_once()  # the FakeHttpClient answers 200
    [attempt] = client.get(f"/v1/subscriptions/{sub['id']}/attempts", headers=as_org(runtime, CSC)).json()["items"]
    assert attempt["kind"] == "alert" and attempt["outcome"] == "delivered" and attempt["at"] == "2026-03-10T12:00:00Z"


async def dnas(bus: InProcessBus, clock: FixedClock, count: int) -> list[str]:
    """``count`` did_not_attend alerts for CSC about different parents, a minute apart: ids, oldest first."""
    ids = []
    for n in range(count):
        ids.append((await consent_and_dna(bus, clock, Person(nhs_number=nhs_number(40 + n)), n))["id"])
        clock.advance(minutes=1)
    return ids


async def test_the_alerts_list_pages_newest_first_with_a_cursor_and_a_total(runtime, client, bus, clock):
    oldest, middle, newest = await dnas(bus, clock, 3)
    first = client.get("/v1/alerts", params={"limit": 2}, headers=as_org(runtime, CSC)).json()
    assert [a["alert_id"] for a in first["items"]] == [newest, middle]
    assert first["total"] == 3 and first["next"]
    params = {"limit": 2, "cursor": first["next"]}
    last = client.get("/v1/alerts", params=params, headers=as_org(runtime, CSC)).json()
    assert [a["alert_id"] for a in last["items"]] == [oldest] and last["total"] == 3 and last["next"] is None
    bad = client.get("/v1/alerts", params={"cursor": "nonsense"}, headers=as_org(runtime, CSC))
    problem(bad, 422, "cursor: not one this service gave; pass a page's next unchanged.")


async def test_a_replay_pages_by_the_running_count_and_its_next_is_the_next_after(runtime, client, bus, clock):
    client.post(
        "/v1/subscriptions", json={"url": "http://localhost:9/hook", "types": ["*"]}, headers=as_org(runtime, CSC)
    )
    ids = await dnas(bus, clock, 3)
    first = client.get("/v1/alerts", params={"after": 0, "limit": 2}, headers=as_org(runtime, CSC)).json()
    assert [a["event_number"] for a in first["items"]] == [1, 2] and first["total"] == 3 and first["next"] == "2"
    last = client.get("/v1/alerts", params={"after": first["next"], "limit": 2}, headers=as_org(runtime, CSC)).json()
    assert [a["alert_id"] for a in last["items"]] == ids[2:] and last["total"] == 1 and last["next"] is None
    mixed = client.get("/v1/alerts", params={"after": 0, "cursor": "x"}, headers=as_org(runtime, CSC))
    problem(mixed, 422, "cursor: a replay pages with after (pass a page's next as after), not cursor.")


def test_a_replay_names_the_subscription_unless_the_organisation_has_exactly_one(runtime, client):
    response = client.get("/v1/alerts", params={"after": 0}, headers=as_org(runtime, CSC))
    problem(response, 422, "Name the subscription (subscription_id) to replay.")


# -- conferences -----------------------------------------------------------------------------


async def test_an_invitee_answers_and_records_its_report(runtime, client, bus, clock):
    problem(
        client.post(
            "/v1/conferences/conf-1/responses", json={"response": "attending"}, headers=as_org(runtime, PROVIDER)
        ),
        404,
        "Your organisation has no invitation to conf-1.",
    )
    child = {"local_id": "C-1"}
    enquiry = EnquiryOpened(enquiry_id="s47-1", child=child, parents=[PARENT], opened_on=date(2026, 3, 1))
    await publish(bus, clock, enquiry, CSC)
    conference = ConferenceScheduled(
        conference_id="conf-1",
        kind="initial_child_protection",
        children=[child],
        parents=[PARENT],
        scheduled_for=datetime(2026, 3, 13, 10, tzinfo=clock.now().tzinfo),
        location="Room 1",
        issued_at=clock.now(),
        invitees=[PROVIDER],
    )
    await publish(bus, clock, conference, CSC)
    answered = client.post(
        "/v1/conferences/conf-1/responses", json={"response": "cannot_attend"}, headers=as_org(runtime, PROVIDER)
    )
    assert answered.status_code == 200, answered.text
    assert answered.json() == {
        "conference_id": "conf-1",
        "invitee": PROVIDER,
        "response": "cannot_attend",
        "report_requested": True,  # short notice: three working days
        "report_received_at": None,
    }
    report = client.post("/v1/conferences/conf-1/report", headers=as_org(runtime, PROVIDER))
    assert report.json()["report_received_at"] == "2026-03-10T12:00:00Z"
    bad = client.post("/v1/conferences/conf-1/responses", json={"response": "maybe"}, headers=as_org(runtime, PROVIDER))
    assert bad.status_code == 422


# -- consents and telling the service user ---------------------------------------------------


async def test_a_consent_is_readable_by_the_organisation_that_recorded_it(runtime, client, bus, clock):
    await consent_and_dna(bus, clock)
    consent = client.get("/v1/consents/con-1", headers=as_org(runtime, PROVIDER, "provider"))
    assert consent.status_code == 200, consent.text
    assert consent.json() == {
        "consent_id": "con-1",
        "recorded_by": PROVIDER,
        "recipients": [CSC],
        "purposes": ["safeguarding"],
        "data_categories": ["attendance"],
        "given_on": "2026-01-01",
        "expires_on": None,
        "withdrawn_at": None,
        "state": "active",
    }
    forbidden = client.get("/v1/consents/con-1", headers=as_org(runtime, CSC))
    problem(forbidden, 403, "Only the organisation that recorded a consent can read it.")
    problem(
        client.get("/v1/consents/nope", headers=as_org(runtime, CSC)), 404, "No consent with that id has been received."
    )


def test_a_sender_states_whether_it_told_the_service_user_and_why_not(runtime, client):
    statement = {"nhs_number": PARENT.nhs_number, "informed": False, "reason": "would put the child at risk"}
    response = client.post("/v1/informing", json=statement, headers=as_org(runtime, PROVIDER, "provider"))
    assert response.status_code == 201, response.text
    assert response.json() == {
        "org": PROVIDER,
        "informed": False,
        "reason": "would put the child at risk",
        "alert_id": None,
    }
    no_reason = {"nhs_number": PARENT.nhs_number, "informed": False}
    refused = client.post("/v1/informing", json=no_reason, headers=as_org(runtime, PROVIDER, "provider"))
    problem(refused, 422, "A decision not to tell the service user needs its reason.")
