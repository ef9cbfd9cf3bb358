"""The IG pages in headless Chromium: every page checked with axe (no serious or critical
violation), usable at 320 px, screenshot at desktop and phone widths into docs/screenshots/,
and the search flow working with JavaScript off.

The audit app is served in this process (uvicorn in a thread, lifespan off: the pages need no
broker) over a database seeded with a few records. A plain (sync) test: Playwright's sync API
must not run inside an asyncio event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from isp_audit.bootstrap import build
from isp_audit.settings import Settings
from isp_common.db import make_engine
from isp_common.testing import FixedClock, bearer
from isp_common.testing.browser import check_accessible, fits_width, screenshot, serving
from playwright.sync_api import expect

from ..kit import NHS, START, disclosure, record

pytestmark = [pytest.mark.browser]

SPACED_NHS = f"{NHS[:3]} {NHS[3:6]} {NHS[6:]}"
BAD_NHS = NHS[:9] + str((int(NHS[9]) + 1) % 10)
SHARES: list[dict[str, Any]] = [
    {"discloser": "CGL-WSX", "recipient": "WSCC-CSC"},
    {
        "discloser": "CGL-WSX",
        "recipient": "WSCC-CSC",
        "alert_type": "uk.isp.alert.treatment_dropout.v1",
        "data_categories": ["attendance", "treatment_status"],
        "lawful_basis": {"kind": "professional_judgement", "by": "dsl-7", "reason": "Unborn baby at risk"},
    },
    {
        "discloser": "CGL-WSX",
        "recipient": "BHCC-CSC",
        "decision": "withheld",
        "lawful_basis": None,
        "reason": "no consent and no statutory ground",
    },
]


@pytest.fixture(scope="module")
def ig_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    var = tmp_path_factory.mktemp("ig-pages")
    runtime = build(Settings(var_dir=var), engine=make_engine(f"sqlite:///{var / 'audit.db'}"), clock=FixedClock(START))
    for i, overrides in enumerate(SHARES):
        at = START + timedelta(hours=i)
        record(runtime.engine, disclosure(person=NHS, shared_at=at, **overrides), at)
    with serving(runtime.api, "the audit app") as url:
        yield url, runtime


def token(runtime: Any, org: str, role: str) -> str:
    return bearer(runtime.settings.resolved_key_dir, org, role)


def test_every_ig_page_is_accessible_fits_a_phone_and_is_screenshot(browser, ig_url) -> None:
    url, runtime = ig_url
    context = browser.new_context(base_url=url)
    page = context.new_page()
    try:
        page.goto("/ig/")
        assert page.url.endswith("/ig/login")
        check_accessible(page)
        screenshot(page, "ig-sign-in")

        page.get_by_label("Token").fill("not a token")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        check_accessible(page)

        page.get_by_label("Token").fill(token(runtime, "ISP-IG", "partnership_ig"))
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Who shared what, with whom, when"
        assert "ISP-IG" in page.locator("#signed-in").inner_text()
        check_accessible(page)
        screenshot(page, "ig-search")

        page.get_by_label("Person (NHS number)").fill(SPACED_NHS)
        page.get_by_label("Why you are asking").fill("subject access request")
        page.get_by_role("button", name="Search").click()
        assert page.locator("#results").inner_text() == "3 records found"
        expect(page.locator("tbody tr")).to_have_count(3)
        check_accessible(page)
        screenshot(page, "ig-search-results")

        page.locator("tbody tr").last.get_by_role("link").click()
        assert page.get_by_role("heading", level=1).inner_text().startswith("Disclosure record #")
        check_accessible(page)
        screenshot(page, "ig-record")

        page.get_by_role("link", name="Verify the chain").click()
        page.get_by_role("button", name="Verify now").click()
        assert "Intact: 3 records" in page.locator("#verdict").inner_text()
        check_accessible(page)
        screenshot(page, "ig-verify")
    finally:
        context.close()


def test_the_search_says_what_is_wrong_and_keeps_what_was_typed_without_javascript(browser, ig_url) -> None:
    url, runtime = ig_url
    context = browser.new_context(base_url=url, java_script_enabled=False, viewport={"width": 320, "height": 640})
    page = context.new_page()
    try:
        page.goto("/ig/login")
        page.get_by_label("Token").fill(token(runtime, "CGL-WSX", "ig_officer"))
        page.get_by_role("button", name="Sign in").click()

        page.get_by_role("button", name="Search").click()  # nothing to search by
        expect(page.locator("#person-error")).to_be_visible()
        expect(page.locator("#results")).to_have_count(0)

        page.get_by_label("Person (NHS number)").fill(BAD_NHS)
        page.get_by_label("From (date)").fill("31/02/2025")
        page.get_by_role("button", name="Search").click()
        assert "real NHS number" in page.locator("#person-error").inner_text()
        assert "real date" in page.locator("#since-error").inner_text()
        assert page.get_by_label("Person (NHS number)").input_value() == BAD_NHS
        assert page.get_by_label("From (date)").input_value() == "31/02/2025"
        expect(page.get_by_text("No records match")).to_have_count(0)
        fits_width(page)
        screenshot(page, "ig-search-errors")

        page.get_by_label("Person (NHS number)").fill(NHS)
        page.get_by_label("From (date)").fill("3/11/2025")
        page.get_by_role("button", name="Search").click()
        # the discloser's officer sees all three of its records, the withheld one included
        assert page.locator("#results").inner_text() == "3 records found"
        expect(page.get_by_text("Did not attend").first).to_be_visible()
        fits_width(page)  # the table scrolls inside its box, the page does not
    finally:
        context.close()
