"""Strict input (issue 13): the register API refuses an unknown body field or query parameter with
422 problem+json naming it, as every other API does (one way: isp_schemas.StrictModel and
isp_common.strict.StrictQuery)."""

from __future__ import annotations

from typing import Any

import pytest
from isp_common.testing import nhs_number

ENTRY = {"person": {"nhs_number": nhs_number(7)}, "category": "child_concern", "risk": "high"}


def _unknown(response: Any, *locs: tuple[str, ...]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [(tuple(e["loc"]), e["msg"]) for e in response.json()["errors"]] == [
        (loc, "Extra inputs are not permitted") for loc in locs
    ]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({**ENTRY, "riskLevel": "low"}, ("body", "riskLevel")),
        ({**ENTRY, "person": {**ENTRY["person"], "alias": "S"}}, ("body", "person", "alias")),
        (
            {**ENTRY, "agency_contacts": [{"agency": "Probation", "mobile": "x"}]},
            ("body", "agency_contacts", 0, "mobile"),
        ),
    ],
)
def test_opening_an_entry_refuses_an_unknown_field_by_its_path(auth, client, body, loc):
    _unknown(client.post("/v1/register/entries", json=body, headers=auth()), loc)


def test_closing_refuses_an_unknown_field(auth, client):
    entry = client.post("/v1/register/entries", json=ENTRY, headers=auth()).json()
    response = client.post(
        f"/v1/register/entries/{entry['id']}/close", json={"reason": "moved", "why": "x"}, headers=auth()
    )
    _unknown(response, ("body", "why"))


def test_an_unknown_query_parameter_is_refused_by_name(auth, client):
    _unknown(client.get("/v1/register/entries", params={"state": "open"}, headers=auth()), ("query", "state"))
    _unknown(client.get("/v1/register/worklist", params={"week": "1"}, headers=auth()), ("query", "week"))
    assert client.get("/v1/register/entries", params={"status": "open"}, headers=auth()).status_code == 200
