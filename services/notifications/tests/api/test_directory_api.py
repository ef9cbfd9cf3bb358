"""The partnership directory over HTTP (CONTRACT §9): any member reads it, an admin changes it,
and a change leaves on ``isp.directory.v1`` with the entry, in the same unit of work."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from isp_common import directory
from isp_common.runtime import ServiceRuntime
from isp_common.testing import TEST_DIRECTORY_FILE, auth_headers, outbox_events
from isp_schemas import topics
from isp_schemas.directory import OrganisationUpdated
from sqlmodel import Session

PROBLEM = "application/problem+json"
NEW_PROVIDER = {
    "name": "Forward Trust, Sussex",
    "kind": "treatment_provider",
    "dsl_contact": "safeguarding@forward.example.org.uk",
    "out_of_hours": "WSCC-EDT",
}


@pytest.fixture
def runtime(make_runtime) -> ServiceRuntime:
    runtime: ServiceRuntime = make_runtime()
    return runtime


@pytest.fixture
def client(runtime: ServiceRuntime) -> TestClient:
    return TestClient(runtime.api)


def as_org(runtime: ServiceRuntime, org: str, role: str) -> dict[str, str]:
    return auth_headers(runtime.settings.resolved_key_dir, org, role)


def put(client: TestClient, runtime: ServiceRuntime, org: str, body: dict[str, Any], role: str = "admin") -> Any:
    return client.put(f"/v1/directory/{org}", json=body, headers=as_org(runtime, "PARTNERSHIP", role))


@pytest.mark.parametrize("role", ["provider", "social_care", "dsl", "ig_officer", "partnership_ig", "admin"])
def test_any_role_reads_the_directory_seeded_from_the_file(runtime, client, role):
    listed = client.get("/v1/directory", headers=as_org(runtime, "CGL-WSX", role))
    assert listed.status_code == 200, listed.text
    ids = [org["id"] for org in listed.json()["items"]]
    assert ids == sorted(ids) and {"WSCC-CSC", "WSCC-EDT", "CGL-WSX", "PARTNERSHIP"} <= set(ids)
    one = client.get("/v1/directory/WSCC-CSC", headers=as_org(runtime, "CGL-WSX", role))
    assert one.status_code == 200
    assert one.json()["kind"] == "children_social_care" and one.json()["out_of_hours"] == "WSCC-EDT"


def test_reading_needs_a_token_and_an_unknown_organisation_is_a_404_problem(runtime, client):
    assert client.get("/v1/directory").status_code == 401
    unknown = client.get("/v1/directory/NOT-THERE", headers=as_org(runtime, "CGL-WSX", "provider"))
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert unknown.json()["detail"] == "NOT-THERE is not in the partnership directory."


def test_an_admin_adds_an_organisation_and_the_change_is_published_with_it(runtime, client):
    added = put(client, runtime, "FWD-SSX", NEW_PROVIDER)
    assert added.status_code == 200, added.text
    assert added.json() == {"id": "FWD-SSX", **NEW_PROVIDER, "keys": {"keys": []}}
    assert client.get("/v1/directory/FWD-SSX", headers=as_org(runtime, "WSCC-CSC", "social_care")).json()["id"]
    [event] = outbox_events(runtime.engine, topics.DIRECTORY, OrganisationUpdated.event_type)
    assert event["data"] == added.json() and event["source"] == "urn:isp:org:PARTNERSHIP"
    assert event["time"] == "2026-03-10T12:00:00Z"


def test_an_admin_changes_an_entry_and_the_file_never_overwrites_it(runtime, client):
    changed = put(client, runtime, "CGL-WSX", {**NEW_PROVIDER, "id": "CGL-WSX", "name": "CGL West Sussex (renamed)"})
    assert changed.status_code == 200, changed.text
    with Session(runtime.engine) as session:
        assert directory.seed(session, directory.load_file(TEST_DIRECTORY_FILE), runtime.clock.now()) == 0
        entry = directory.organisation(session, "CGL-WSX")
    assert entry is not None and entry.name == "CGL West Sussex (renamed)"
    [event] = outbox_events(runtime.engine, topics.DIRECTORY)
    assert event["data"]["name"] == "CGL West Sussex (renamed)"


@pytest.mark.parametrize("role", ["provider", "social_care", "dsl", "ig_officer", "partnership_ig"])
def test_only_an_admin_changes_the_directory(runtime, client, role):
    refused = put(client, runtime, "FWD-SSX", NEW_PROVIDER, role=role)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert client.get("/v1/directory/FWD-SSX", headers=as_org(runtime, "CGL-WSX", role)).status_code == 404
    assert outbox_events(runtime.engine, topics.DIRECTORY) == []


def test_a_body_naming_another_organisation_is_refused_naming_the_id(runtime, client):
    refused = put(client, runtime, "FWD-SSX", {**NEW_PROVIDER, "id": "CGL-WSX"})
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert [e["loc"] for e in refused.json()["errors"]] == [["body", "id"]]
    assert outbox_events(runtime.engine, topics.DIRECTORY) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW_PROVIDER, "kind": "charity"}, "kind"),
        ({k: v for k, v in NEW_PROVIDER.items() if k != "dsl_contact"}, "dsl_contact"),
        ({**NEW_PROVIDER, "keys": {"keys": [{"kty": "OKP"}]}}, "keys"),
        ({**NEW_PROVIDER, "out_of_hours": "lower-case-edt"}, "out_of_hours"),
    ],
)
def test_an_invalid_entry_is_a_422_problem_naming_the_field(runtime, client, body, field):
    refused = put(client, runtime, "FWD-SSX", body)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert any(e["loc"][:2] == ["body", field] for e in refused.json()["errors"]), refused.json()
    assert "lower-case-edt" not in refused.text and "charity" not in refused.text  # the input is never echoed


def test_an_invalid_organisation_id_in_the_path_is_refused(runtime, client):
    refused = put(client, runtime, "lower-case", NEW_PROVIDER)
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["errors"]] == [["path", "org"]]
