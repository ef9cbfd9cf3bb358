"""The DSL's page in a real browser (headless Debian Chromium through Playwright): log in
with a token, open the worklist, record a review, and see review_due move a month on.

A plain (sync) test: Playwright's sync API must not run inside an asyncio event loop.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from isp_common.workingdays import add_months, london_date
from isp_schemas.people import make_nhs_number

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[4]
SCREENSHOT_DIR = REPO / "var" / "screenshots"


def fresh_nhs_number() -> str:
    while (number := make_nhs_number(str(random.randint(400_000_000, 999_999_999)))) is None:
        pass
    return number


def test_dsl_records_a_review_in_the_browser_and_review_due_moves_a_month_on(suite, token_for, browser, tmp_path):
    org = f"CGL-P{random.randint(0, 0xFFFF):04X}"
    token = token_for(org, "dsl")
    today = london_date(datetime.now(UTC))
    opened_on = add_months(today, -1)
    due_before = add_months(opened_on, 1)
    response = httpx.post(
        f"{suite.url('register')}/v1/register/entries",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "person": {"nhs_number": fresh_nhs_number(), "given_name": "Jo", "family_name": "Rivers"},
            "category": "child_concern",
            "risk": "medium",
            "children": [{"local_id": "C-7", "date_of_birth": "2021-03-04"}],
            "notes": "Children at home; partner drinking.",
            "opened_on": opened_on.isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["review_due"] == due_before.isoformat()

    context = browser.new_context(base_url=suite.url("register"), java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/register/worklist")
        assert page.url.endswith("/register/login")  # no cookie yet
        page.get_by_label("Bearer token").fill(token)
        page.get_by_role("button", name="Log in").click()
        assert page.get_by_role("heading", level=1).inner_text() == f"Weekly worklist for {org}"

        opened = page.get_by_role("table", name="Opened since last week (1)")
        opened.get_by_role("link", name="Jo Rivers").click()
        assert page.locator("#review-due").inner_text().startswith(due_before.isoformat())

        page.get_by_label("Review notes").fill("Home visit with the social worker; children well.")
        page.get_by_label("Risk").select_option("low")
        page.get_by_role("button", name="Record review").click()

        due_after = add_months(today, 1)
        status = page.get_by_role("status")
        assert status.inner_text() == f"Review recorded. The next review is due {due_after.isoformat()}."
        assert page.locator("#review-due").inner_text() == due_after.isoformat()
        history = page.get_by_role("table", name="History")
        assert history.get_by_role("row").nth(1).get_by_role("rowheader").inner_text() == "reviewed"

        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
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
        f"{suite.url('register')}/v1/register/entries/{entry['id']}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert detail["review_due"] == due_after.isoformat() and detail["risk"] == "low"
    assert [h["action"] for h in detail["history"]] == ["opened", "reviewed"]
