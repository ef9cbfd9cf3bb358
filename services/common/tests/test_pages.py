"""The one sign-in router both page sets use: the API's bearer token, pasted once, kept in an
HttpOnly cookie scoped to the page set; forms posted from another site are refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from fastapi.testclient import TestClient
from isp_common.pages import FormDep, PageCallerDep, PageSet, PageSetDep, install_page_set
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
