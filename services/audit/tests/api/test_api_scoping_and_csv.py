"""The IG API in process (routes and database, no broker: the lifespan is not started):
who sees which records, and CSV cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from isp_audit.bootstrap import build
from isp_audit.settings import Settings
from isp_audit.tables import AccessRecord
from isp_common.db import make_engine
from isp_common.testing import FixedClock, auth_headers
from sqlmodel import Session, select

from ..kit import START, disclosure, record

A, B, C, D = "ORG-A", "ORG-B", "ORG-C", "ORG-D"
SHARES = [(A, B), (B, A), (C, D), (A, C)]  # (discloser, recipient), seq 1..4


@pytest.fixture
def api(tmp_path):
    runtime = build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=FixedClock(START))
    for i, (discloser, recipient) in enumerate(SHARES):
        at = START + timedelta(hours=i)
        record(runtime.engine, disclosure(discloser=discloser, recipient=recipient, shared_at=at), now=at)
    client = TestClient(runtime.api, raise_server_exceptions=False)
    client.runtime = runtime  # type: ignore[attr-defined]  # the tests read the runtime back from the client
    return client


def auth(api, org: str, *roles: str) -> dict[str, str]:
    return auth_headers(api.runtime.settings.resolved_key_dir, org, *roles)


def parties(api, headers, **params) -> list[tuple[str, str]]:
    response = api.get("/v1/disclosures", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [(r["discloser"], r["recipient"]) for r in response.json()["items"]]


def test_an_ig_officer_sees_only_records_where_its_org_discloses_or_receives(api):
    officer = auth(api, A, "ig_officer")
    assert parties(api, officer) == [(A, C), (B, A), (A, B)]  # newest first
    assert parties(api, officer, org=A) == [(A, C), (B, A), (A, B)]
    assert parties(api, auth(api, D, "ig_officer")) == [(C, D)]
    assert parties(api, auth(api, "ORG-E", "ig_officer")) == []


def test_partnership_ig_sees_every_record_and_can_filter_on_any_org(api):
    ig = auth(api, "ISP-IG", "partnership_ig")
    assert parties(api, ig) == [(A, C), (C, D), (B, A), (A, B)]
    assert parties(api, ig, org=C) == [(A, C), (C, D)]
    records = api.get("/v1/disclosures", headers=ig).json()["items"]
    assert all(api.get(f"/v1/disclosures/{r['id']}", headers=ig).status_code == 200 for r in records)


def test_an_ig_officer_filtering_on_another_org_sees_only_its_own_shares_with_it_and_is_recorded(api):
    """``org=C`` narrows an ig_officer's view to A's shares with C; C's other shares stay hidden."""
    officer = auth(api, A, "ig_officer")
    assert parties(api, officer, org=C, purpose="curious") == [(A, C)]
    rows = list(csv.reader(io.StringIO(api.get("/v1/disclosures.csv", headers=officer, params={"org": C}).text)))
    assert len(rows) == 2  # header and the one A-C record, not C-D
    with Session(api.runtime.engine) as session:
        asked = session.exec(select(AccessRecord).where(AccessRecord.org == A)).all()
    assert [(r.action, r.results, r.purpose) for r in asked][0] == ("search", 1, "curious")
    assert '"org": "ORG-C"' in asked[0].query


def test_an_ig_officer_reading_another_orgs_record_is_403_its_own_200(api):
    ig = auth(api, "ISP-IG", "partnership_ig")
    items = api.get("/v1/disclosures", headers=ig).json()["items"]
    by_parties = {(r["discloser"], r["recipient"]): r["id"] for r in items}
    officer = auth(api, A, "ig_officer")
    assert api.get(f"/v1/disclosures/{by_parties[(C, D)]}", headers=officer).status_code == 403
    assert api.get(f"/v1/disclosures/{by_parties[(C, D)]}/fhir", headers=officer).status_code == 403
    assert api.get(f"/v1/disclosures/{by_parties[(B, A)]}", headers=officer).status_code == 200
    assert api.get("/v1/disclosures/no-such-id", headers=officer).status_code == 404


def test_other_roles_are_403_and_no_token_401(api):
    assert api.get("/v1/disclosures").status_code == 401
    assert api.get("/v1/disclosures", headers=auth(api, A, "social_care")).status_code == 403
    assert api.get("/v1/verify", headers=auth(api, A, "dsl")).status_code == 403
    assert api.get("/v1/reconciliation", headers=auth(api, A, "ig_officer")).status_code == 403


def test_the_csv_export_is_scoped_like_the_search(api):
    response = api.get("/v1/disclosures.csv", headers=auth(api, A, "ig_officer"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["discloser"], r["recipient"]) for r in rows] == [(A, C), (B, A), (A, B)]
    assert [int(r["seq"]) for r in rows] == [4, 2, 1]


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_with_a_leading_apostrophe(api):
    risky = {
        "purpose": '=HYPERLINK("http://x","y")',
        "reason": "+44 1234 567890",
        "not_informed_reason": "@SUM(A1:A9)",
        "trace_id": "-1+1",
    }
    at = START + timedelta(days=1)
    withheld = disclosure(discloser=A, recipient=B, shared_at=at, decision="withheld", lawful_basis=None, **risky)
    record(api.runtime.engine, withheld, now=at)
    response = api.get("/v1/disclosures.csv", headers=auth(api, A, "ig_officer"), params={"decision": "withheld"})
    assert response.status_code == 200, response.text
    (row,) = csv.DictReader(io.StringIO(response.text))
    assert {name: row[name] for name in risky} == {name: "'" + value for name, value in risky.items()}
    assert row["discloser"] == A and row["decision"] == "withheld" and row["lawful_basis"] == ""
    assert row["data_categories"] == '["attendance"]' and row["service_user_informed"] == "false"


def test_refusals_are_problem_details(api):
    officer = auth(api, A, "ig_officer")
    basis = api.get("/v1/disclosures", headers=officer, params={"basis": "whim"})
    assert basis.status_code == 422 and basis.headers["content-type"] == "application/problem+json"
    assert basis.json() == {
        "type": "about:blank",
        "title": "Request is not valid",
        "status": 422,
        "detail": "basis must be one of consent, statutory, professional_judgement, child_protection_enquiry, "
        "child_protection_plan, significant_harm, child_protection_conference, safeguarding_register_match.",
    }
    since = api.get("/v1/disclosures", headers=officer, params={"since": "2025-11-03T10:00:00"}).json()
    assert since["detail"] == "since/until: a time needs an offset, e.g. 2025-11-03T10:00:00+00:00"
    cursor = api.get("/v1/disclosures", headers=officer, params={"cursor": "nonsense"})
    assert cursor.status_code == 400
    assert cursor.json() == {
        "type": "about:blank",
        "title": "Bad cursor",
        "status": 400,
        "detail": "the cursor is not one this service gave",
    }
    missing = api.get("/v1/disclosures/no-such-id", headers=officer).json()
    assert missing == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "There is no disclosure record with that id.",
    }


def test_verify_and_reconciliation_answer_their_documented_shapes(api):
    ig = auth(api, "ISP-IG", "partnership_ig")
    verdict = api.get("/v1/verify", headers=ig).json()
    assert verdict == {
        "ok": True,
        "records": 4,
        "head": verdict["head"],
        "first_bad_seq": None,
        "reason": None,
        "checkpoints_checked": 0,
    }
    assert api.get("/v1/reconciliation", headers=ig).json()["records_checked"] == 0  # all within the grace period
    api.runtime.clock.advance(days=1)
    report = api.get("/v1/reconciliation", headers=ig).json()
    assert report["ok"] is False and report["alerts_checked"] == 0 and report["records_checked"] == 4
    assert report["mismatch_count"] == 4 and {m["check"] for m in report["mismatches"]} == {"record_has_no_alert"}


def test_every_route_documents_its_response(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/v1/disclosures", "/v1/disclosures/{record_id}", "/v1/verify", "/v1/reconciliation"):
        assert "$ref" in paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"], path
    fhir = paths["/v1/disclosures/{record_id}/fhir"]["get"]["responses"]["200"]["content"]
    assert "$ref" in fhir["application/fhir+json"]["schema"]
    assert "text/csv" in paths["/v1/disclosures.csv"]["get"]["responses"]["200"]["content"]


def test_a_recipients_ig_officer_never_sees_a_share_withheld_from_it(api):
    """CONTRACT §6: no read path shows another organisation anything the decision did not share."""
    at = START + timedelta(hours=10)
    withheld = disclosure(
        discloser=C,
        recipient=A,
        decision="withheld",
        lawful_basis=None,
        reason="no consent recorded; no statutory ground",
        shared_at=at,
    )
    record(api.runtime.engine, withheld, now=at)
    assert (C, A) not in parties(api, auth(api, A, "ig_officer"))
    assert (C, A) not in parties(api, auth(api, A, "ig_officer"), decision="withheld")
    rows = list(csv.DictReader(io.StringIO(api.get("/v1/disclosures.csv", headers=auth(api, A, "ig_officer")).text)))
    assert all((r["discloser"], r["recipient"]) != (C, A) for r in rows)
    assert parties(api, auth(api, C, "ig_officer"), decision="withheld") == [(C, A)]  # the discloser's own
    ig = auth(api, "ISP-IG", "partnership_ig")
    [record_id] = [
        r["id"] for r in api.get("/v1/disclosures", headers=ig).json()["items"] if r["decision"] == "withheld"
    ]
    assert api.get(f"/v1/disclosures/{record_id}", headers=auth(api, A, "ig_officer")).status_code == 403
    assert api.get(f"/v1/disclosures/{record_id}", headers=auth(api, C, "ig_officer")).status_code == 200
