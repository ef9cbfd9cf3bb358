"""The read paths follow the disclosure decisions (CONTRACT section 6): over HTTP the receiving
organisation sees a referral only once shared with it, only what was shared, and every such read
(a GET, a list, the answer to its own command) is audited on ``isp.audit.v1`` through the outbox."""

from __future__ import annotations

import pytest
from isp_common.testing import outbox_events
from isp_schemas import topics
from isp_schemas.audit import disclosure_record_id

from ..kit import share_in
from .client import CSC, PROVIDER, body, create

READ = "uk.isp.api.referral_read.v1"


def reads(service) -> list[dict]:
    """The audit records of receivers' reads queued so far."""
    return [e["data"] for e in outbox_events(service.runtime.engine, topics.AUDIT)]


def test_until_shared_the_receiver_gets_the_same_404_as_for_an_unknown_referral(service):
    ref = create(service, shared=False)["id"]
    provider = service.login(PROVIDER, "provider")
    unshared = service.get(f"/v1/referrals/{ref}", headers=provider)
    unknown = service.get("/v1/referrals/ref-unknown", headers=provider)
    assert unshared.status_code == unknown.status_code == 404
    assert unshared.headers["content-type"] == "application/problem+json"
    assert unshared.json() == unknown.json()
    assert service.get("/v1/referrals", params={"role": "received"}, headers=provider).json()["items"] == []
    assert reads(service) == []


@pytest.mark.parametrize(
    ("path", "payload"), [("accept", {}), ("decline", {"reason": "no capacity"}), ("cancel", {}), ("amend", {})]
)
def test_until_shared_every_command_of_the_receiver_is_404(service, path, payload):
    ref = create(service, shared=False)["id"]
    response = service.post(f"/v1/referrals/{ref}/{path}", json=payload, headers=service.login(PROVIDER, "provider"))
    assert response.status_code == 404


def test_a_withheld_referral_stays_hidden_until_it_is_released(service):
    ref = create(service, shared=False)["id"]
    provider = service.login(PROVIDER, "provider")
    withheld = share_in(service.runtime, ref, decision="withheld")
    assert service.get(f"/v1/referrals/{ref}", headers=provider).status_code == 404
    share_in(
        service.runtime,
        ref,
        alert_id=withheld.alert_id,
        supersedes=disclosure_record_id(withheld.alert_id, PROVIDER, "withheld"),
    )
    assert service.get(f"/v1/referrals/{ref}", headers=provider).status_code == 200


def test_the_receiver_sees_only_the_shared_categories_and_its_read_is_audited(service):
    ref = create(service, shared=False)["id"]
    share_in(service.runtime, ref, categories=("referral",))
    view = service.get(f"/v1/referrals/{ref}", headers=service.login(PROVIDER, "provider")).json()
    assert view["rag"] is None and view["children"] is None
    assert view["support_request"] is None and view["consent_id"] is None
    assert view["summary"] and view["priority"] is True and view["state"] == "requested"
    assert view["disclosure"]["decision"] == "shared" and view["disclosure"]["data_categories"] == ["referral"]
    assert "rag" not in view["history"][0]["details"]
    [record] = reads(service)
    assert record["alert_type"] == READ and record["channel"] == "api" and record["decision"] == "shared"
    assert (record["discloser"], record["recipient"]) == (CSC, PROVIDER)
    assert record["data_categories"] == ["referral"] and record["children"] == []
    assert record["source_event_id"] == view["requested_event_id"]


def test_the_sender_sees_its_referral_in_full_with_the_decision_and_unaudited(service):
    ref = create(service)["id"]
    view = service.get(f"/v1/referrals/{ref}", headers=service.login(CSC, "social_care")).json()
    assert view["rag"] == "red" and view["children"] and view["support_request"]["concerns"] == ["opiates"]
    assert view["disclosure"]["data_categories"] == ["referral", "risk"]
    assert view["disclosure"]["lawful_basis"] == {"kind": "consent", "consent_id": "con-1"}
    assert reads(service) == []


def test_the_receivers_list_and_the_answers_to_its_commands_are_reads_too(service):
    shown, hidden = create(service)["id"], create(service, shared=False)["id"]
    provider = service.login(PROVIDER, "provider")
    listed = service.get("/v1/referrals", headers=provider).json()["items"]
    assert [item["id"] for item in listed] == [shown]
    accepted = service.post(f"/v1/referrals/{shown}/accept", json={"rag": "red"}, headers=provider)
    assert accepted.status_code == 200 and accepted.json()["rag"] == "red"
    records = reads(service)
    assert len(records) == 2 and {r["data_categories"][-1] for r in records} == {"risk"}
    assert len({r["alert_id"] for r in records}) == 2
    assert hidden not in {item["id"] for item in service.get("/v1/referrals", headers=provider).json()["items"]}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"to_org": "OTHER-LA"}, "to_org"),  # social care, not a treatment provider
        ({"to_org": "NOT-LISTED"}, "to_org"),
        ({"direction": "to_social_care", "to_org": "CGL-WSX", "threshold": "emergency"}, "direction"),
    ],
)
def test_a_referral_to_an_organisation_of_the_wrong_kind_is_422_naming_the_field(service, overrides, field):
    response = service.post("/v1/referrals", json=body(**overrides), headers=service.login(CSC, "social_care"))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == field and problem["errors"][0]["loc"] == ["body", field]
    assert "9434765919" not in response.text and outbox_events(service.runtime.engine) == []


def test_a_sender_missing_from_the_directory_is_422_naming_from_org(service):
    response = service.post(
        "/v1/referrals", json=body(from_org="NOT-LISTED"), headers=service.login("NOT-LISTED", "social_care")
    )
    assert response.status_code == 422 and response.json()["field"] == "from_org"
