"""Referrals end to end through the four services, as real processes: both directions over HTTP
and Kafka with the same outcome, the receiver seeing a referral once the decision shares it (and
only what it shares, each read audited), the sender told of each change of state, overdue steps
and an unanswered emergency escalated out of hours, appointments left without an outcome and the
DNA alert.

The alerts are the notifications service's (CONTRACT section 4, alerts): these tests hold it to
the contract for the referral events the referrals service publishes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from isp_common.testing import fresh_nhs_number, unique, wait_for, wait_for_consent
from isp_common.workingdays import LONDON
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralRequested
from isp_schemas.treatment import AppointmentBooked, AppointmentMissed

pytestmark = [pytest.mark.e2e]

CSC = "WSCC-CSC"
PROVIDER = "CGL-WSX"
REQUESTED = "uk.isp.referral.requested.v1"


def referral_body(nhs: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "referral_id": unique("ref-"),
        "direction": "to_treatment",
        "from_org": CSC,
        "to_org": PROVIDER,
        "person": {"nhs_number": nhs},
        "children": [{"local_id": unique("C-")}],
        "rag": "amber",
        "summary": "Parent misusing alcohol; child on a CIN plan",
        "parent_agreed": True,
        "concerns": ["alcohol"],
        "history": "Known to CSC since 2024",
        "known_to_treatment": False,
    }
    fields.update(overrides)
    return fields


async def give_consent(kafka, nhs: str, suite) -> str:
    consent = ConsentGiven(
        consent_id=unique("con-"),
        person={"nhs_number": nhs},
        recorded_by=PROVIDER,
        recipients=["*"],
        purposes=["safeguarding"],
        data_categories=["referral", "attendance", "treatment_status"],
        given_on=(datetime.now(UTC) - timedelta(days=60)).date(),
    )
    await kafka.send_event(
        topics.CONSENT, CloudEvent.create(type=consent.event_type, source_org=PROVIDER, data=consent)
    )
    await wait_for_consent(suite, PROVIDER, consent.consent_id)
    return consent.consent_id


async def publish_referral(kafka, body: dict[str, Any], time: datetime | None = None, source: str | None = None):
    data = ReferralRequested.model_validate(body)
    event = CloudEvent.create(type=REQUESTED, source_org=source or data.from_org, data=data, time=time)
    await kafka.send_event(topics.REFERRALS, event)
    return event


def client_for(suite, headers: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=suite.url("referrals"), headers=headers)


async def fetch(client: httpx.AsyncClient, referral_id: str, timeout: float = 60) -> dict[str, Any]:
    async def known():
        response = await client.get(f"/v1/referrals/{referral_id}")
        return response.json() if response.status_code == 200 else None

    return await wait_for(known, timeout=timeout)


def alert_of(alert_type: str, referral_id: str, **match: Any):
    def predicate(record) -> bool:
        body = json.loads(record.value)
        data = body.get("data", {})
        return (
            body.get("type") == alert_type
            and data.get("referral_id") == referral_id
            and all(data.get(k) == v for k, v in match.items())
        )

    return predicate


def event_of(event_type: str, referral_id: str, **match: Any):
    def predicate(record) -> bool:
        body = json.loads(record.value)
        data = body.get("data", {})
        return (
            body.get("type") == event_type
            and data.get("referral_id") == referral_id
            and all(data.get(k) == v for k, v in match.items())
        )

    return predicate


SAME_OUTCOME_IGNORES = {"id", "channel", "history", "requested_at", "state_since", "requested_event_id", "disclosure"}


DIRECTIONS = {
    # direction: (sender, sender role, receiver, receiver role, extra fields)
    "to_treatment": (CSC, "social_care", PROVIDER, "provider", {}),
    "to_social_care": (PROVIDER, "provider", CSC, "social_care", {"threshold": "child_in_need_s17"}),
}


@pytest.mark.parametrize("direction", sorted(DIRECTIONS))
async def test_a_referral_over_http_and_one_over_kafka_end_alike(suite, kafka, headers_for, direction):
    sender, sender_role, receiver, receiver_role, extra = DIRECTIONS[direction]
    nhs = fresh_nhs_number()
    await give_consent(kafka, nhs, suite)
    fields = {
        "direction": direction,
        "from_org": sender,
        "to_org": receiver,
        "children": [{"local_id": unique("C-")}, {"expected_due_date": "2027-03-01"}],
        **extra,
    }
    over_http, over_kafka = referral_body(nhs, **fields), referral_body(nhs, **fields)
    strip = lambda view: {k: v for k, v in view.items() if k not in SAME_OUTCOME_IGNORES}  # noqa: E731
    async with (
        client_for(suite, headers_for(sender, sender_role)) as sending,
        client_for(suite, headers_for(receiver, receiver_role)) as receiving,
    ):
        created = await sending.post("/v1/referrals", json=over_http)
        assert created.status_code == 201, created.text
        await publish_referral(kafka, over_kafka)
        from_kafka = await fetch(sending, over_kafka["referral_id"])
        from_http = (await sending.get(f"/v1/referrals/{over_http['referral_id']}")).json()
        assert from_http["channel"] == "api" and from_kafka["channel"] == "kafka"
        assert strip(from_http) == strip(from_kafka)
        # the receiver sees each once the notifications service's decision shares it (on isp.audit.v1)
        for body in (over_http, over_kafka):
            assert (await fetch(receiving, body["referral_id"]))["disclosure"]["decision"] == "shared"

        # and they go on alike: accepted, with the same due dates
        accepted = [
            (await receiving.post(f"/v1/referrals/{body['referral_id']}/accept", json={"rag": "red"})).json()
            for body in (over_http, over_kafka)
        ]
        assert accepted[0]["state"] == accepted[1]["state"] == "accepted"
        assert strip(accepted[0]) == strip(accepted[1])

    # The HTTP-made referral is published as the same CloudEvent a partner would publish, once:
    # its acceptance, published behind it on the same key, is the sentinel.
    published = await kafka.collect_until(
        topics.REFERRALS,
        event_of(REQUESTED, over_http["referral_id"]),
        event_of("uk.isp.referral.accepted.v1", over_http["referral_id"]),
    )
    assert len(published) == 1
    event = json.loads(published[0].value)
    assert event["source"] == f"urn:isp:org:{sender}" and event["subject"] == nhs and published[0].key == nhs.encode()
    assert ReferralRequested.model_validate(event["data"]) == ReferralRequested.model_validate(over_http)

    # Both are delivered to the receiving organisation; from social care to treatment as priority.
    for body in (over_http, over_kafka):
        received = await kafka.collect(
            topics.alerts(receiver), alert_of("uk.isp.alert.referral_received.v1", body["referral_id"]), timeout=60
        )
        assert received, f"no referral_received alert for the {body['referral_id']} referral"
        assert json.loads(received[0].value)["data"]["priority"] is (direction == "to_treatment")


async def test_an_invalid_referral_is_refused_alike_over_http_and_kafka(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    no_threshold = referral_body(nhs, direction="to_social_care", from_org=PROVIDER, to_org=CSC)
    not_theirs = referral_body(nhs)
    async with client_for(suite, headers_for(PROVIDER, "provider")) as provider:
        assert (await provider.post("/v1/referrals", json=no_threshold)).status_code == 422
        assert (await provider.post("/v1/referrals", json=not_theirs)).status_code == 403

    bad = CloudEvent.create(type=REQUESTED, source_org=PROVIDER, data=no_threshold, subject=nhs)
    await kafka.send_event(topics.REFERRALS, bad)
    forged = await publish_referral(kafka, not_theirs, source=PROVIDER)

    def dead(event_id: str):
        def is_it(record) -> bool:
            try:
                return json.loads(record.value).get("id") == event_id
            except ValueError:  # another test's malformed message, dead-lettered byte for byte
                return False

        return is_it

    invalid = await kafka.collect(topics.DEADLETTER, dead(bad.id), timeout=30)
    assert invalid and b"threshold" in dict(invalid[0].headers)["isp-error"]
    rejected = await kafka.collect(topics.DEADLETTER, dead(forged.id), timeout=30)
    assert rejected and b"from_org" in dict(rejected[0].headers)["isp-error"]
    async with client_for(suite, headers_for(CSC, "social_care")) as csc:
        for body in (no_threshold, not_theirs):
            assert (await csc.get(f"/v1/referrals/{body['referral_id']}")).status_code == 404


async def test_the_sender_is_told_of_each_change_of_state(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    await give_consent(kafka, nhs, suite)
    body = referral_body(nhs)
    ref = body["referral_id"]
    async with (
        client_for(suite, headers_for(CSC, "social_care")) as csc,
        client_for(suite, headers_for(PROVIDER, "provider")) as provider,
    ):
        assert (await csc.post("/v1/referrals", json=body)).status_code == 201
        await fetch(provider, ref)  # shared with the provider
        illegal = await provider.post(f"/v1/referrals/{ref}/activate", json={})
        assert illegal.status_code == 409 and "accept" in illegal.json()["allowed"]
        for path, payload in [
            ("accept", {"rag": "red"}),
            ("allocate", {"practitioner": "dap-7"}),
            ("joint-visit", {"scheduled_for": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}),
            ("workbook", {}),
            ("joint-visit/done", {}),
            ("activate", {}),
            ("summaries", {}),
            ("close", {"outcome": "completed"}),
        ]:
            response = await provider.post(f"/v1/referrals/{ref}/{path}", json=payload)
            assert response.status_code == 200, (path, response.text)
        view = (await csc.get(f"/v1/referrals/{ref}")).json()
    assert view["state"] == "closed" and view["outcome"] == "completed"
    assert [h["action"] for h in view["history"]][:3] == ["request", "accept", "allocate"]

    for state in ("accepted", "allocated", "closed"):
        told = await kafka.collect(
            topics.alerts(CSC), alert_of("uk.isp.alert.referral_status.v1", ref, state=state), timeout=60
        )
        assert told, f"the sender was not told the referral was {state}"
    closed = await kafka.collect(
        topics.alerts(CSC), alert_of("uk.isp.alert.referral_status.v1", ref, state="closed"), timeout=5
    )
    assert json.loads(closed[0].value)["data"]["outcome"] == "completed"


async def test_a_declined_referral_tells_the_sender_why(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    await give_consent(kafka, nhs, suite)
    body = referral_body(nhs, direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="family_support")
    async with (
        client_for(suite, headers_for(PROVIDER, "provider")) as provider,
        client_for(suite, headers_for(CSC, "social_care")) as csc,
    ):
        assert (await provider.post("/v1/referrals", json=body)).status_code == 201
        await fetch(csc, body["referral_id"])  # shared with social care
        declined = await csc.post(f"/v1/referrals/{body['referral_id']}/decline", json={"reason": "below threshold"})
        assert declined.status_code == 200
    told = await kafka.collect(
        topics.alerts(PROVIDER),
        alert_of("uk.isp.alert.referral_status.v1", body["referral_id"], state="declined"),
        timeout=60,
    )
    assert told and json.loads(told[0].value)["data"]["reason"] == "below threshold"


async def test_an_emergency_referral_is_delivered_at_once_on_the_significant_harm_ground(suite, kafka, headers_for):
    nhs = fresh_nhs_number()  # no consent at all: the emergency is its own lawful basis
    body = referral_body(
        nhs, direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="emergency", rag="red"
    )
    async with client_for(suite, headers_for(PROVIDER, "provider")) as provider:
        created = await provider.post("/v1/referrals", json=body)
    assert created.status_code == 201
    assert created.json()["emergency"] is True and created.json()["allocation"]["cycle"] == "immediate"
    received = await kafka.collect(
        topics.alerts(CSC), alert_of("uk.isp.alert.referral_received.v1", body["referral_id"]), timeout=60
    )
    assert received, "the emergency referral was not delivered"
    data = json.loads(received[0].value)["data"]
    assert data["threshold"] == "emergency"
    assert data["lawful_basis"] == {"kind": "statutory", "ground": "significant_harm"}


async def accepted_three_weeks_late(kafka, provider: httpx.AsyncClient, nhs: str) -> tuple[str, dict[str, Any]]:
    """A referral made three weeks ago and accepted then: its assessment booking is overdue (its answer
    may have been raised overdue too before the acceptance arrived)."""
    body = referral_body(nhs)
    ref = body["referral_id"]
    weeks_ago = datetime.now(UTC) - timedelta(days=21)
    await publish_referral(kafka, body, time=weeks_ago)
    await fetch(provider, ref)
    accepted = await provider.post(
        f"/v1/referrals/{ref}/accept", json={"at": (weeks_ago + timedelta(hours=2)).isoformat()}
    )
    assert accepted.status_code == 200, accepted.text
    [due] = [d for d in accepted.json()["due_dates"] if d["due"] == "assessment_booking"]
    return ref, due


async def test_an_assessment_not_booked_in_time_is_raised_once_and_alerted_to_the_provider(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    await give_consent(kafka, nhs, suite)
    overdue = "uk.isp.referral.overdue.v1"
    async with client_for(suite, headers_for(PROVIDER, "provider")) as provider:
        ref, due = await accepted_three_weeks_late(kafka, provider, nhs)
        assert due["due"] == "assessment_booking" and due["status"] == "overdue"
        booking = {"due": "assessment_booking"}
        [raised] = await kafka.collect(topics.REFERRALS, event_of(overdue, ref, **booking), timeout=30)
        assert json.loads(raised.value)["data"]["due_on"] == due["due_on"]

        async def marked():
            view = (await provider.get(f"/v1/referrals/{ref}")).json()
            return view["overdue"] and view["overdue"][0]["overdue_raised_at"]

        await wait_for(marked)
        # Raised once, although the timer runs every second: a second late referral for the same
        # person, accepted after this one was marked, is raised by a later run, behind it on its key.
        sentinel, _ = await accepted_three_weeks_late(kafka, provider, nhs)
        raised_all = await kafka.collect_until(
            topics.REFERRALS, event_of(overdue, ref, **booking), event_of(overdue, sentinel, **booking)
        )
        assert len(raised_all) == 1, "the overdue must be raised exactly once"
    alert = await kafka.collect(
        topics.alerts(PROVIDER),
        alert_of("uk.isp.alert.referral_overdue.v1", ref, due="assessment_booking"),
        timeout=60,
    )
    assert alert, "no referral_overdue alert to the responsible organisation"
    assert json.loads(alert[0].value)["data"]["responsible_org"] == PROVIDER


async def book_two_days_ago(kafka, nhs: str, ref: str) -> str:
    appointment_id = unique("apt-")
    booked = AppointmentBooked(
        appointment_id=appointment_id,
        person={"nhs_number": nhs},
        scheduled_for=datetime.now(UTC) - timedelta(days=2),
        kind="assessment",
        referral_id=ref,
    )
    await kafka.send_event(
        topics.TREATMENT, CloudEvent.create(type=booked.event_type, source_org=PROVIDER, data=booked)
    )
    return appointment_id


def outcome_missing(appointment_id: str):
    def predicate(record) -> bool:
        body = json.loads(record.value)
        return (
            body.get("type") == "uk.isp.referral.appointment_outcome_missing.v1"
            and body.get("data", {}).get("appointment_id") == appointment_id
        )

    return predicate


async def test_an_appointment_left_without_outcome_prompts_the_provider(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    await give_consent(kafka, nhs, suite)
    body = referral_body(nhs)
    ref = body["referral_id"]
    await publish_referral(kafka, body)
    async with client_for(suite, headers_for(PROVIDER, "provider")) as provider:
        await fetch(provider, ref)
        appointment_id = await book_two_days_ago(kafka, nhs, ref)
        assert await kafka.collect(topics.REFERRALS, outcome_missing(appointment_id), timeout=30)
        view = (await provider.get(f"/v1/referrals/{ref}")).json()
        assert view["appointments"][0]["outcome_prompted_at"]
        # Prompted once: a second appointment booked after the first was prompted is prompted by a
        # later run of the timer, behind it on the same key.
        sentinel = await book_two_days_ago(kafka, nhs, ref)
        prompted = await kafka.collect_until(
            topics.REFERRALS, outcome_missing(appointment_id), outcome_missing(sentinel)
        )
        assert len(prompted) == 1
    alert = await kafka.collect(
        topics.alerts(PROVIDER),
        alert_of("uk.isp.alert.appointment_outcome_missing.v1", ref, appointment_id=appointment_id),
        timeout=60,
    )
    assert alert, "the provider was not prompted for the missing outcome"


async def test_a_missed_assessment_on_an_http_referral_alerts_social_care_within_24_hours(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    consent_id = await give_consent(kafka, nhs, suite)
    body = referral_body(nhs, consent_id=consent_id)
    ref, appointment_id = body["referral_id"], unique("apt-")
    scheduled_for = datetime.now(UTC) - timedelta(hours=3)
    async with client_for(suite, headers_for(CSC, "social_care")) as csc:
        assert (await csc.post("/v1/referrals", json=body)).status_code == 201
    booked = AppointmentBooked(
        appointment_id=appointment_id,
        person={"nhs_number": nhs},
        scheduled_for=scheduled_for,
        kind="assessment",
        referral_id=ref,
    )
    missed = AppointmentMissed(
        appointment_id=appointment_id,
        person={"nhs_number": nhs},
        scheduled_for=scheduled_for,
        recorded_at=scheduled_for + timedelta(hours=1),
    )
    for data in (booked, missed):
        await kafka.send_event(
            topics.TREATMENT, CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data)
        )
    dna = await kafka.collect(
        topics.alerts(CSC), alert_of("uk.isp.alert.did_not_attend.v1", ref, appointment_id=appointment_id), timeout=60
    )
    assert dna, "social care was not told of the DNA"
    assert datetime.fromisoformat(json.loads(dna[0].value)["data"]["deadline"]) == scheduled_for + timedelta(hours=24)


async def test_the_receivers_read_shows_what_was_shared_and_reaches_the_audit_trail(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    await give_consent(kafka, nhs, suite)  # referral, attendance and treatment status: not risk
    body = referral_body(nhs)
    async with (
        client_for(suite, headers_for(CSC, "social_care")) as csc,
        client_for(suite, headers_for(PROVIDER, "provider")) as provider,
    ):
        assert (await csc.post("/v1/referrals", json=body)).status_code == 201
        view = await fetch(provider, body["referral_id"])
    assert view["rag"] is None and view["children"] is None and view["summary"] == body["summary"]

    async def read_recorded():
        async with httpx.AsyncClient(
            base_url=suite.url("audit"), headers=headers_for("WSX-IG", "partnership_ig")
        ) as ig:
            items = (await ig.get("/v1/disclosures", params={"person": nhs})).json()["items"]
        return [r for r in items if r["alert_type"] == "uk.isp.api.referral_read.v1"] or None

    [read, *_] = await wait_for(read_recorded, timeout=60)
    assert (read["channel"], read["discloser"], read["recipient"]) == ("api", CSC, PROVIDER)
    assert read["data_categories"] == ["referral"] and read["source_event_id"] == view["requested_event_id"]


def a_past_saturday(at: str) -> datetime:
    """A Saturday at least two days ago, at ``at`` (HH:MM) in London: outside working hours."""
    day = datetime.now(LONDON).date() - timedelta(days=2)
    while day.weekday() != 5:
        day -= timedelta(days=1)
    return datetime.combine(day, time.fromisoformat(at), LONDON)


async def test_an_unanswered_emergency_due_out_of_hours_is_raised_for_the_out_of_hours_team(suite, kafka):
    nhs = fresh_nhs_number()  # no consent: an emergency is shared on significant harm
    body = referral_body(
        nhs, direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="emergency", rag="red"
    )
    await publish_referral(kafka, body, time=a_past_saturday("11:00"))  # answer due 15:00 that Saturday
    [raised] = await kafka.collect(
        topics.REFERRALS, event_of("uk.isp.referral.overdue.v1", body["referral_id"], due="response"), timeout=60
    )
    data = json.loads(raised.value)["data"]
    assert (data["responsible_org"], data["emergency"], data["escalate_to"]) == (CSC, True, "WSCC-EDT")
