"""The IG pages in process: the common sign-in at /ig/login and /ig/logout (cookie
``isp_ig_token``), searching (what it refuses, what it keeps, what it shows), a record,
verifying, and the headers every page carries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from isp_audit.bootstrap import build
from isp_audit.pages.search_form import NOTHING_TO_SEARCH_BY
from isp_audit.settings import Settings
from isp_common.db import make_engine
from isp_common.pages import SECURITY_HEADERS
from isp_common.testing import FixedClock, bearer

from ..kit import NHS, OTHER_NHS, START, disclosure, record

ORIGIN = {"Origin": "http://testserver"}
SPACED_NHS = f"{NHS[:3]} {NHS[3:6]} {NHS[6:]}"
NOT_AN_NHS_NUMBER = NHS[:9] + str((int(NHS[9]) + 1) % 10)  # right length, wrong check digit


@pytest.fixture
def pages(tmp_path):
    runtime = build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=FixedClock(START))
    for i, (discloser, recipient) in enumerate([("ORG-A", "ORG-B"), ("ORG-C", "ORG-D")]):
        at = START + timedelta(hours=i)
        record(runtime.engine, disclosure(person=NHS, discloser=discloser, recipient=recipient, shared_at=at), at)
    client = TestClient(runtime.api, raise_server_exceptions=False, follow_redirects=False)
    client.engine = runtime.engine  # type: ignore[attr-defined]  # the paging test adds records
    client.key_dir = runtime.settings.resolved_key_dir  # type: ignore[attr-defined]  # the tests sign tokens with it
    return client


def sign_in(client, org: str, *roles: str):
    return client.post("/ig/login", data={"token": bearer(client.key_dir, org, *roles)}, headers=ORIGIN)


def rows(html: str) -> int:
    """Result rows: each links to its record."""
    return html.count('href="/ig/disclosures/')


def field_error(html: str, name: str) -> str:
    """The error message shown on field ``name`` (empty if none)."""
    found = re.search(rf'<p id="{name}-error" class="govuk-error-message">\s*<span[^>]*>Error:</span>([^<]*)</p>', html)
    return found[1].strip() if found else ""


def value_of(html: str, name: str) -> str | None:
    found = re.search(rf'<input[^>]*id="{name}"[^>]*value="([^"]*)"', html)
    return found[1] if found else None


def test_a_page_sends_the_signed_out_to_sign_in(pages):
    response = pages.get("/ig/")
    assert response.status_code == 303 and response.headers["location"] == "/ig/login"
    login = pages.get("/ig/login")
    assert login.status_code == 200 and ">Sign in<" in login.text.replace("\n", "").replace("  ", "")


def test_sign_in_keeps_the_token_in_a_strict_http_only_cookie_scoped_to_the_pages(pages):
    response = sign_in(pages, "ORG-A", "ig_officer")
    assert response.status_code == 303 and response.headers["location"] == "/ig/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("isp_ig_token=") and "HttpOnly" in cookie and "Path=/ig" in cookie
    assert "samesite=strict" in cookie.lower()
    home = pages.get("/ig/")
    assert home.status_code == 200 and "ORG-A" in home.text and "IG officer" in home.text


def test_sign_in_refuses_a_bad_token_and_a_token_without_an_ig_role(pages):
    bad = pages.post("/ig/login", data={"token": "not-a-token"}, headers=ORIGIN)
    assert bad.status_code == 401 and field_error(bad.text, "token")
    refused = sign_in(pages, "ORG-A", "social_care")
    assert refused.status_code == 403 and "This token has no IG role." in refused.text


def test_the_first_visit_shows_the_form_without_errors_or_results(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    page = pages.get("/ig/")
    assert page.status_code == 200 and "There is a problem" not in page.text and 'id="results"' not in page.text


def test_an_officer_searches_and_sees_only_its_own_organisations_records(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    page = pages.get("/ig/", params={"person": NHS, "purpose": "subject access request"})
    assert page.status_code == 200
    assert rows(page.text) == 1 and "ORG-B" in page.text and "ORG-D" not in page.text
    assert "1 record found" in page.text and "Showing 1 to 1 of 1" in page.text


def test_the_results_say_what_was_shared_in_words_and_uk_time(pages):
    sign_in(pages, "ISP-IG", "partnership_ig")
    page = pages.get("/ig/", params={"person": SPACED_NHS})  # typed with spaces, as printed
    assert page.status_code == 200 and rows(page.text) == 2 and "2 records found" in page.text
    assert "3 Nov 2025, 11:00" in page.text and "3 Nov 2025, 10:00" in page.text  # GMT in November
    assert "Did not attend" in page.text and "Attendance" in page.text  # alert type, data categories
    assert "Statutory: child protection plan" in page.text and SPACED_NHS in page.text
    assert "2025-11-03T" not in page.text and "UTC" not in page.text


@pytest.mark.parametrize("typed", ["12345", NOT_AN_NHS_NUMBER, "943-476-591X"])
def test_an_invalid_nhs_number_is_an_error_on_its_field_never_no_records(pages, typed):
    sign_in(pages, "ISP-IG", "partnership_ig")
    page = pages.get("/ig/", params={"person": typed, "purpose": "subject access request"})
    assert page.status_code == 422
    assert field_error(page.text, "person").startswith("Enter")
    assert 'href="#person"' in page.text  # the error summary links to the field
    assert value_of(page.text, "person") == typed and value_of(page.text, "purpose") == "subject access request"
    assert "No records match" not in page.text and 'id="results"' not in page.text


def test_a_bad_date_is_an_error_on_its_field_and_is_kept_as_typed(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    page = pages.get("/ig/", params={"person": NHS, "since": "31/02/2025", "until": "soon"})
    assert page.status_code == 422
    assert field_error(page.text, "since") == "From date must be a real date, like 30/11/2026"
    assert field_error(page.text, "until") == "To date must be a real date, like 30/11/2026"
    assert value_of(page.text, "since") == "31/02/2025" and value_of(page.text, "until") == "soon"


def test_dates_read_as_people_type_them_and_the_to_date_is_a_whole_day(pages):
    sign_in(pages, "ISP-IG", "partnership_ig")
    for since, until in [("3/11/2025", "3/11/2025"), ("2025-11-03", "2025-11-03"), ("3 Nov 2025", "3 November 2025")]:
        page = pages.get("/ig/", params={"since": since, "until": until})
        assert page.status_code == 200 and rows(page.text) == 2, (since, until)
    backwards = pages.get("/ig/", params={"since": "4/11/2025", "until": "3/11/2025"})
    assert field_error(backwards.text, "until") == "To date must be the same as or after the from date"


def test_an_empty_search_asks_for_something_to_search_by(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    for params in ({"person": "", "org": "", "purpose": ""}, {"purpose": "subject access request"}):
        page = pages.get("/ig/", params=params)
        assert page.status_code == 422 and field_error(page.text, "person") == NOTHING_TO_SEARCH_BY
        assert 'id="results"' not in page.text


def test_a_search_that_finds_nothing_says_so(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    page = pages.get("/ig/", params={"person": OTHER_NHS})
    assert page.status_code == 200 and "0 records found" in page.text and "No records match" in page.text


def test_the_other_fields_say_what_they_refuse(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    basis = pages.get("/ig/", params={"basis": "whim"})
    assert basis.status_code == 422 and field_error(basis.text, "basis") == "Choose a lawful basis from the list"
    org = pages.get("/ig/", params={"org": "not an org!"})
    assert field_error(org.text, "org").startswith("Enter an organisation id")
    cursor = pages.get("/ig/", params={"person": NHS, "cursor": "nonsense"})
    assert cursor.status_code == 400 and "the cursor is not one this service gave" in cursor.text
    assert value_of(cursor.text, "person") == NHS


def test_results_are_paged_with_totals(pages):
    for i in range(53):
        at = START + timedelta(days=1, minutes=i)
        record(pages.engine, disclosure(person=OTHER_NHS, discloser="ORG-A", recipient="ORG-B", shared_at=at), at)
    sign_in(pages, "ORG-A", "ig_officer")
    first = pages.get("/ig/", params={"person": OTHER_NHS})
    assert rows(first.text) == 50 and "Showing 1 to 50 of 53" in first.text and "53 records found" in first.text
    older = re.search(r'href="(/ig/\?[^"]*cursor=[^"]*)"', first.text)
    assert older, "no link to older records"
    second = pages.get(older[1].replace("&amp;", "&"))
    assert rows(second.text) == 3 and "Showing 51 to 53 of 53" in second.text and "Newest records" in second.text


def test_the_csv_refuses_what_the_search_refuses(pages):
    sign_in(pages, "ORG-A", "ig_officer")
    refused = pages.get("/ig/disclosures.csv", params={"person": "12345"})
    assert refused.status_code == 422 and field_error(refused.text, "person")


def test_another_organisations_record_is_refused_on_its_page(pages):
    sign_in(pages, "ISP-IG", "partnership_ig")
    csv = pages.get("/ig/disclosures.csv", params={"org": "ORG-C"}).text
    other_id = csv.splitlines()[1].split(",")[1]
    shown = pages.get(f"/ig/disclosures/{other_id}")
    assert shown.status_code == 200 and "3 Nov 2025, 11:00" in shown.text and SPACED_NHS in shown.text
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
    assert pages.post("/ig/logout", headers={"Origin": "null"}).status_code == 403
    assert pages.get("/ig/").status_code == 200  # still signed in
    response = pages.post("/ig/logout", headers=ORIGIN)
    assert response.status_code == 303 and response.headers["location"] == "/ig/login"
    assert 'isp_ig_token=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert pages.get("/ig/").status_code == 303


@pytest.mark.parametrize("path", ["/ig/login", "/ig/", "/ig/verify", "/ig/disclosures/none"])
def test_every_ig_page_carries_the_security_headers(pages, path):
    sign_in(pages, "ORG-A", "ig_officer")
    response = pages.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (path, name)


def test_the_shared_design_is_served_to_the_pages(pages):
    page = pages.get("/ig/login").text
    css = re.search(r'<link rel="stylesheet" href="([^"]*govuk-frontend\.min\.css)"', page)
    assert css and pages.get(css[1]).status_code == 200
    assert "<script>" not in page and "style=" not in page  # nothing inline for the CSP to refuse
