"""The HTTP API in process: build() with an in-memory database and a fixed clock (no broker: the
lifespan is not started)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from isp_referrals import agents
from isp_schemas import topics

from ..kit import share_in
from .client import CSC, PROVIDER, body, create, outbox_types


def test_a_referral_made_over_http_is_201_with_its_state_and_published_via_the_outbox(service):
    sent = body()
    response = service.post("/v1/referrals", json=sent, headers=service.login(CSC, "social_care"))
    assert response.status_code == 201
    assert response.headers["location"] == f"/v1/referrals/{sent['referral_id']}"
    view = response.json()
    assert view["state"] == "requested" and view["priority"] is True and view["channel"] == "api"
    assert view["support_request"] == {
        "parent_agreed": True,
        "concerns": ["opiates"],
        "history": "Known since 2024",
        "known_to_treatment": True,
    }
    assert view["allowed_actions"] == ["amend", "cancel", "accept", "decline"]
    assert view["history"][0]["action"] == "request" and view["history"][0]["by"] == "user@wscc-csc"
    assert outbox_types(service) == ["uk.isp.referral.requested.v1"]


def test_the_id_is_assigned_when_left_out(service):
    sent = body()
    del sent["referral_id"]
    response = service.post("/v1/referrals", json=sent, headers=service.login(CSC, "social_care"))
    assert response.status_code == 201 and response.json()["id"].startswith("ref-")


def test_resending_the_same_referral_is_200_and_a_different_one_with_its_id_is_409(service):
    sent = body()
    headers = service.login(CSC, "social_care")
    assert service.post("/v1/referrals", json=sent, headers=headers).status_code == 201
    assert service.post("/v1/referrals", json=sent, headers=headers).status_code == 200
    clash = service.post("/v1/referrals", json={**sent, "rag": "green"}, headers=headers)
    assert clash.status_code == 409 and clash.headers["content-type"] == "application/problem+json"
    assert outbox_types(service) == ["uk.isp.referral.requested.v1"]


@pytest.mark.parametrize(
    ("org", "roles", "status"),
    [(PROVIDER, ("provider",), 403), (CSC, ("dsl",), 403), (CSC, ("ig_officer",), 403)],
)
def test_only_a_practitioner_of_the_referring_org_may_refer(service, org, roles, status):
    response = service.post("/v1/referrals", json=body(), headers=service.login(org, *roles))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_no_token_is_401(service):
    assert service.post("/v1/referrals", json=body()).status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [
        {"direction": "to_social_care", "from_org": CSC, "to_org": PROVIDER, "threshold": None},
        {"person": {"nhs_number": "9434765918"}},
        {"to_org": CSC},
        {"rag": "purple"},
        {"summary": ""},
    ],
)
def test_an_invalid_referral_is_422_problem_without_echoing_personal_data(service, overrides):
    response = service.post("/v1/referrals", json=body(**overrides), headers=service.login(CSC, "social_care"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "9434765918" not in response.text
    assert outbox_types(service) == []


def test_a_provider_refers_to_social_care_with_a_threshold(service):
    sent = body(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="child_protection_s47")
    response = service.post("/v1/referrals", json=sent, headers=service.login(PROVIDER, "provider"))
    assert response.status_code == 201
    view = response.json()
    assert view["threshold"] == "child_protection_s47" and view["priority"] is False
    assert view["allocation"]["cycle"] == "weekly" and view["allocation"]["meeting_on"]


def test_an_emergency_referral_is_not_held_for_weekly_allocation(service):
    sent = body(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="emergency")
    view = service.post("/v1/referrals", json=sent, headers=service.login(PROVIDER, "provider")).json()
    assert view["emergency"] is True
    assert view["allocation"] == {"cycle": "immediate", "meeting_on": None, "practitioner": None}


def test_the_receiver_walks_the_referral_through_its_life(service):
    ref = create(service)["id"]
    provider = service.login(PROVIDER, "provider")
    steps = [
        ("accept", {"rag": "amber"}, "accepted"),
        ("allocate", {"practitioner": "dap-7"}, "allocated"),
        ("joint-visit", {"scheduled_for": (service.clock.now() + timedelta(days=1)).isoformat()}, "allocated"),
        ("joint-visit/done", None, "allocated"),
        ("workbook", {}, "allocated"),
        ("activate", {"episode_id": "ep-1"}, "active"),
        ("summaries", {}, "active"),
        ("close", {"outcome": "completed"}, "closed"),
    ]
    for path, payload, state in steps:
        response = service.post(f"/v1/referrals/{ref}/{path}", json=payload, headers=provider)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["state"] == state
    view = service.get(f"/v1/referrals/{ref}", headers=provider).json()
    assert [h["action"] for h in view["history"]] == [
        "request",
        "accept",
        "allocate",
        "book_joint_visit",
        "record_joint_visit",
        "open_workbook",
        "activate",
        "record_summary",
        "close",
    ]
    assert view["triage_rag"] == "amber" and view["outcome"] == "completed"
    assert {d["due"] for d in view["due_dates"]} == {
        "response",
        "assessment_booking",
        "joint_visit",
        "workbook",
        "monthly_summary",
    }
    assert len(outbox_types(service)) == 9
    assert len(outbox_types(service, topics.AUDIT)) == len(steps) + 1  # each answer to the receiver is a read


def test_an_illegal_transition_is_409_saying_what_is_allowed(service):
    ref = create(service)["id"]
    response = service.post(
        f"/v1/referrals/{ref}/allocate", json={"practitioner": "dap-7"}, headers=service.login(PROVIDER, "provider")
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["state"] == "requested" and problem["allowed"] == ["amend", "cancel", "accept", "decline"]
    assert f"POST /v1/referrals/{ref}/accept" in problem["allowed_requests"]
    assert "accept" in problem["detail"]


def test_the_sender_may_not_accept_and_the_receiver_may_not_cancel(service):
    ref = create(service)["id"]
    assert service.post(f"/v1/referrals/{ref}/accept", headers=service.login(CSC, "social_care")).status_code == 403
    assert service.post(f"/v1/referrals/{ref}/cancel", headers=service.login(PROVIDER, "provider")).status_code == 403


def test_the_sender_amends_by_patch_and_cancels_with_a_reason(service):
    ref = create(service)["id"]
    csc = service.login(CSC, "social_care")
    amended = service.patch(f"/v1/referrals/{ref}", json={"rag": "amber", "concerns": ["opiates", "dv"]}, headers=csc)
    assert amended.status_code == 200 and amended.json()["support_request"]["concerns"] == ["opiates", "dv"]
    nothing = service.post(f"/v1/referrals/{ref}/amend", json={"rag": "amber"}, headers=csc)
    assert nothing.status_code == 422
    cancelled = service.post(f"/v1/referrals/{ref}/cancel", json={"reason": "family moved"}, headers=csc)
    assert cancelled.json()["state"] == "cancelled" and cancelled.json()["reason"] == "family moved"


def test_decline_needs_a_reason(service):
    ref = create(service)["id"]
    provider = service.login(PROVIDER, "provider")
    assert service.post(f"/v1/referrals/{ref}/decline", json={}, headers=provider).status_code == 422
    declined = service.post(f"/v1/referrals/{ref}/decline", json={"reason": "not our area"}, headers=provider)
    assert declined.json()["state"] == "declined" and declined.json()["allowed_actions"] == []


def test_a_future_at_is_422(service):
    ref = create(service)["id"]
    later = (service.clock.now() + timedelta(days=1)).isoformat()
    response = service.post(
        f"/v1/referrals/{ref}/accept", json={"at": later}, headers=service.login(PROVIDER, "provider")
    )
    assert response.status_code == 422


def test_another_orgs_referral_is_403_and_an_unknown_one_404(service):
    ref = create(service)["id"]
    assert service.get(f"/v1/referrals/{ref}", headers=service.login("OTHER-LA", "social_care")).status_code == 403
    assert service.get("/v1/referrals/ref-none", headers=service.login(CSC, "social_care")).status_code == 404
    assert service.post("/v1/referrals/ref-none/accept", headers=service.login(CSC, "social_care")).status_code == 404


def test_the_list_is_the_callers_org_as_sender_or_receiver_filtered_by_state_and_due(service):
    mine = create(service)["id"]
    accepted = create(service)["id"]
    provider = service.login(PROVIDER, "provider")
    service.post(f"/v1/referrals/{accepted}/accept", headers=provider)
    other = service.post(
        "/v1/referrals", json=body(from_org="OTHER-LA"), headers=service.login("OTHER-LA", "social_care")
    )
    assert other.status_code == 201

    def ids(headers, **params):
        response = service.get("/v1/referrals", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    csc = service.login(CSC, "social_care")
    assert ids(csc) == {mine, accepted}
    assert ids(csc, status="requested") == {mine}
    assert ids(provider, role="received") == {mine, accepted}  # not yet shared: not listed
    share_in(service.runtime, other.json()["id"])
    assert ids(provider, role="received") == {mine, accepted, other.json()["id"]}
    assert ids(csc, role="received") == set()
    far = (service.clock.now() + timedelta(days=30)).date().isoformat()
    assert ids(provider, due_before=far) == {mine, accepted, other.json()["id"]}
    # a priority referral's answer is due the next working day (3 March); the booking of the accepted one's
    # assessment 5 working days after its acceptance
    assert ids(provider, due_before="2026-03-04") == {mine, other.json()["id"]}
    assert ids(provider, due_before="2000-01-01") == set()
    assert service.get("/v1/referrals", params={"status": "nonsense"}, headers=csc).status_code == 422


def test_the_openapi_document_describes_every_field_and_parameter(service):
    doc = service.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for name in ("ReferralView", "ReferralCreate", "DueDate", "HistoryEntry", "AmendBody", "CloseBody"):
        assert name in schemas
    undescribed = [
        f"{name}.{prop}"
        for name, schema in schemas.items()
        for prop, spec in schema.get("properties", {}).items()
        if not spec.get("description") and name not in ("HTTPValidationError", "ValidationError")
    ]
    assert undescribed == []
    parameters = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert parameters == []
    for path in ("/v1/referrals/{referral_id}/accept", "/v1/referrals/{referral_id}/close"):
        assert "409" in doc["paths"][path]["post"]["responses"]


def test_the_timer_raises_a_missed_due_date_at_the_runtimes_clock(service):
    ref = create(service)["id"]
    provider = service.login(PROVIDER, "provider")
    assert service.post(f"/v1/referrals/{ref}/accept", headers=provider).status_code == 200
    assert agents.check_deadlines(service.runtime, service.runtime.context) == (0, 0, 0)
    service.clock.advance(days=10)  # the assessment booking was due 5 working days after acceptance
    assert agents.check_deadlines(service.runtime, service.runtime.context) == (1, 0, 0)
    [due] = service.get(f"/v1/referrals/{ref}", headers=provider).json()["overdue"]
    assert due["due"] == "assessment_booking"
    assert datetime.fromisoformat(due["overdue_raised_at"]) == service.clock.now()
    assert outbox_types(service)[-1] == "uk.isp.referral.overdue.v1"
