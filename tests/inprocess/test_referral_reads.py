"""What the receiving organisation may read of a referral follows the notifications service's decision,
across referrals, notifications and audit in one process: the decision's audit record reaches the
referrals service on ``isp.audit.v1``, and each read the receiver then makes reaches the audit trail."""

from __future__ import annotations

from isp_common.testing import nhs_number, unique

from .partnership import CSC, PROVIDER, Partnership, disclosures, give_consent

READ = "uk.isp.api.referral_read.v1"


def refer(partnership: Partnership, nhs: str) -> str:
    body = {
        "referral_id": unique("ref-"),
        "direction": "to_treatment",
        "from_org": CSC,
        "to_org": PROVIDER,
        "person": {"nhs_number": nhs},
        "children": [{"local_id": unique("C-")}],
        "rag": "red",
        "summary": "Parent misusing alcohol; child on a CIN plan",
    }
    made = partnership.client(partnership.referrals, CSC, "social_care").post("/v1/referrals", json=body)
    assert made.status_code == 201, made.text
    return str(body["referral_id"])


async def test_a_referral_shared_on_consent_is_read_by_the_provider_as_shared_and_the_read_is_audited(
    partnership: Partnership,
) -> None:
    nhs = nhs_number(21)
    await give_consent(partnership, nhs)  # referral and attendance, not risk
    ref = refer(partnership, nhs)
    provider = partnership.client(partnership.referrals, PROVIDER, "provider")
    assert provider.get(f"/v1/referrals/{ref}").status_code == 404  # the decision is not heard yet
    await partnership.bus.drain()

    view = provider.get(f"/v1/referrals/{ref}").json()
    assert view["rag"] is None and view["children"] is None and view["summary"]
    assert view["disclosure"]["data_categories"] == ["referral"]
    await partnership.bus.drain()
    [read] = [r for r in disclosures(partnership, nhs) if r["alert_type"] == READ]
    assert (read["channel"], read["decision"], read["discloser"], read["recipient"]) == ("api", "shared", CSC, PROVIDER)
    assert read["data_categories"] == ["referral"] and read["source_event_id"] == view["requested_event_id"]


async def test_a_withheld_referral_is_never_shown_to_the_provider(partnership: Partnership) -> None:
    nhs = nhs_number(22)  # no consent, no statutory ground for a referral to treatment
    ref = refer(partnership, nhs)
    await partnership.bus.drain()
    provider = partnership.client(partnership.referrals, PROVIDER, "provider")
    assert provider.get(f"/v1/referrals/{ref}").status_code == 404
    assert provider.post(f"/v1/referrals/{ref}/accept", json={}).status_code == 404
    assert provider.get("/v1/referrals", params={"role": "received"}).json()["items"] == []
    sender = partnership.client(partnership.referrals, CSC, "social_care").get(f"/v1/referrals/{ref}").json()
    assert sender["disclosure"]["decision"] == "withheld"
