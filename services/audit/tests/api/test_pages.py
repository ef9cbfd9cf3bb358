"""The IG pages in process: the common sign-in at /ig/login and /ig/logout (cookie
``isp_ig_token``), searching, a record, verifying, and what the pages refuse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from isp_audit.bootstrap import build
from isp_audit.settings import Settings
from isp_common.db import make_engine
from isp_common.testing import FixedClock, bearer

from ..kit import NHS, START, disclosure, record

ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def pages(tmp_path):
    runtime = build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=FixedClock(START))
    for i, (discloser, recipient) in enumerate([("ORG-A", "ORG-B"), ("ORG-C", "ORG-D")]):
        at = START + timedelta(hours=i)
        record(runtime.engine, disclosure(person=NHS, discloser=discloser, recipient=recipient, shared_at=at), at)
    client = TestClient(runtime.api, raise_server_exceptions=False, follow_redirects=False)
    client.key_dir = runtime.settings.resolved_key_dir  # type: ignore[attr-defined]  # the tests sign tokens with it
    return client


def sign_in(client, org: str, *roles: str):
    return client.post("/ig/login", data={"token": bearer(client.key_dir, org, *roles)}, headers=ORIGIN)


def test_a_page_sends_the_signed_out_to_sign_in(pages):
    response = pages.get("/ig/")
    assert response.status_code == 303 and response.headers["location"] == "/ig/login"
    assert pages.get("/ig/login").status_code == 200


def test_sign_in_keeps_the_token_in_a_strict_http_only_cookie_scoped_to_the_pages(pages):
    response = sign_in(pages, "ORG-A", "ig_officer")
    assert response.status_code == 303 and response.headers["location"] == "/ig/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("isp_ig_token=") and "HttpOnly" in cookie and "Path=/ig" in cookie
    assert "samesite=strict" in cookie.lower()
    assert pages.get("/ig/").status_code == 200


def test_sign_in_refuses_a_bad_token_and_a_token_without_an_ig_role(pages):
    assert pages.post("/ig/login", data={"token": "not-a-token"}, headers=ORIGIN).status_code == 401
    refused = sign_in(pages, "ORG-A", "social_care")
    assert refused.status_code == 403 and "This token has no IG role." in refused.text


def test_an_officer_searches_and_sees_only_its_own_organisations_records(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    page = pages.get("/ig/", params={"person": NHS, "purpose": "subject access request"})
    assert page.status_code == 200
    assert page.text.count("<tr><td>") == 1 and "ORG-B" in page.text and "ORG-D" not in page.text


def test_the_search_page_says_what_it_refuses(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    basis = pages.get("/ig/", params={"basis": "whim"})
    assert basis.status_code == 422 and "Choose a lawful basis from the list." in basis.text
    dates = pages.get("/ig/", params={"since": "3 November"})
    assert dates.status_code == 422 and "Dates are YYYY-MM-DD." in dates.text
    cursor = pages.get("/ig/", params={"cursor": "nonsense"})
    assert cursor.status_code == 400 and "the cursor is not one this service gave" in cursor.text


def test_another_organisations_record_is_refused_on_its_page(pages):
    sign_in(pages, "ISP-IG", "partnership_ig")
    csv = pages.get("/ig/disclosures.csv", params={"org": "ORG-C"}).text
    other_id = csv.splitlines()[1].split(",")[1]
    assert pages.get(f"/ig/disclosures/{other_id}").status_code == 200
    sign_in(pages, "ORG-A", "ig_officer")
    refused = pages.get(f"/ig/disclosures/{other_id}")
    assert refused.status_code == 403 and "This record is not your organisation&#39;s." in refused.text


def test_verify_is_a_form_post(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    assert pages.get("/ig/verify").status_code == 200
    verdict = pages.post("/ig/verify", headers=ORIGIN)
    assert verdict.status_code == 200 and "Intact: 2 records" in verdict.text


def test_sign_out_is_a_form_post_from_this_site_only(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    assert 'action="/ig/logout"' in pages.get("/ig/").text
    assert pages.post("/ig/logout", headers={"Origin": "https://elsewhere.example"}).status_code == 403
    assert pages.get("/ig/").status_code == 200  # still signed in
    response = pages.post("/ig/logout", headers=ORIGIN)
    assert response.status_code == 303 and response.headers["location"] == "/ig/login"
    assert 'isp_ig_token=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert pages.get("/ig/").status_code == 303
