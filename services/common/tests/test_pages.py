"""What both page sets share: the one sign-in router (the API's bearer token, pasted once, kept in
an HttpOnly cookie scoped to the page set), the one form reader with its Origin rule, the
security headers on every page response, and the shared design served at a fixed path."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from fastapi.testclient import TestClient
from isp_common.auth import Caller
from isp_common.pages import (
    ASSETS,
    SECURITY_HEADERS,
    FormDep,
    PageCallerDep,
    PageSet,
    PageSetDep,
    install_page_set,
    page_templates,
)
from isp_common.runtime import ServiceRuntime
from isp_common.testing import bearer

COOKIE = "demo_session"

router = APIRouter(prefix="/pages")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, page_set: PageSetDep, caller: PageCallerDep) -> HTMLResponse:
    return page_set.render(request, "home.html", caller=caller)


@router.post("/notes", response_class=HTMLResponse)
def note(request: Request, page_set: PageSetDep, caller: PageCallerDep, form: FormDep) -> HTMLResponse:
    return page_set.render(request, "home.html", caller=caller, note=form.get("note", ""))


@pytest.fixture
def page_set(tmp_path: Path) -> PageSet:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "login.html").write_text("<h1>Sign in</h1><p id='error'>{{ error or '' }}</p>")
    (templates / "home.html").write_text("<p id='who'>{{ caller.org }}</p><p id='note'>{{ note or '' }}</p>")
    return PageSet(
        prefix="/pages",
        cookie=COOKIE,
        roles=("dsl",),
        home="/",
        templates=Jinja2Templates(directory=str(templates)),
        wrong_role="These pages are for designated safeguarding leads.",
    )


@pytest.fixture
def client(runtime: ServiceRuntime, page_set: PageSet) -> TestClient:
    install_page_set(runtime.api, page_set)
    runtime.api.include_router(router)
    return TestClient(runtime.api, follow_redirects=False)


@pytest.fixture
def token(runtime: ServiceRuntime) -> str:
    return bearer(runtime.settings.resolved_key_dir, "CGL-WSX", "dsl")


def sign_in(client: TestClient, token: str, **headers: str) -> httpx.Response:
    return client.post("/pages/login", data={"token": token}, headers=headers)


def test_the_sign_in_page_is_served_under_the_page_sets_prefix(client: TestClient) -> None:
    response = client.get("/pages/login")
    assert response.status_code == 200 and "Sign in" in response.text


def test_signed_out_a_page_sends_the_user_to_sign_in(client: TestClient) -> None:
    response = client.get("/pages/")
    assert response.status_code == 303 and response.headers["location"] == "/pages/login"


def test_a_good_token_sets_an_httponly_strict_cookie_on_the_prefix_and_goes_home(
    client: TestClient, token: str
) -> None:
    response = sign_in(client, token)
    assert response.status_code == 303 and response.headers["location"] == "/pages/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={token};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/pages" in cookie
    assert "Secure" not in cookie  # the embedded default serves plain http
    page = client.get("/pages/")
    assert page.status_code == 200 and "<p id='who'>CGL-WSX</p>" in page.text


def test_a_token_without_the_page_sets_role_is_refused_with_403(client: TestClient, runtime: ServiceRuntime) -> None:
    provider = bearer(runtime.settings.resolved_key_dir, "CGL-WSX", "provider")
    response = sign_in(client, provider)
    assert response.status_code == 403
    assert "These pages are for designated safeguarding leads." in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("bad", ["", "not-a-jwt"])
def test_a_bad_token_is_refused_with_401(client: TestClient, bad: str) -> None:
    response = sign_in(client, bad)
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert "<p id='error'></p>" not in response.text  # says why


def test_a_form_posted_from_another_site_is_refused(client: TestClient, token: str) -> None:
    refused = sign_in(client, token, origin="https://evil.example")
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "This form was posted from another site."
    assert sign_in(client, token).status_code == 303
    elsewhere = client.post("/pages/notes", data={"note": "x"}, headers={"origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    same_site = client.post("/pages/notes", data={"note": "kept"}, headers={"origin": "http://testserver"})
    assert same_site.status_code == 200 and "<p id='note'>kept</p>" in same_site.text


def test_signing_out_clears_the_cookie(client: TestClient, token: str) -> None:
    sign_in(client, token)
    response = client.post("/pages/logout")
    assert response.status_code == 303 and response.headers["location"] == "/pages/login"
    cleared = response.headers["set-cookie"]
    assert cleared.startswith(f'{COOKIE}="";') and "Max-Age=0" in cleared and "Path=/pages" in cleared
    assert client.get("/pages/").status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "null"},  # a sandboxed frame or a data: page
        {"origin": "https://evil.example", "referer": "http://testserver/pages/"},  # Origin decides
        {"referer": "https://evil.example/form.html"},  # no Origin: the Referer's host decides
        {"origin": "http://testserver.evil.example"},
    ],
)
def test_a_post_from_anywhere_but_this_site_is_refused(client: TestClient, token: str, headers: dict[str, str]) -> None:
    assert sign_in(client, token).status_code == 303
    refused = client.post("/pages/notes", data={"note": "x"}, headers=headers)
    assert refused.status_code == 403 and refused.json()["detail"] == "This form was posted from another site."
    assert sign_in(client, token, **headers).status_code == 403


@pytest.mark.parametrize("headers", [{"origin": "http://testserver"}, {"referer": "http://testserver/pages/notes"}, {}])
def test_a_post_from_this_site_is_read(client: TestClient, token: str, headers: dict[str, str]) -> None:
    sign_in(client, token)
    same_site = client.post("/pages/notes", data={"note": "kept"}, headers=headers)
    assert same_site.status_code == 200 and "<p id='note'>kept</p>" in same_site.text


def test_the_sign_in_is_checked_before_the_form_is_read(client: TestClient) -> None:
    # signed out, even a form the reader would refuse is not read: the user is sent to sign in
    response = client.post("/pages/notes", content=b"x" * 300_000, headers={"content-type": "text/plain"})
    assert response.status_code == 303 and response.headers["location"] == "/pages/login"


def test_a_form_that_is_too_big_or_not_a_form_is_refused(client: TestClient, token: str) -> None:
    sign_in(client, token)
    big = client.post("/pages/notes", data={"note": "x" * 300_000})
    assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"
    json_body = client.post("/pages/notes", json={"note": "x"})
    assert json_body.status_code == 415


def test_every_page_response_carries_the_security_headers(client: TestClient, token: str) -> None:
    responses = {
        "page": client.get("/pages/login"),
        "redirect to sign in": client.get("/pages/"),
        "refused post": client.post("/pages/notes", headers={"origin": "https://evil.example"}),
        "bad token": sign_in(client, "not-a-jwt"),
    }
    for what, response in responses.items():
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (what, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert SECURITY_HEADERS["Cache-Control"] == "no-store" and SECURITY_HEADERS["X-Frame-Options"] == "DENY"


def test_the_headers_are_only_on_the_pages(client: TestClient) -> None:
    api = client.get("/healthz")
    assert "content-security-policy" not in api.headers


def test_the_shared_design_is_served_at_a_fixed_path(client: TestClient) -> None:
    css = client.get(f"{ASSETS}/govuk/govuk-frontend.min.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "GDS Transport" not in css.text.split("font-family")[0]  # no @font-face for the GOV.UK-only font
    assert client.get(f"{ASSETS}/govuk/LICENSE.txt").text.startswith("The MIT License")
    assert client.get(f"{ASSETS}/isp/isp.css").status_code == 200


def test_the_shared_templates_render_the_page_sets_name_caller_and_sign_out(runtime: ServiceRuntime) -> None:
    templates = page_templates("isp_common")
    pages = PageSet(
        prefix="/pages",
        cookie=COOKIE,
        roles=("dsl",),
        home="/",
        templates=templates,
        wrong_role="no",
        service_name="Demo service",
        navigation=(("Home", "/"),),
    )
    install_page_set(runtime.api, pages)
    client = TestClient(runtime.api, follow_redirects=False)
    login = client.get("/pages/login").text
    assert "<title>Sign in – Demo service</title>" in login and 'id="main-content"' in login
    assert 'href="#main-content"' in login and "Sign out" not in login
    env = templates.env
    caller = Caller(sub="u1", org="CGL-WSX", roles=frozenset({"dsl"}))
    page = env.get_template("isp_page.html").render(
        prefix="/pages",
        service_name="Demo service",
        navigation=(("Home", "/"),),
        caller=caller,
        role_label=pages.role_label(caller),
        assets=ASSETS,
        current="/pages/",
    )
    assert "CGL-WSX" in page and "designated safeguarding lead" in page and ">Sign out<" in page
    assert 'aria-current="page"' in page and 'action="/pages/logout"' in page
