"""Strict input (issue 13): the IG API takes no bodies, so its strictness is in the query string. An
unknown parameter is refused with 422 problem+json naming it: a mistyped filter (``persn=`` for
``person=``) must not quietly widen a search to every record, nor be recorded as one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from isp_audit.bootstrap import build
from isp_audit.settings import Settings
from isp_audit.tables import AccessRecord
from isp_common.db import make_engine
from isp_common.testing import FixedClock, auth_headers, nhs_number
from sqlmodel import Session, select

from ..kit import START, disclosure, record

ORG = "ORG-A"


@pytest.fixture
def api(tmp_path):
    runtime = build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=FixedClock(START))
    record(runtime.engine, disclosure(discloser=ORG, recipient="ORG-B", shared_at=START), now=START)
    client = TestClient(runtime.api, raise_server_exceptions=False)
    client.headers.update(auth_headers(runtime.settings.resolved_key_dir, ORG, "partnership_ig"))
    return client, runtime


def _unknown(response, *names: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [(tuple(e["loc"]), e["msg"]) for e in response.json()["errors"]] == [
        (("query", name), "Extra inputs are not permitted") for name in names
    ]


@pytest.mark.parametrize("path", ["/v1/disclosures", "/v1/disclosures.csv"])
def test_a_mistyped_search_filter_is_refused_by_name_and_not_recorded_as_a_search(api, path):
    client, runtime = api
    response = client.get(path, params={"persn": nhs_number(1), "org": ORG, "sinse": "2026-01-01"})
    _unknown(response, "persn", "sinse")
    assert nhs_number(1) not in response.text
    with Session(runtime.engine) as session:
        assert session.exec(select(AccessRecord)).all() == []


def test_the_declared_parameters_still_pass(api):
    client, _ = api
    response = client.get("/v1/disclosures", params={"org": ORG, "limit": 5, "purpose": "SAR 12"})
    assert response.status_code == 200, response.text


def test_a_route_without_parameters_refuses_any(api):
    client, _ = api
    _unknown(client.get("/v1/verify", params={"full": "yes"}), "full")


@pytest.mark.parametrize(
    ("path", "org", "role", "typo"),
    [("/v1/rejections?limt=5", ORG, "provider", "limt"), ("/v1/deadletters?topik=x", "PARTNERSHIP", "admin", "topik")],
)
def test_the_rejections_and_dead_letter_lists_refuse_unknown_query_parameters(api, path, org, role, typo):
    client, runtime = api
    headers = auth_headers(runtime.settings.resolved_key_dir, org, role)
    _unknown(client.get(path, headers=headers), typo)
