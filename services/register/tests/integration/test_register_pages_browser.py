"""The register's pages in headless Chromium: every page checked with axe (no serious or critical
violation), fitting a 320 px phone, screenshot at desktop and phone widths into
docs/screenshots/register-*.png; and the DSL's flows working with JavaScript off.

The register app is served in this process (uvicorn in a thread, lifespan off: the pages need no
broker) with a fixed clock; cross-area matches come from feeding the outbox's register events
through the register's own handlers. A plain (sync) test: Playwright's sync API must not run
inside an asyncio event loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from isp_common.db import make_engine
from isp_common.testing import FixedClock, auth_headers, bearer, nhs_number, published_events
from isp_common.testing.browser import check_accessible, fits_width, screenshot, serving
from isp_register import handlers
from isp_register.bootstrap import build
from isp_register.settings import Settings
from isp_schemas import topics
from isp_schemas.registry import parse_event
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser]

ORG, OTHER = "CGL-WSX", "TURNING-PT"
NOW = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
SAM = nhs_number(501)
PEOPLE = [
    (SAM, "Sam", "Field", "high", "child_concern", "2026-10-20"),
    (nhs_number(502), "Jo", "Rivers", "medium", "vulnerable_adult", "2026-11-02"),
    (nhs_number(503), "Alex", "Moor", "low", "general_high_risk", "2026-11-25"),
    (nhs_number(504), "Kit", "Downs", "high", "risk_to_vulnerable_adults", "2026-09-14"),
]


def consume(runtime: Any) -> None:
    """What the consumer of isp.register.v1 does: the register's handlers over its own events."""
    with runtime.uow() as uow:
        for event in published_events(uow.session):
            handler = handlers.HANDLERS_BY_TOPIC[topics.REGISTER].get(event.type)
            if handler is not None and not getattr(consume, event.id, False):
                setattr(consume, event.id, True)
                handler(uow, event, parse_event(event.to_json_bytes())[1])
        uow.commit()


def seed(runtime: Any) -> dict[str, str]:
    """Four entries of ORG (one closed, one overdue, one also open at OTHER); their ids by given name."""
    api = TestClient(runtime.api)
    key_dir = runtime.settings.resolved_key_dir
    mine = auth_headers(key_dir, ORG, "dsl", sub="dsl@cgl-wsx")
    ids = {}
    for number, given, family, risk, category, opened_on in PEOPLE:
        person = {"nhs_number": number, "given_name": given, "family_name": family}
        body = {"person": person, "category": category, "risk": risk, "opened_on": opened_on, "notes": "Monitoring."}
        response = api.post("/v1/register/entries", json=body, headers=mine)
        assert response.status_code == 201, response.text
        ids[given] = response.json()["id"]
    assert api.post(f"/v1/register/entries/{ids['Alex']}/close", json={"reason": "Moved."}, headers=mine).is_success
    consume(runtime)
    theirs = auth_headers(key_dir, OTHER, "dsl", sub="dsl@turning-pt")
    body = {"person": {"nhs_number": SAM}, "category": "vulnerable_adult", "risk": "high"}
    assert api.post("/v1/register/entries", json=body, headers=theirs).status_code == 201
    consume(runtime)
    return ids


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, dict[str, str]]]:
    var = tmp_path_factory.mktemp("register-pages")
    settings = Settings(var_dir=var, kafka_bootstrap="127.0.0.1:1", partnership_key="k")
    runtime = build(settings, engine=make_engine(f"sqlite:///{var / 'register.db'}"), clock=FixedClock(NOW))
    ids = seed(runtime)
    with serving(runtime.api, "the register app") as url:
        yield url, runtime, ids


def sign_in(page: Any, runtime: Any) -> None:
    page.goto("/register/worklist")
    assert page.url.endswith("/register/login")
    page.get_by_label("Token").fill(bearer(runtime.settings.resolved_key_dir, ORG, "dsl", sub="dsl@cgl-wsx"))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()  # signed in, the cookie set


def look(page: Any, name: str) -> None:
    check_accessible(page)
    screenshot(page, f"register-{name}")


def test_every_register_page_is_accessible_fits_a_phone_and_is_screenshot(browser, register) -> None:
    url, runtime, ids = register
    context = browser.new_context(base_url=url)
    page = context.new_page()
    try:
        page.goto("/register/login")
        look(page, "sign-in")
        sign_in(page, runtime)
        assert page.get_by_role("heading", level=1).inner_text() == f"Weekly worklist for {ORG}"
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        look(page, "worklist")

        page.get_by_role("navigation", name="Menu").get_by_role("link", name="All entries").click()
        assert page.locator("#results-count").inner_text() == "Showing 1 to 4 of 4 entries."
        expect(page.get_by_text(f"NHS {SAM[:3]} {SAM[3:6]} {SAM[6:]}")).to_be_visible()
        look(page, "entries")

        page.get_by_label("Search by NHS number or name").fill("123 456")
        page.get_by_role("button", name="Search").click()
        assert "Enter an NHS number with 10 digits" in page.locator("#q-error").inner_text()
        look(page, "entries-search-error")

        page.goto(f"/register/entries/{ids['Sam']}")
        expect(page.get_by_role("heading", name=re.compile("Also open at Turning Point"))).to_be_visible()
        look(page, "entry")

        page.get_by_role("button", name="Close this entry").click()
        page.get_by_role("button", name="Close entry").click()
        expect(page.locator("#close-reason-error")).to_be_visible()
        look(page, "close-entry")

        page.goto("/register/entries/new")
        page.get_by_role("button", name="Open entry").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        look(page, "open-entry")

        page.goto("/register/entries/reg-unknown")
        assert page.get_by_role("heading", level=1).inner_text() == "Not Found"
        check_accessible(page)
    finally:
        context.close()


def test_a_dsl_finds_reviews_contacts_and_closes_without_javascript_on_a_phone(browser, register) -> None:
    url, runtime, ids = register
    context = browser.new_context(base_url=url, java_script_enabled=False, viewport={"width": 320, "height": 640})
    page = context.new_page()
    try:
        sign_in(page, runtime)
        page.goto("/register/entries")
        page.get_by_label("Search by NHS number or name").fill("rivers")
        page.get_by_role("button", name="Search").click()
        assert page.locator("#results-count").inner_text() == "Showing 1 to 1 of 1 entry."
        page.get_by_role("link", name="Jo Rivers").click()
        page.get_by_role("form", name="Record a review").wait_for()  # the entry's page, not the list
        fits_width(page)

        review = page.get_by_role("form", name="Record a review")
        review.get_by_role("button", name="Record review").click()  # no notes
        expect(page.locator("#review-notes-error")).to_be_visible()
        assert page.locator("#review-due").inner_text() == "2 Dec 2026"  # the clock did not move
        page.get_by_role("form", name="Record a review").get_by_label("Review notes").fill("Seen at home; well.")
        page.get_by_role("form", name="Record a review").get_by_role("button", name="Record review").click()
        assert page.get_by_role("status").inner_text() == "Review recorded. The next review is due 30 Dec 2026."

        page.goto(f"/register/entries/{ids['Sam']}")
        page.get_by_label("Record the contact").fill("Phoned their DSL; they lead for now.")
        page.get_by_role("button", name="Record contact").click()
        assert page.get_by_role("status").inner_text() == "Contact recorded."
        expect(page.get_by_text("Phoned their DSL; they lead for now.")).to_be_visible()
        fits_width(page)

        page.goto(f"/register/entries/{ids['Kit']}")
        page.get_by_role("button", name="Close this entry").click()
        page.get_by_label("Why are you closing this entry?").fill("Sentence ended; no longer a risk.")
        page.get_by_role("button", name="Close entry").click()
        assert page.get_by_role("status").inner_text() == "Entry closed."
        fits_width(page)
    finally:
        context.close()
