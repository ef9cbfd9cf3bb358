"""Issue 11, item 3 and two findings: nobody claims grounds it does not have, nobody acts on another
provider's appointment.

- "Self-asserted grounds over HTTP": a provider POSTing a referral ``to_treatment`` at ``emergency``
  made itself "the social care organisation working with" the parent. Now a social-care threshold
  goes only on a referral to social care, each direction only from the directory kinds that may make
  it, and over HTTP only with the role of the caller's side (422 or 403 naming the field).
- "The broker trusts everyone" (appointments): another provider could rebook, mark missed or attend
  an appointment on a referral it does not hold. Now such an event is dead-lettered with a reason
  naming the mismatch, and the referral and the appointment are unchanged.

Everything runs through the built service: HTTP through its API, Kafka through its own event
processors (provenance check, handler, dead-letter) carried by the in-process bus.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from isp_common.testing import InProcessBus, nhs_number, outbox_events
from isp_referrals.tables import Appointment, Referral
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralAssessmentMissed, ReferralRequested
from isp_schemas.treatment import AppointmentAttended, AppointmentBooked, AppointmentMissed
from sqlmodel import Session

from .client import CSC, NHS, PROVIDER, body, create

OTHER_PROVIDER, POLICE = "CGL-ESX", "SXPOL-MASH"
TO_SOCIAL_CARE = {"direction": "to_social_care", "from_org": PROVIDER, "to_org": CSC, "consent_id": None}


@pytest.fixture
def bus(service) -> InProcessBus:
    return InProcessBus([service.runtime])


def stored(service, referral_id: str) -> Referral | None:
    with Session(service.runtime.engine) as session:
        return session.get(Referral, referral_id)


def assert_refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == field and problem["errors"][0]["loc"] == ["body", field]


# --- HTTP: self-asserted grounds ---------------------------------------------------------------


def test_a_provider_referring_to_treatment_at_emergency_is_refused_naming_the_threshold(service):
    """The finding: a provider made itself social care working with the parent."""
    made = body(from_org=PROVIDER, to_org=OTHER_PROVIDER, threshold="emergency")
    response = service.post("/v1/referrals", json=made, headers=service.login(PROVIDER, "provider"))
    assert_refused(response, 422, "threshold")
    assert "only for a referral to_social_care" in response.json()["detail"]
    assert stored(service, made["referral_id"]) is None
    assert outbox_events(service.runtime.engine, topics.REFERRALS) == []


def test_a_provider_referring_to_treatment_at_all_is_refused_naming_the_direction(service):
    made = body(from_org=PROVIDER, to_org=OTHER_PROVIDER)
    response = service.post("/v1/referrals", json=made, headers=service.login(PROVIDER, "provider"))
    assert_refused(response, 422, "direction")
    assert stored(service, made["referral_id"]) is None


@pytest.mark.parametrize("threshold", ["emergency", "child_protection_s47", "child_in_need_s17"])
def test_social_care_referring_to_treatment_carries_no_social_care_threshold(service, threshold):
    made = body(threshold=threshold)
    response = service.post("/v1/referrals", json=made, headers=service.login(CSC, "social_care"))
    assert_refused(response, 422, "threshold")
    assert stored(service, made["referral_id"]) is None


def test_a_social_care_user_referring_to_social_care_is_refused_naming_the_direction(service):
    made = body(direction="to_social_care", from_org=CSC, to_org="BHCC-CSC", threshold="emergency", consent_id=None)
    response = service.post("/v1/referrals", json=made, headers=service.login(CSC, "social_care"))
    assert_refused(response, 422, "direction")
    assert "not children_social_care" in response.json()["detail"]
    assert stored(service, made["referral_id"]) is None


@pytest.mark.parametrize(
    ("org", "role", "overrides"),
    [
        (PROVIDER, "social_care", {**TO_SOCIAL_CARE, "threshold": "emergency"}),  # a provider's user as social care
        (CSC, "provider", {}),  # social care's user as a provider, referring to treatment
    ],
)
def test_a_role_that_does_not_fit_the_callers_side_is_403_naming_from_org(service, org, role, overrides):
    made = body(**overrides)
    response = service.post("/v1/referrals", json=made, headers=service.login(org, role))
    assert_refused(response, 403, "from_org")
    assert stored(service, made["referral_id"]) is None


def test_an_amendment_may_not_put_a_social_care_threshold_on_a_referral_to_treatment(service):
    made = create(service, shared=False)
    amend = service.post(
        f"/v1/referrals/{made['id']}/amend", json={"threshold": "emergency"}, headers=service.login(CSC, "social_care")
    )
    assert_refused(amend, 422, "threshold")
    referral = stored(service, made["id"])
    assert referral is not None and referral.threshold is None and not referral.emergency


def test_the_legitimate_referrals_are_made_as_before(service):
    """A provider refers to social care at emergency; social care refers to treatment (no threshold,
    or family support); a user holding both roles refers for its own side."""
    provider = service.login(PROVIDER, "provider")
    urgent = service.post("/v1/referrals", json=body(**TO_SOCIAL_CARE, threshold="emergency"), headers=provider)
    assert urgent.status_code == 201, urgent.text
    assert urgent.json()["emergency"] is True
    csc = service.login(CSC, "social_care", "dsl")
    for overrides in ({}, {"threshold": "family_support"}):
        response = service.post("/v1/referrals", json=body(**overrides), headers=csc)
        assert response.status_code == 201, response.text


# --- Kafka: the same rules, dead-lettered with the reason -----------------------------------------


def requested(source: str, **overrides: Any) -> CloudEvent:
    data = ReferralRequested.model_validate(body(**{**overrides, "from_org": source}))
    return CloudEvent.create(type=data.event_type, source_org=source, data=data, subject=data.person.nhs_number)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            requested(PROVIDER, to_org=OTHER_PROVIDER, threshold="emergency"),
            "rejected: threshold: threshold emergency is only for a referral to_social_care",
        ),
        (
            requested(CSC, direction="to_social_care", to_org="BHCC-CSC", threshold="child_protection_s47"),
            "rejected: direction: a referral to_social_care is made by an organisation of kind",
        ),
        (requested(POLICE, to_org=PROVIDER), "rejected: direction: a referral to_treatment is made by an"),
    ],
)
async def test_a_published_referral_breaking_the_rules_is_dead_lettered_with_the_reason(service, bus, event, reason):
    await bus.publish(event, topics.REFERRALS)
    assert bus.delivered == [("referrals", "deadlettered")]
    assert len(bus.deadlettered) == 1 and bus.deadlettered[0][1].startswith(reason)
    assert NHS not in bus.deadlettered[0][1]
    assert stored(service, event.data["referral_id"]) is None


async def test_police_may_publish_a_referral_to_social_care(service, bus):
    event = requested(POLICE, **{**TO_SOCIAL_CARE, "from_org": None}, threshold="emergency")
    await bus.publish(event, topics.REFERRALS)
    assert bus.delivered == [("referrals", "handled")]
    referral = stored(service, event.data["referral_id"])
    assert referral is not None and referral.emergency


# --- Kafka: another provider's appointments -------------------------------------------------------


def appointment_event(data: AppointmentBooked | AppointmentAttended | AppointmentMissed, source: str) -> CloudEvent:
    return CloudEvent.create(type=data.event_type, source_org=source, data=data, subject=data.person.nhs_number)


def booked(service, source: str, referral_id: str | None, appointment_id: str = "apt-1", days: int = 2) -> CloudEvent:
    data = AppointmentBooked(
        appointment_id=appointment_id,
        person={"nhs_number": NHS},
        scheduled_for=service.clock.now() + timedelta(days=days),
        kind="assessment",
        referral_id=referral_id,
    )
    return appointment_event(data, source)


def missed(service, source: str, appointment_id: str = "apt-1") -> CloudEvent:
    when = service.clock.now() + timedelta(days=2)
    data = AppointmentMissed(
        appointment_id=appointment_id, person={"nhs_number": NHS}, scheduled_for=when, recorded_at=when
    )
    return appointment_event(data, source)


def attended(service, source: str, appointment_id: str = "apt-1") -> CloudEvent:
    data = AppointmentAttended(
        appointment_id=appointment_id, person={"nhs_number": NHS}, attended_at=service.clock.now() + timedelta(days=2)
    )
    return appointment_event(data, source)


async def held_referral(service, bus: InProcessBus) -> str:
    """A referral social care made to the provider over HTTP, shared with it, its event carried."""
    referral_id = create(service)["id"]
    await bus.drain()
    bus.delivered.clear()
    return referral_id


def as_sender(service, referral_id: str) -> dict[str, Any]:
    """The referral as its sender reads it: state, due dates, history."""
    response = service.get(f"/v1/referrals/{referral_id}", headers=service.login(CSC, "social_care"))
    assert response.status_code == 200, response.text
    return response.json()


def appointment(service, appointment_id: str = "apt-1") -> dict[str, Any] | None:
    with Session(service.runtime.engine) as session:
        found = session.get(Appointment, appointment_id)
        return None if found is None else found.model_dump()


def dna_events(service) -> list[dict[str, Any]]:
    events = outbox_events(service.runtime.engine, topics.REFERRALS)
    return [e for e in events if e["type"] == ReferralAssessmentMissed.event_type]


async def test_another_provider_cannot_book_the_assessment_of_a_referral_it_does_not_hold(service, bus):
    referral_id = await held_referral(service, bus)
    before = as_sender(service, referral_id)
    await bus.publish(booked(service, OTHER_PROVIDER, referral_id), topics.TREATMENT)
    assert bus.delivered[-1] == ("referrals", "deadlettered")
    reason = bus.deadlettered[-1][1]
    assert f"whose appointments {PROVIDER} books" in reason and f"not the publisher {OTHER_PROVIDER}" in reason
    assert NHS not in reason
    assert as_sender(service, referral_id) == before  # the booking due is still open, no history added
    assert appointment(service) is None


@pytest.mark.parametrize("forged", [booked, missed, attended], ids=["rebooks", "marks_missed", "marks_attended"])
async def test_another_provider_cannot_act_on_the_holders_appointment(service, bus, forged):
    referral_id = await held_referral(service, bus)
    await bus.publish(booked(service, PROVIDER, referral_id), topics.TREATMENT)
    assert bus.delivered == [("referrals", "handled")]
    before, booked_row = as_sender(service, referral_id), appointment(service)
    event = forged(service, OTHER_PROVIDER) if forged is not booked else booked(service, OTHER_PROVIDER, None, days=9)
    await bus.publish(event, topics.TREATMENT)
    assert bus.delivered[-1] == ("referrals", "deadlettered")
    reason = bus.deadlettered[-1][1]
    assert reason.startswith(f"rejected: appointment_id names an appointment booked by {PROVIDER}")
    assert NHS not in reason
    assert as_sender(service, referral_id) == before
    assert appointment(service) == booked_row
    assert dna_events(service) == []


async def test_an_appointment_event_about_another_person_is_dead_lettered(service, bus):
    referral_id = await held_referral(service, bus)
    await bus.publish(booked(service, PROVIDER, referral_id), topics.TREATMENT)
    other = missed(service, PROVIDER)
    other.data["person"] = {"nhs_number": nhs_number(7)}
    await bus.publish(other, topics.TREATMENT)
    assert bus.delivered[-1] == ("referrals", "deadlettered")
    assert bus.deadlettered[-1][1] == "rejected: person is not the person of the appointment that appointment_id names"
    assert appointment(service)["status"] != "missed"


async def test_the_holder_books_rebooks_and_reports_the_missed_assessment_as_before(service, bus):
    referral_id = await held_referral(service, bus)
    await bus.publish(booked(service, PROVIDER, referral_id), topics.TREATMENT)
    await bus.publish(booked(service, PROVIDER, None, days=3), topics.TREATMENT)  # rebooked, still on the referral
    await bus.publish(missed(service, PROVIDER), topics.TREATMENT)
    assert bus.deadlettered == []
    row = appointment(service)
    assert row is not None and row["status"] == "missed" and row["referral_id"] == referral_id
    assert [e["data"]["referral_id"] for e in dna_events(service)] == [referral_id]
    history = [entry["action"] for entry in as_sender(service, referral_id)["history"]]
    assert history.count("appointment_booked") == 2 and "appointment_missed" in history
