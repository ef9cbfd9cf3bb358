"""The DSL's page in a real browser (headless Debian Chromium through Playwright, JavaScript
off), against the running suite: sign in with a token, open an entry through the form, find it on the worklist, record a
review, and see review_due move a month on.

A plain (sync) test: Playwright's sync API must not run inside an asyncio event loop.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from isp_common.formatting import uk_date
from isp_common.testing import fresh_nhs_number
from isp_common.workingdays import add_months, london_date
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[4]
SCREENSHOT_DIR = REPO / "var" / "screenshots"


def test_dsl_opens_an_entry_and_records_a_review_in_the_browser_and_review_due_moves_a_month_on(
    suite, token_for, browser, tmp_path
):
    org = f"CGL-P{random.randint(0, 0xFFFF):04X}"
    token = token_for(org, "dsl")
    today = london_date(datetime.now(UTC))
    opened_on = add_months(today, -1)
    due_before = add_months(opened_on, 1)
    nhs = fresh_nhs_number()

    context = browser.new_context(base_url=suite.url("register"), java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/register/worklist")
        assert page.url.endswith("/register/login")  # no cookie yet
        page.get_by_label("Token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("heading", level=1).inner_text() == f"Weekly worklist for {org}"

        page.get_by_role("link", name="Open an entry", exact=True).click()
        assert page.get_by_role("heading", level=1).inner_text() == "Open a register entry"
        page.get_by_label("NHS number", exact=True).fill(nhs)
        page.get_by_label("Given name").fill("Jo")
        page.get_by_label("Family name").fill("Rivers")
        page.get_by_label("In contact with children about whom there is a concern").check()
        page.get_by_label("Risk", exact=True).select_option("medium")
        page.get_by_label("Opened on (optional)").fill(opened_on.isoformat())
        page.get_by_label("Child 1: Local id").fill("C-7")
        page.get_by_label("Child 1: Date of birth").fill("2021-03-04")
        page.get_by_label("Child 2: Expected due date (unborn)").fill("2026-09-01")
        page.get_by_label("Contact 1: Agency").fill("Children's social care")
        page.get_by_label("Contact 1: Name").fill("S. Worker")
        page.get_by_label("Referral ids (optional)").fill("ref-101, ref-102")
        page.get_by_label("Monitoring notes").fill("Children at home; partner drinking.")

        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        form_shot = SCREENSHOT_DIR / "register-open-entry.png"
        page.screenshot(path=str(form_shot), full_page=True)
        assert form_shot.stat().st_size > 0

        page.get_by_role("button", name="Open entry").click()
        assert re.search(r"/register/entries/reg-[0-9a-f]+\?done=opened$", page.url), page.url
        entry_id = page.url.rsplit("/", 1)[1].split("?")[0]
        status = page.get_by_role("status")
        assert status.inner_text() == f"Entry opened. The first review is due {uk_date(due_before)}."
        assert page.get_by_role("heading", level=1).inner_text() == "Jo Rivers"
        expect(page.get_by_text("Unborn, due 1 Sep 2026")).to_be_visible()

        page.get_by_role("navigation", name="Menu").get_by_role("link", name="Weekly worklist").click()
        opened = page.get_by_role("table", name="Opened since last week (1)")
        opened.get_by_role("link", name="Jo Rivers").click()
        assert page.locator("#review-due").inner_text().startswith(uk_date(due_before))

        review = page.get_by_role("form", name="Record a review")
        review.get_by_label("Date of review").fill(today.isoformat())
        review.get_by_label("Review notes").fill("Home visit with the social worker; children well.")
        review.get_by_label("Risk").select_option("low")
        review.get_by_role("button", name="Record review").click()

        due_after = add_months(today, 1)
        status = page.get_by_role("status")
        assert status.inner_text() == f"Review recorded. The next review is due {uk_date(due_after)}."
        assert page.locator("#review-due").inner_text() == uk_date(due_after)
        history = page.get_by_role("table", name="History")
        assert history.get_by_role("row").nth(1).get_by_role("rowheader").inner_text() == "Reviewed"

        shot = SCREENSHOT_DIR / "register-dsl-review.png"
        page.screenshot(path=str(shot), full_page=True)
        page.screenshot(path=str(tmp_path / "register-dsl-review.png"), full_page=True)
        assert shot.stat().st_size > 0
    except Exception:
        print(f"browser was at {page.url}")
        raise
    finally:
        context.close()

    detail = httpx.get(
        f"{suite.url('register')}/v1/register/entries/{entry_id}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert detail["review_due"] == due_after.isoformat() and detail["risk"] == "low"
    assert detail["opened_on"] == opened_on.isoformat() and detail["category"] == "child_concern"
    assert detail["children"] == [
        {"local_id": "C-7", "date_of_birth": "2021-03-04"},
        {"expected_due_date": "2026-09-01"},
    ]
    assert detail["agency_contacts"] == [{"agency": "Children's social care", "name": "S. Worker"}]
    assert detail["referral_ids"] == ["ref-101", "ref-102"]
    assert [h["action"] for h in detail["history"]] == ["opened", "reviewed"]
