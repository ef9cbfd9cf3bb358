"""One DNA alert end to end through all four services, as real processes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from isp_common.testing import unique, wait_for, wait_for_consent
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from isp_schemas.referrals import ReferralRequested
from isp_schemas.treatment import AppointmentBooked, AppointmentMissed

pytestmark = [pytest.mark.e2e]

CSC = "WSCC-CSC"
PROVIDER = "CGL-WSX"
NHS = "9434765919"
DNA = "uk.isp.alert.did_not_attend.v1"


async def test_missed_assessment_alerts_social_care_once_with_audit(suite, kafka, headers_for):
    # A malformed message first: it must be dead-lettered with a reason, and the flow still work.
    bad_key = unique("bad-").encode()
    await kafka.send(topics.TREATMENT, b'{"specversion": "1.0", "oops": ', key=bad_key)

    person = Person(nhs_number=NHS, given_name="Sam", family_name="Taylor")
    referral_id, appointment_id = unique("ref-"), unique("apt-")
    scheduled_for = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    consent = ConsentGiven(
        consent_id=unique("con-"),
        person=person,
        recorded_by=PROVIDER,
        recipients=[CSC],
        purposes=["safeguarding"],
        data_categories=["attendance", "referral"],
        given_on=datetime.now(UTC).date(),
    )
    await kafka.send_event(
        topics.CONSENT, CloudEvent.create(type=consent.event_type, source_org=PROVIDER, data=consent, subject=NHS)
    )
    held = await wait_for_consent(suite, PROVIDER, consent.consent_id)
    assert held["state"] == "active" and held["recipients"] == [CSC]
    async with httpx.AsyncClient(base_url=suite.url("notifications")) as client:
        other = headers_for(CSC, "social_care")
        assert (await client.get(f"/v1/consents/{consent.consent_id}", headers=other)).status_code == 403
        assert (await client.get("/v1/consents/nope", headers=other)).status_code == 404
    referral = ReferralRequested(
        referral_id=referral_id,
        direction="to_treatment",
        from_org=CSC,
        to_org=PROVIDER,
        person=person,
        children=[{"local_id": "C-1"}],
        rag="amber",
        summary="Parent misusing alcohol; child on CIN plan",
    )
    await kafka.send_event(
        topics.REFERRALS, CloudEvent.create(type=referral.event_type, source_org=CSC, data=referral, subject=NHS)
    )

    async with httpx.AsyncClient(base_url=suite.url("referrals"), headers=headers_for(CSC, "social_care")) as client:

        async def referral_known():
            return (await client.get(f"/v1/referrals/{referral_id}")).status_code == 200

        await wait_for(referral_known, timeout=60)

    missed_event = await book_and_miss(kafka, person, referral_id, appointment_id, scheduled_for)
    is_our_dna = dna_about(appointment_id)

    alerts = await kafka.collect(topics.alerts(CSC), is_our_dna, timeout=60)
    assert len(alerts) == 1
    alert = json.loads(alerts[0].value)
    assert alert["data"]["referral_id"] == referral_id
    assert alert["data"]["lawful_basis"] == {"kind": "consent", "consent_id": consent.consent_id}
    assert datetime.fromisoformat(alert["data"]["deadline"]) == scheduled_for + timedelta(hours=24)
    assert dict(alerts[0].headers).get("traceparent")

    ig = headers_for("WSX-IG", "partnership_ig")
    records = await audit_records(suite, ig, alert["data"]["alert_id"])
    assert len(records) == 1
    record = records[0]
    assert record["decision"] == "shared" and record["recipient"] == CSC and record["discloser"] == PROVIDER
    assert record["trace_id"] and len(record["trace_id"]) == 32
    assert dict(alerts[0].headers)["traceparent"].decode().split("-")[1] == record["trace_id"]

    # Redelivery of the same event id is a no-op: no second alert, no second record. A second
    # assessment missed behind it on the same key is the sentinel: once its alert and record are
    # there, anything the redelivery caused would be there too.
    await kafka.send_event(topics.TREATMENT, missed_event)
    sentinel_id = unique("apt-")
    await book_and_miss(kafka, person, referral_id, sentinel_id, scheduled_for + timedelta(days=7))
    again = await kafka.collect_until(topics.alerts(CSC), is_our_dna, dna_about(sentinel_id), timeout=60)
    assert len(again) == 1
    [sentinel] = await kafka.collect(topics.alerts(CSC), dna_about(sentinel_id), timeout=60)
    await audit_records(suite, ig, json.loads(sentinel.value)["data"]["alert_id"])
    assert len(await audit_records(suite, ig, alert["data"]["alert_id"])) == 1

    # The malformed message is in the dead-letter topic, byte for byte, with its reason.
    dead = await kafka.collect(topics.DEADLETTER, lambda r: r.key == bad_key, timeout=30)
    assert dead, "malformed message not dead-lettered"
    headers = dict(dead[0].headers)
    assert dead[0].value == b'{"specversion": "1.0", "oops": '
    assert headers["isp-source-topic"] == topics.TREATMENT.encode()
    assert b"JSON" in headers["isp-error"]


async def book_and_miss(kafka, person: Person, referral_id: str, appointment_id: str, scheduled_for: datetime):
    """The provider books an assessment for the referral, then records it missed; the missed event."""
    booked = AppointmentBooked(
        appointment_id=appointment_id,
        person=person,
        scheduled_for=scheduled_for,
        kind="assessment",
        referral_id=referral_id,
    )
    await kafka.send_event(
        topics.TREATMENT, CloudEvent.create(type=booked.event_type, source_org=PROVIDER, data=booked, subject=NHS)
    )
    missed = AppointmentMissed(
        appointment_id=appointment_id,
        person=person,
        scheduled_for=scheduled_for,
        recorded_at=scheduled_for + timedelta(hours=1),
    )
    missed_event = CloudEvent.create(type=missed.event_type, source_org=PROVIDER, data=missed, subject=NHS)
    await kafka.send_event(topics.TREATMENT, missed_event)
    return missed_event


def dna_about(appointment_id: str):
    def is_dna(record) -> bool:
        body = json.loads(record.value)
        return body.get("type") == DNA and body["data"].get("appointment_id") == appointment_id

    return is_dna


async def audit_records(suite, ig: dict[str, str], alert_id: str) -> list[dict]:
    """Audit's records of one alert, waited for through the audit API."""
    async with httpx.AsyncClient(base_url=suite.url("audit"), headers=ig) as client:

        async def audited():
            items = (await client.get("/v1/disclosures", params={"person": NHS})).json()["items"]
            return [i for i in items if i["alert_id"] == alert_id]

        return await wait_for(audited, timeout=60)
