"""Contract v1.1 on the IG read paths: a share that replaces a withheld record links to it in the
JSON, the CSV, the FHIR AuditEvent and the pages; ``basis=`` takes ``professional_judgement`` and
the new ground; reconciliation accepts a re-decision and catches a dangling ``supersedes``."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.auditevent import AuditEvent
from isp_audit.bootstrap import build
from isp_audit.reconciliation import reconcile
from isp_audit.settings import Settings
from isp_common.db import make_engine
from isp_common.testing import FixedClock, auth_headers, bearer
from isp_schemas.audit import disclosure_record_id
from sqlmodel import Session

from ..kit import START, disclosure, record

PROVIDER, CSC = "CGL-WSX", "WSCC-CSC"
JUDGEMENT = {"kind": "professional_judgement", "by": "dsl-7", "reason": "Unborn baby at risk"}
CONFERENCE = {"kind": "statutory", "ground": "child_protection_conference"}
LATER = START + timedelta(minutes=30)


@pytest.fixture
def api(tmp_path):
    runtime = build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=FixedClock(LATER))
    client = TestClient(runtime.api, raise_server_exceptions=False, follow_redirects=False)
    client.runtime = runtime  # type: ignore[attr-defined]  # the tests read the runtime back from the client
    return client


def redecided(api) -> tuple[str, str]:
    """A withheld DNA, then the same alert shared when consent arrived; (withheld id, shared id)."""
    engine = api.runtime.engine
    withheld = disclosure(
        discloser=PROVIDER, recipient=CSC, decision="withheld", lawful_basis=None, reason="no consent", shared_at=START
    )
    record(engine, withheld, START)
    withheld_id = disclosure_record_id(withheld.alert_id, CSC, "withheld")
    share = disclosure(
        alert_id=withheld.alert_id,
        discloser=PROVIDER,
        recipient=CSC,
        lawful_basis={"kind": "consent", "consent_id": "consent-9"},
        supersedes=withheld_id,
        shared_at=LATER,
    )
    record(engine, share, LATER)
    return withheld_id, disclosure_record_id(share.alert_id, CSC, "shared")


def officer(api, org: str = PROVIDER) -> dict[str, str]:
    """The discloser's IG officer by default (the recipient's is never shown what was withheld from it)."""
    return auth_headers(api.runtime.settings.resolved_key_dir, org, "ig_officer")


def test_a_withheld_record_and_the_share_that_replaces_it_are_both_kept_and_linked(api):
    withheld_id, shared_id = redecided(api)
    every = api.get("/v1/disclosures", headers=officer(api)).json()["items"]
    assert [(r["decision"], r["supersedes"]) for r in every] == [("shared", withheld_id), ("withheld", None)]
    assert every[1]["id"] == withheld_id and every[0]["alert_id"] == every[1]["alert_id"]
    (shared,) = api.get("/v1/disclosures", headers=officer(api), params={"decision": "shared"}).json()["items"]
    assert shared["id"] == shared_id and shared["supersedes"] == withheld_id
    one = api.get(f"/v1/disclosures/{shared_id}", headers=officer(api)).json()
    assert one["supersedes"] == withheld_id
    assert api.get(f"/v1/disclosures/{withheld_id}", headers=officer(api)).json()["decision"] == "withheld"
    assert api.get(
        "/v1/verify", headers=auth_headers(api.runtime.settings.resolved_key_dir, "ISP-IG", "partnership_ig")
    ).json()["ok"]


def test_the_csv_and_the_fhir_audit_event_name_the_superseded_record(api):
    withheld_id, shared_id = redecided(api)
    response = api.get("/v1/disclosures.csv", headers=officer(api), params={"decision": "shared"})
    assert response.status_code == 200, response.text
    (row,) = csv.DictReader(io.StringIO(response.text))
    assert row["supersedes"] == withheld_id
    fhir = api.get(f"/v1/disclosures/{shared_id}/fhir", headers=officer(api))
    assert fhir.status_code == 200 and fhir.headers["content-type"].startswith("application/fhir+json")
    event = AuditEvent.model_validate(fhir.json())
    (link,) = [e for e in event.entity if e.description == "supersedes"]
    assert link.what.reference == f"AuditEvent/{withheld_id}" and link.type.code == "AuditEvent"
    assert api.get(f"/v1/disclosures/{withheld_id}/fhir", headers=officer(api)).json()["id"] == withheld_id


def test_a_judgement_release_is_found_by_its_basis_and_shows_who_and_why(api):
    redecided(api)
    record(
        api.runtime.engine,
        disclosure(discloser=PROVIDER, recipient=CSC, lawful_basis=JUDGEMENT, shared_at=LATER),
        LATER,
    )
    record(
        api.runtime.engine,
        disclosure(discloser=PROVIDER, recipient=CSC, lawful_basis=CONFERENCE, shared_at=LATER),
        LATER,
    )
    found = api.get("/v1/disclosures", headers=officer(api), params={"basis": "professional_judgement"}).json()
    assert [r["lawful_basis"] for r in found["items"]] == [JUDGEMENT]
    ground = api.get("/v1/disclosures", headers=officer(api), params={"basis": "child_protection_conference"}).json()
    assert [r["lawful_basis"] for r in ground["items"]] == [CONFERENCE]
    fhir = api.get(f"/v1/disclosures/{found['items'][0]['id']}/fhir", headers=officer(api)).json()
    (basis,) = [e for e in AuditEvent.model_validate(fhir).entity if e.type and e.type.code == "professional_judgement"]
    assert basis.what.identifier.value == "dsl-7" and basis.detail[0].valueString == JUDGEMENT["reason"]


def test_the_pages_filter_on_professional_judgement_and_link_to_the_superseded_record(api):
    withheld_id, shared_id = redecided(api)
    record(
        api.runtime.engine,
        disclosure(discloser=PROVIDER, recipient=CSC, lawful_basis=JUDGEMENT, shared_at=LATER),
        LATER,
    )
    token = bearer(api.runtime.settings.resolved_key_dir, CSC, "ig_officer")
    assert api.post("/ig/login", data={"token": token}, headers={"Origin": "http://testserver"}).status_code == 303
    page = api.get("/ig/", params={"basis": "professional_judgement"})
    assert page.status_code == 200 and page.text.count('href="/ig/disclosures/') == 1
    assert "Professional judgement" in page.text
    assert '<option value="professional_judgement"' in page.text
    shown = api.get(f"/ig/disclosures/{shared_id}")
    assert f'href="/ig/disclosures/{withheld_id}"' in shown.text


def test_reconciliation_accepts_a_redecision_and_flags_what_does_not_add_up(api):
    engine = api.runtime.engine
    redecided(api)
    withheld = disclosure(discloser=PROVIDER, recipient=CSC, decision="withheld", lawful_basis=None, reason="none")
    record(engine, withheld, START)
    record(engine, disclosure(alert_id=withheld.alert_id, discloser=PROVIDER, recipient=CSC, shared_at=START), START)
    dangling = disclosure(discloser=PROVIDER, recipient=CSC, supersedes="no-such-record", shared_at=START)
    record(engine, dangling, START)
    with Session(engine) as session:
        report = reconcile(session, LATER + timedelta(days=1), grace_seconds=60)
    checks = {(m.check, m.reference) for m in report.mismatches}
    assert ("shared_and_withheld", withheld.alert_id) in checks
    assert ("supersedes_unknown", dangling.alert_id) in checks
    assert not any(check == "shared_and_withheld" and ref != withheld.alert_id for check, ref in checks)
