"""Strict input (issue 13): an unknown field in a body or an unknown query parameter is refused with
422 problem+json naming it, never silently dropped (a mistyped ``consentId`` once gave 201 and the
referral was then withheld for want of consent)."""

from __future__ import annotations

from isp_common.testing import outbox_events

from .client import CSC, PROVIDER, body, create

PROBLEM = "application/problem+json"


def _unknown(response, *locs: tuple[str, ...]) -> None:
    """A 422 problem naming exactly ``locs`` as unknown (``("body", "consentId")``, ``("query", "x")``)."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [(tuple(e["loc"]), e["msg"]) for e in response.json()["errors"]] == [
        (loc, "Extra inputs are not permitted") for loc in locs
    ]


def test_a_mistyped_consent_id_is_refused_by_name_and_nothing_is_made(service):
    fields = body()
    fields["consentId"] = fields.pop("consent_id")
    response = service.post("/v1/referrals", json=fields, headers=service.login(CSC, "social_care"))
    _unknown(response, ("body", "consentId"))
    assert "con-1" not in response.text
    assert outbox_events(service.runtime.engine) == []


def test_an_unknown_field_inside_the_person_is_named_by_its_path(service):
    fields = body(person={"nhs_number": body()["person"]["nhs_number"], "nickname": "Jo"})
    response = service.post("/v1/referrals", json=fields, headers=service.login(CSC, "social_care"))
    _unknown(response, ("body", "person", "nickname"))
    assert "Jo" not in response.text


def test_a_transition_body_refuses_an_unknown_field(service):
    referral = create(service)
    response = service.post(
        f"/v1/referrals/{referral['id']}/accept", json={"raG": "red"}, headers=service.login(PROVIDER, "provider")
    )
    _unknown(response, ("body", "raG"))


def test_an_unknown_query_parameter_is_refused_by_name(service):
    response = service.get("/v1/referrals", params={"state": "requested"}, headers=service.login(CSC, "social_care"))
    _unknown(response, ("query", "state"))
    known = service.get("/v1/referrals", params={"status": "requested"}, headers=service.login(CSC, "social_care"))
    assert known.status_code == 200, known.text
