"""A referral from children's social care to treatment, across referrals, notifications and
audit in one process: the referral is received by the provider, the assessment is booked and
missed, social care gets the DNA alert on its own alert topic with a 24-hour deadline, and audit
records each share; without consent the same facts are withheld and the provider's DSL told.
(The same flows over a real broker: tests/e2e/test_walking_skeleton.py and test_referrals_flow.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta

from isp_common.testing import nhs_number, unique
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.treatment import AppointmentBooked, AppointmentMissed

from .partnership import CSC, PROVIDER, RECEIVED, Partnership, disclosures, event, give_consent

DNA = "uk.isp.alert.did_not_attend.v1"
WITHHELD = "uk.isp.alert.disclosure_withheld.v1"


def refer(partnership: Partnership, nhs: str) -> str:
    """Social care refers the parent to treatment over the referrals API."""
    referral_id = unique("ref-")
    made = partnership.client(partnership.referrals, CSC, "social_care").post(
        "/v1/referrals",
        json={
            "referral_id": referral_id,
            "direction": "to_treatment",
            "from_org": CSC,
            "to_org": PROVIDER,
            "person": {"nhs_number": nhs},
            "children": [{"local_id": unique("C-")}],
            "rag": "amber",
            "summary": "Parent misusing alcohol; child on a CIN plan",
        },
    )
    assert made.status_code == 201, made.text
    return referral_id


async def miss_the_assessment(partnership: Partnership, nhs: str, referral_id: str) -> tuple[str, CloudEvent]:
    """The provider books the assessment three hours ago, and records it missed an hour later."""
    appointment_id = unique("apt-")
    scheduled_for = partnership.clock.now() - timedelta(hours=3)
    booked = AppointmentBooked(
        appointment_id=appointment_id,
        person={"nhs_number": nhs},
        scheduled_for=scheduled_for,
        kind="assessment",
        referral_id=referral_id,
    )
    await partnership.bus.publish(event(partnership, booked, PROVIDER), topics.TREATMENT)
    missed = AppointmentMissed(
        appointment_id=appointment_id,
        person={"nhs_number": nhs},
        scheduled_for=scheduled_for,
        recorded_at=scheduled_for + timedelta(hours=1),
    )
    missed_event = event(partnership, missed, PROVIDER)
    await partnership.bus.publish(missed_event, topics.TREATMENT)
    return appointment_id, missed_event


async def test_a_missed_assessment_alerts_social_care_within_24_hours_and_audit_records_the_share(
    partnership: Partnership,
) -> None:
    nhs = nhs_number(1)
    consent_id = await give_consent(partnership, nhs)
    referral_id = refer(partnership, nhs)
    await partnership.bus.drain()
    appointment_id, _ = await miss_the_assessment(partnership, nhs, referral_id)

    [dna] = partnership.bus.events(topics.alerts(CSC), DNA)
    assert dna["data"]["referral_id"] == referral_id and dna["data"]["appointment_id"] == appointment_id
    assert dna["data"]["lawful_basis"] == {"kind": "consent", "consent_id": consent_id}
    scheduled_for = partnership.clock.now() - timedelta(hours=3)
    assert datetime.fromisoformat(dna["data"]["deadline"]) == scheduled_for + timedelta(hours=24)

    records = [r for r in disclosures(partnership, nhs) if r["alert_id"] == dna["data"]["alert_id"]]
    assert [(r["decision"], r["discloser"], r["recipient"]) for r in records] == [("shared", PROVIDER, CSC)]
    assert partnership.bus.deadlettered == []


async def test_the_referral_itself_reaches_the_provider_as_a_priority_and_is_audited(
    partnership: Partnership,
) -> None:
    nhs = nhs_number(2)
    await give_consent(partnership, nhs)
    referral_id = refer(partnership, nhs)
    await partnership.bus.drain()

    [received] = partnership.bus.events(topics.alerts(PROVIDER), RECEIVED)
    assert received["data"]["referral_id"] == referral_id and received["data"]["priority"] is True
    assert [(r["decision"], r["alert_id"]) for r in disclosures(partnership, nhs)] == [
        ("shared", received["data"]["alert_id"])
    ]


async def test_a_redelivered_missed_appointment_raises_no_second_alert_and_no_second_record(
    partnership: Partnership,
) -> None:
    nhs = nhs_number(3)
    await give_consent(partnership, nhs)
    referral_id = refer(partnership, nhs)
    await partnership.bus.drain()
    _, missed = await miss_the_assessment(partnership, nhs, referral_id)
    await partnership.bus.publish(missed, topics.TREATMENT)  # the broker delivers it again

    assert len(partnership.bus.events(topics.alerts(CSC), DNA)) == 1
    assert [r["decision"] for r in disclosures(partnership, nhs)].count("shared") == 2  # referral and DNA


async def test_without_consent_the_referral_and_the_dna_are_withheld_each_sender_told_and_audit_records_why(
    partnership: Partnership,
) -> None:
    nhs = nhs_number(4)
    referral_id = refer(partnership, nhs)
    await partnership.bus.drain()
    await miss_the_assessment(partnership, nhs, referral_id)

    assert partnership.bus.events(type=DNA) == [] and partnership.bus.events(type=RECEIVED) == []
    [referral_withheld] = partnership.bus.events(topics.alerts(CSC))  # social care is told of its own referral only
    [dna_withheld] = partnership.bus.events(topics.alerts(PROVIDER))
    assert (referral_withheld["type"], referral_withheld["data"]["withheld_type"]) == (WITHHELD, RECEIVED)
    assert (dna_withheld["type"], dna_withheld["data"]["withheld_type"]) == (WITHHELD, DNA)
    assert dna_withheld["data"]["intended_recipient"] == CSC

    records = {r["alert_id"]: r for r in disclosures(partnership, nhs)}
    for told in (referral_withheld, dna_withheld):
        record = records[told["data"]["withheld_alert_id"]]
        assert record["decision"] == "withheld" and record["lawful_basis"] is None
        assert "no consent recorded" in record["reason"]
