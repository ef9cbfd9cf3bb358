"""What the sending organisation is told as its referral moves, across referrals, notifications
and audit in one process (over a real broker: tests/e2e/test_referrals_flow.py)."""

from __future__ import annotations

from isp_common.testing import nhs_number, unique
from isp_schemas import topics

from .partnership import CSC, PROVIDER, RECEIVED, Partnership, disclosures, give_consent

STATUS = "uk.isp.alert.referral_status.v1"


def referral(sender: str, receiver: str, nhs: str, **fields: object) -> dict[str, object]:
    return {
        "referral_id": unique("ref-"),
        "direction": "to_treatment" if sender == CSC else "to_social_care",
        "from_org": sender,
        "to_org": receiver,
        "person": {"nhs_number": nhs},
        "children": [{"local_id": unique("C-")}],
        "rag": "amber",
        "summary": "Parent misusing alcohol",
        **fields,
    }


async def test_the_sender_is_told_when_its_referral_is_accepted_allocated_and_closed(
    partnership: Partnership,
) -> None:
    nhs = nhs_number(11)
    await give_consent(partnership, nhs)
    body = referral(CSC, PROVIDER, nhs)
    ref = body["referral_id"]
    assert (
        partnership.client(partnership.referrals, CSC, "social_care").post("/v1/referrals", json=body).status_code
        == 201
    )
    await partnership.bus.drain()  # the provider sees the referral once the decision shares it
    provider = partnership.client(partnership.referrals, PROVIDER, "provider")
    illegal = provider.post(f"/v1/referrals/{ref}/activate", json={})
    assert illegal.status_code == 409 and "accept" in illegal.json()["allowed"]
    for step, payload in [("accept", {"rag": "red"}), ("allocate", {"practitioner": "dap-7"})]:
        assert provider.post(f"/v1/referrals/{ref}/{step}", json=payload).status_code == 200
        await partnership.bus.drain()
    assert provider.post(f"/v1/referrals/{ref}/close", json={"outcome": "completed"}).status_code == 200
    await partnership.bus.drain()

    told = [e["data"] for e in partnership.bus.events(topics.alerts(CSC), STATUS) if e["data"]["referral_id"] == ref]
    assert [t["state"] for t in told] == ["accepted", "allocated", "closed"]
    assert told[-1]["outcome"] == "completed"
    assert [e["type"] for e in partnership.bus.events(topics.alerts(PROVIDER))] == [RECEIVED]


async def test_a_declined_referral_tells_the_sender_why(partnership: Partnership) -> None:
    nhs = nhs_number(12)
    await give_consent(partnership, nhs)
    body = referral(PROVIDER, CSC, nhs, threshold="family_support")
    made = partnership.client(partnership.referrals, PROVIDER, "provider").post("/v1/referrals", json=body)
    assert made.status_code == 201, made.text
    await partnership.bus.drain()  # social care sees the referral once the decision shares it
    csc = partnership.client(partnership.referrals, CSC, "social_care")
    declined = csc.post(f"/v1/referrals/{body['referral_id']}/decline", json={"reason": "below threshold"})
    assert declined.status_code == 200, declined.text
    await partnership.bus.drain()

    [told] = partnership.bus.events(topics.alerts(PROVIDER), STATUS)
    assert (told["data"]["state"], told["data"]["reason"]) == ("declined", "below threshold")


async def test_an_emergency_referral_without_consent_is_shared_on_the_significant_harm_ground(
    partnership: Partnership,
) -> None:
    nhs = nhs_number(13)  # no consent at all: the emergency is its own lawful basis
    body = referral(PROVIDER, CSC, nhs, threshold="emergency", rag="red")
    made = partnership.client(partnership.referrals, PROVIDER, "provider").post("/v1/referrals", json=body)
    assert made.status_code == 201 and made.json()["emergency"] is True
    await partnership.bus.drain()

    [received] = partnership.bus.events(topics.alerts(CSC), RECEIVED)
    assert received["data"]["lawful_basis"] == {"kind": "statutory", "ground": "significant_harm"}
    [record] = disclosures(partnership, nhs)
    assert (record["decision"], record["alert_id"]) == ("shared", received["data"]["alert_id"])
