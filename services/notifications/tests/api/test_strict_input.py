"""Strict input (issue 13): every request body refuses a field it does not declare, and every route
a query parameter it does not declare, with 422 problem+json naming it (never silently dropped)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from isp_common.runtime import ServiceRuntime
from isp_common.testing import auth_headers, nhs_number

from ..kit import CSC, PROVIDER

ORGANISATION = {"name": "Forward", "kind": "treatment_provider", "dsl_contact": "dsl@forward.example.org.uk"}
BODIES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("POST", "/v1/subscriptions", "social_care", {"url": "http://h/", "types": ["*"], "secret": "x"}, "secret"),
    ("POST", "/v1/conferences/conf-1/responses", "provider", {"response": "attending", "note": "late"}, "note"),
    ("POST", "/v1/informing", "provider", {"nhs_number": nhs_number(1), "informed": True, "on": "x"}, "on"),
    ("POST", "/v1/withheld/alert-1/release", "dsl", {"reason": "r", "service_user_informed": True, "by": "x"}, "by"),
    ("PUT", "/v1/directory/FWD-SSX", "admin", {**ORGANISATION, "dslContact": "x"}, "dslContact"),
]


@pytest.fixture
def client(make_runtime) -> TestClient:
    runtime: ServiceRuntime = make_runtime()
    client = TestClient(runtime.api)
    client.runtime = runtime  # type: ignore[attr-defined]  # the tests sign in with its keys
    return client


def _login(client: TestClient, org: str, role: str) -> dict[str, str]:
    return auth_headers(client.runtime.settings.resolved_key_dir, org, role)  # type: ignore[attr-defined]


def _unknown(response: Any, *locs: tuple[str, ...]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [(tuple(e["loc"]), e["msg"]) for e in response.json()["errors"]] == [
        (loc, "Extra inputs are not permitted") for loc in locs
    ]


@pytest.mark.parametrize(("method", "path", "role", "body", "unknown"), BODIES, ids=[b[1] for b in BODIES])
def test_every_body_refuses_an_unknown_field_by_name(client, method, path, role, body, unknown):
    org = PROVIDER if role in {"provider", "dsl"} else CSC
    response = client.request(method, path, json=body, headers=_login(client, org, role))
    _unknown(response, ("body", unknown))


def test_an_unknown_query_parameter_is_refused_by_name(client):
    response = client.get("/v1/alerts", params={"state": "pending", "limit": 5}, headers=_login(client, CSC, "dsl"))
    _unknown(response, ("query", "state"))
    assert client.get("/v1/alerts", params={"status": "pending"}, headers=_login(client, CSC, "dsl")).status_code == 200
