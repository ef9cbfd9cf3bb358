"""The IG API in process (routes and database, no broker: the lifespan is not started):
who sees which records, and CSV cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from isp_audit.bootstrap import build
from isp_audit.config import Settings
from isp_audit.handlers import append_disclosure
from isp_audit.service import _cell
from isp_audit.tables import AccessRecord
from isp_audit.testing import START, disclosure
from isp_common.auth import issue_token
from sqlmodel import Session, select

A, B, C, D = "ORG-A", "ORG-B", "ORG-C", "ORG-D"
SHARES = [(A, B), (B, A), (C, D), (A, C)]  # (discloser, recipient), seq 1..4


@pytest.fixture
def api(tmp_path):
    runtime = build(Settings(var_dir=tmp_path, database_url="sqlite://"))
    with Session(runtime.engine) as session:
        for i, (discloser, recipient) in enumerate(SHARES):
            at = START + timedelta(hours=i)
            append_disclosure(session, disclosure(discloser=discloser, recipient=recipient, shared_at=at), now=at)
            session.flush()
        session.commit()
    client = TestClient(runtime.api, raise_server_exceptions=False)
    client.runtime = runtime  # type: ignore[attr-defined]
    return client


def auth(api, org: str, *roles: str) -> dict[str, str]:
    token = issue_token(api.runtime.settings.resolved_key_dir, f"ig@{org.lower()}", org, list(roles))
    return {"Authorization": f"Bearer {token}"}


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
    with Session(api.runtime.engine) as session:
        append_disclosure(
            session,
            disclosure(discloser=A, recipient=B, shared_at=at, decision="withheld", lawful_basis=None, **risky),
            now=at,
        )
        session.commit()
    response = api.get("/v1/disclosures.csv", headers=auth(api, A, "ig_officer"), params={"decision": "withheld"})
    assert response.status_code == 200, response.text
    (row,) = csv.DictReader(io.StringIO(response.text))
    assert {name: row[name] for name in risky} == {name: "'" + value for name, value in risky.items()}
    assert row["discloser"] == A and row["decision"] == "withheld" and row["lawful_basis"] == ""
    assert row["data_categories"] == '["attendance"]' and row["service_user_informed"] == "false"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("safeguarding", "safeguarding"),
        ("a=1", "a=1"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (7, "7"),
        (["=x"], '["=x"]'),
        ({"kind": "consent"}, '{"kind":"consent"}'),
    ],
)
def test_a_csv_cell(value, cell):
    assert _cell(value) == cell
