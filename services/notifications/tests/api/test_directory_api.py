"""The partnership directory over HTTP (CONTRACT §9): any member reads it, an admin changes it,
and a change leaves on ``isp.directory.v1`` with the entry, in the same unit of work; and
``isp directory add|list`` against this API in process."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from typing import Any

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from isp_common import cli, directory
from isp_common.launcher import free_port
from isp_common.runtime import ServiceRuntime
from isp_common.testing import TEST_DIRECTORY_FILE, auth_headers, outbox_events
from isp_schemas import topics
from isp_schemas.directory import OrganisationUpdated
from jwt import PyJWK, PyJWS
from sqlmodel import Session
from typer.testing import CliRunner

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


# -- isp directory add / list, against this service in process ---------------------------------


@pytest.fixture
def isp(runtime, monkeypatch):
    """``isp(*args)``: the ``isp`` command with the notifications API of ``runtime`` behind its client
    (the default token is minted with the runtime's embedded key)."""

    def client(url: str, token: str) -> TestClient:
        return TestClient(runtime.api, base_url=url, headers={"Authorization": f"Bearer {token}"})

    monkeypatch.setattr(cli, "_http_client", client)

    def run(*args: str) -> Result:
        env = {"ISP_TOKEN": None, "ISP_NOTIFICATIONS_URL": None}
        return CliRunner().invoke(cli.app, [*args, "--key-dir", str(runtime.settings.resolved_key_dir)], env=env)

    return run


def entry(client: TestClient, runtime: ServiceRuntime, org: str) -> dict[str, Any]:
    found = client.get(f"/v1/directory/{org}", headers=as_org(runtime, "CGL-WSX", "provider"))
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638, computed here independently: SHA-256 of the required members, sorted, compact."""
    required = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(required.encode()).digest()).rstrip(b"=").decode()


def test_isp_directory_add_makes_a_key_whose_directory_jwk_verifies_its_signatures(runtime, client, isp, tmp_path):
    key_file = tmp_path / "fwd-ssx.jwk"
    args = ["--name", "Forward Trust, Sussex", "--dsl-contact", "dsl@forward.example", "--out-of-hours", "WSCC-EDT"]
    result = isp("directory", "add", "FWD-SSX", "--kind", "treatment_provider", *args, "--key-out", str(key_file))
    assert result.exit_code == 0, result.output
    assert "added FWD-SSX (treatment_provider)" in result.output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = json.loads(key_file.read_text())
    saved = entry(client, runtime, "FWD-SSX")
    assert (saved["name"], saved["out_of_hours"], saved["dsl_contact"]) == (args[1], "WSCC-EDT", args[3])
    [public] = saved["keys"]["keys"]
    assert public == {k: v for k, v in private.items() if k != "d"}
    assert (public["kty"], public["crv"], public["use"], public["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert public["kid"] == thumbprint(public) and public["kid"] in result.output
    signed = PyJWS().encode(b"an event", PyJWK(private).key, algorithm="EdDSA", headers={"kid": public["kid"]})
    assert PyJWS().decode(signed, PyJWK(public).key, algorithms=["EdDSA"]) == b"an event"
    [event] = outbox_events(runtime.engine, topics.DIRECTORY)
    assert event["data"]["keys"] == {"keys": [public]} and event["source"] == "urn:isp:org:PARTNERSHIP"


def test_isp_directory_add_changes_only_what_it_is_given_and_adds_a_second_key(runtime, client, isp, tmp_path):
    before = entry(client, runtime, "CGL-WSX")
    assert (
        isp("directory", "add", "CGL-WSX", "--kind", "treatment_provider", "--key-out", str(tmp_path / "1")).exit_code
        == 0
    )
    result = isp("directory", "add", "CGL-WSX", "--kind", "treatment_provider", "--key-out", str(tmp_path / "2"))
    assert result.exit_code == 0, result.output
    assert "changed CGL-WSX" in result.output
    after = entry(client, runtime, "CGL-WSX")
    assert {k: after[k] for k in ("name", "dsl_contact", "out_of_hours")} == {
        k: before[k] for k in ("name", "dsl_contact", "out_of_hours")
    }
    kids = [json.loads((tmp_path / n).read_text())["kid"] for n in ("1", "2")]
    assert [key["kid"] for key in after["keys"]["keys"]] == kids


def test_isp_directory_add_never_overwrites_a_key_file(runtime, isp, tmp_path):
    key_file = tmp_path / "existing.jwk"
    key_file.write_text("keep me")
    result = isp("directory", "add", "FWD-SSX", "--kind", "treatment_provider", "--key-out", str(key_file))
    assert result.exit_code == 1 and "not overwriting" in result.output and "Traceback" not in result.output
    assert key_file.read_text() == "keep me"
    assert outbox_events(runtime.engine, topics.DIRECTORY) == []


def test_isp_directory_add_without_the_admin_role_says_so_and_keeps_no_key(runtime, isp, tmp_path):
    token = auth_headers(runtime.settings.resolved_key_dir, "CGL-WSX", "dsl")["Authorization"].split()[1]
    key_file = tmp_path / "k.jwk"
    result = isp("directory", "add", "FWD-SSX", "--kind", "health", "--token", token, "--key-out", str(key_file))
    assert result.exit_code == 1 and "needs the role admin" in result.output and "Traceback" not in result.output
    assert not key_file.exists()  # its public half never reached the directory


def test_isp_directory_add_reports_an_invalid_entry_naming_the_field(runtime, isp):
    result = isp("directory", "add", "FWD-SSX", "--kind", "health", "--name", "x" * 300)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the entry is not valid: name:" in result.output


def test_isp_directory_add_checks_its_arguments_before_asking(isp):
    assert isp("directory", "add", "FWD-SSX", "--kind", "charity").exit_code == 2
    assert isp("directory", "add", "fwd ssx", "--kind", "health").exit_code == 2
    assert isp("directory", "add", "FWD-SSX", "--kind", "health", "--out-of-hours", "edt").exit_code == 2


def test_isp_directory_list_prints_every_organisation(isp):
    result = isp("directory", "list")
    assert result.exit_code == 0, result.output
    assert "WSCC-CSC" in result.output and "out of hours: WSCC-EDT" in result.output
    as_json = isp("directory", "list", "--json")
    assert {"PARTNERSHIP", "CGL-WSX"} <= {org["id"] for org in json.loads(as_json.stdout)}


def test_isp_directory_says_plainly_when_the_suite_is_not_running(tmp_path):
    token = auth_headers(tmp_path, "PARTNERSHIP", "admin")["Authorization"].split()[1]
    result = CliRunner().invoke(
        cli.app, ["directory", "list", "--url", f"http://127.0.0.1:{free_port()}", "--token", token]
    )
    assert result.exit_code == 1 and "is the suite running?" in result.output and "Traceback" not in result.output


def test_isp_directory_without_a_token_or_an_embedded_key_says_what_to_do(tmp_path):
    result = CliRunner().invoke(
        cli.app, ["directory", "list", "--key-dir", str(tmp_path / "none")], env={"ISP_TOKEN": None}
    )
    assert result.exit_code == 1 and "pass --token or set ISP_TOKEN" in result.output
