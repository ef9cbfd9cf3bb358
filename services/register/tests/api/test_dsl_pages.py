"""The DSL's pages in process (no broker): signing in; opening an entry, changing it, closing it;
errors shown on the form with the values kept; every field labelled; posts from another site
refused; nothing identifying in the logs."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

NHS = "9434765919"
BAD_NHS = "9434765918"  # one digit off: fails the modulus 11 check


@pytest.fixture
def client(app, token) -> TestClient:
    """Signed in as CGL-WSX's DSL."""
    client = TestClient(app.api)
    assert client.post("/register/login", data={"token": token}, follow_redirects=False).status_code == 303
    return client


@pytest.fixture
def logs(caplog) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def api(client: TestClient, token: str, entry_id: str) -> dict:
    response = client.get(f"/v1/register/entries/{entry_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def assert_nothing_identifying_logged(logs: pytest.LogCaptureFixture, *secrets: str) -> None:
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in logs.records)
    for secret in secrets:
        assert secret not in text


class Forms(HTMLParser):
    """Each form's fields as a browser would post them, and the labels' ``for`` targets."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self._action: str | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._action = a.get("action")
            self.forms.setdefault(self._action, {})
        elif tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.ids.append(a.get("id") or f"(unnamed {tag})")
        fields = self.forms.get(self._action) if self._action else None
        if fields is None:
            return
        if tag == "input" and (a.get("type") != "radio" or "checked" in a):
            fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a["name"]
            fields.setdefault(self._select, "")
        elif tag == "option" and self._select and ("selected" in a or not fields[self._select]):
            fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            fields[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea and self._action:
            self.forms[self._action][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._action = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def alert_items(html: str) -> list[str]:
    return re.findall(r'<li><a href="#[^"]+">([^<]+)</a></li>', html)


def opening_form(**changes: str) -> dict[str, str]:
    return {
        "nhs_number": NHS,
        "given_name": "Sam",
        "family_name": "Field",
        "date_of_birth": "1990-05-06",
        "category": "child_concern",
        "risk": "high",
        "opened_on": "2026-01-20",
        "children-0-local_id": "C-1",
        "children-0-date_of_birth": "2019-02-03",
        "children-1-expected_due_date": "2026-06-01",
        "children-2-local_id": "",
        "agency-0-agency": "Midwifery",
        "agency-0-name": "M. Wife",
        "agency-0-phone": "01234 567890",
        "agency-1-agency": "",
        "referral_ids": "ref-1, ref-2",
        "notes": "Pregnant; partner drinking.",
        **changes,
    }


def open_through_the_form(client: TestClient, **changes: str) -> str:
    response = client.post("/register/entries/new", data=opening_form(**changes), follow_redirects=False)
    assert response.status_code == 303, alert_items(response.text)
    match = re.fullmatch(r"/register/entries/(reg-[0-9a-f]+)\?done=opened", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def test_the_worklist_links_to_the_form_and_every_field_has_a_label(client):
    assert 'href="/register/entries/new"' in client.get("/register/worklist").text
    page = client.get("/register/entries/new")
    assert page.status_code == 200 and ">Open a register entry</h1>" in page.text
    forms = Forms(page.text)
    assert forms.ids and set(forms.ids) <= forms.label_for, set(forms.ids) - forms.label_for
    fields = forms.forms["/register/entries/new"]
    assert {"nhs_number", "given_name", "family_name", "date_of_birth", "risk", "opened_on", "notes"} <= set(fields)
    assert {"children-0-local_id", "children-0-expected_due_date", "agency-0-agency", "referral_ids"} <= set(fields)
    for label in (
        "In contact with children about whom there is a concern",
        "Vulnerable adult",
        "Presents a risk to vulnerable adults",
        "Presents a general high risk",
    ):
        assert label in page.text


def test_opening_through_the_form_shows_the_new_entry(client, token, logs):
    entry_id = open_through_the_form(client)

    page = client.get(f"/register/entries/{entry_id}?done=opened")
    assert "Entry opened. The first review is due 20 Feb 2026." in page.text
    entry = api(client, token, entry_id)
    assert entry["person"] == {
        "nhs_number": NHS,
        "given_name": "Sam",
        "family_name": "Field",
        "date_of_birth": "1990-05-06",
    }
    assert (entry["category"], entry["risk"], entry["opened_on"]) == ("child_concern", "high", "2026-01-20")
    assert entry["children"] == [
        {"local_id": "C-1", "date_of_birth": "2019-02-03"},
        {"expected_due_date": "2026-06-01"},
    ]
    assert entry["agency_contacts"] == [{"agency": "Midwifery", "name": "M. Wife", "phone": "01234 567890"}]
    assert entry["referral_ids"] == ["ref-1", "ref-2"]
    assert entry["notes"] == "Pregnant; partner drinking."
    assert [(h["action"], h["by"]) for h in entry["history"]] == [("opened", "dsl@cgl-wsx")]
    assert_nothing_identifying_logged(logs, NHS, "Pregnant", "Field")


def test_an_invalid_nhs_number_is_shown_on_the_form_with_the_values_kept(client, token, logs):
    response = client.post("/register/entries/new", data=opening_form(nhs_number=BAD_NHS))

    assert response.status_code == 422
    assert "Traceback" not in response.text
    assert 'role="alert"' in response.text
    [message] = alert_items(response.text)
    assert message == (
        "NHS number is not valid: its last digit does not match the modulus 11 check. Check it was typed correctly."
    )
    assert 'id="nhs_number-error"' in response.text and 'aria-invalid="true"' in response.text
    kept = Forms(response.text).forms["/register/entries/new"]
    assert kept["nhs_number"] == BAD_NHS and kept["given_name"] == "Sam" and kept["category"] == "child_concern"
    assert kept["children-1-expected_due_date"] == "2026-06-01" and kept["notes"] == "Pregnant; partner drinking."
    listed = client.get("/v1/register/entries?status=all", headers={"Authorization": f"Bearer {token}"})
    assert listed.json()["items"] == []
    assert_nothing_identifying_logged(logs, BAD_NHS, "Pregnant")


def test_other_mistakes_are_shown_field_by_field(client):
    response = client.post(
        "/register/entries/new",
        data=opening_form(
            nhs_number="12345",
            category="",
            risk="",
            **{"children-0-local_id": "", "agency-1-name": "No Agency"},
        ),
    )
    assert response.status_code == 422
    assert alert_items(response.text) == [
        "NHS number must have 10 digits, like 943 476 5919.",
        "Choose the category.",
        "Choose the risk.",
        "Child 1: give a local id, an NHS number or, for an unborn child, the expected due date.",
        "Contact 2: enter the agency.",
    ]

    future = client.post("/register/entries/new", data=opening_form(opened_on="2026-02-01"))
    assert future.status_code == 422
    assert alert_items(future.text) == ["An entry cannot be opened on a future date."]
    assert 'id="opened_on-error"' in future.text


def test_opening_the_same_person_twice_in_a_category_is_refused_on_the_form(client):
    first = open_through_the_form(client)
    again = client.post("/register/entries/new", data=opening_form())
    assert again.status_code == 409 and f"already open in this category as entry {first}" in again.text


def test_updating_through_the_form_is_recorded_in_the_history(client, token, logs):
    entry_id = open_through_the_form(client)
    action = f"/register/entries/{entry_id}/update"
    form = Forms(client.get(f"/register/entries/{entry_id}").text).forms[action]
    assert form["risk"] == "high" and form["agency-0-agency"] == "Midwifery" and form["referral_ids"] == "ref-1, ref-2"

    unchanged = client.post(action, data=form, follow_redirects=False)
    assert unchanged.headers["location"] == f"/register/entries/{entry_id}?done=unchanged"
    assert [h["action"] for h in api(client, token, entry_id)["history"]] == ["opened"]

    form.update(
        {
            "risk": "medium",
            "category": "vulnerable_adult",
            "agency-1-agency": "Probation",
            "agency-1-role": "Offender manager",
            "notes": "Baby born; partner left.",
        }
    )
    response = client.post(action, data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/register/entries/{entry_id}?done=updated"

    entry = api(client, token, entry_id)
    assert (entry["risk"], entry["category"]) == ("medium", "vulnerable_adult")
    assert entry["notes"] == "Baby born; partner left."
    assert entry["agency_contacts"][1] == {"agency": "Probation", "role": "Offender manager"}
    assert [(h["action"], h["changed"]) for h in entry["history"]] == [
        ("opened", []),
        ("updated", ["category", "risk", "agency_contacts", "notes"]),
    ]
    page = client.get(response.headers["location"]).text
    assert "Changes saved." in page and "Changed: category, risk, agency_contacts, notes" in page
    assert_nothing_identifying_logged(logs, NHS, "Baby born")


def test_an_invalid_update_is_shown_on_the_form_with_the_values_kept(client, token):
    entry_id = open_through_the_form(client)
    action = f"/register/entries/{entry_id}/update"
    form = Forms(client.get(f"/register/entries/{entry_id}").text).forms[action]
    form.update({"risk": "medium", "agency-0-agency": "", "children-0-date_of_birth": "not a date"})

    response = client.post(action, data=form)
    assert response.status_code == 422
    assert '<details class="govuk-details" open>' in response.text
    assert alert_items(response.text) == [
        "Child 1: date of birth must be a real date, for example 2026-03-04.",
        "Contact 1: enter the agency.",
    ]
    kept = Forms(response.text).forms[action]
    assert kept["risk"] == "medium" and kept["agency-0-name"] == "M. Wife"
    assert api(client, token, entry_id)["risk"] == "high"  # nothing saved


def test_closing_through_the_form_is_recorded_in_the_history(client, token):
    entry_id = open_through_the_form(client)
    response = client.post(
        f"/register/entries/{entry_id}/close", data={"reason": "Moved out of area."}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/register/entries/{entry_id}?done=closed"

    entry = api(client, token, entry_id)
    assert (entry["status"], entry["closed_on"]) == ("closed", "2026-01-31")
    assert entry["closed_reason"] == "Moved out of area."
    assert [(h["action"], h["notes"]) for h in entry["history"]][-1] == ("closed", "Moved out of area.")
    page = client.get(response.headers["location"]).text
    assert "Entry closed." in page and "Moved out of area." in page
    assert "Record review" not in page and "Save changes" not in page and "Close entry" not in page

    again = client.post(f"/register/entries/{entry_id}/close", data={"reason": "Again."})
    assert again.status_code == 409 and "is closed" in again.text


def test_the_forms_need_a_login_and_refuse_posts_from_another_site(app, client):
    entry_id = open_through_the_form(client)
    anonymous = TestClient(app.api)
    assert anonymous.get("/register/entries/new", follow_redirects=False).headers["location"] == "/register/login"
    assert anonymous.post("/register/entries/new", data=opening_form(), follow_redirects=False).status_code == 303
    evil = {"Origin": "https://evil.example"}
    assert client.post("/register/entries/new", data=opening_form(), headers=evil).status_code == 403
    assert client.post(f"/register/entries/{entry_id}/update", data={}, headers=evil).status_code == 403
    assert client.post(f"/register/entries/{entry_id}/close", data={}, headers=evil).status_code == 403


def test_the_page_needs_a_dsl_token_and_renders_the_worklist(app, token):
    client = TestClient(app.api)
    assert client.get("/register/worklist", follow_redirects=False).headers["location"] == "/register/login"
    bad = client.post("/register/login", data={"token": "nonsense"})
    assert bad.status_code == 401 and 'role="alert"' in bad.text
    response = client.post("/register/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/register" in cookie
    page = client.get("/register/worklist")
    assert page.status_code == 200 and ">Weekly worklist for CGL-WSX</h1>" in page.text


def test_a_post_from_another_site_is_refused(app, token):
    client = TestClient(app.api)
    client.post("/register/login", data={"token": token})
    response = client.post("/register/weekly-reviews", data={"notes": "x"}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


# -- the list of all entries, closing, reviews and cross-area matches (issue 13) -----------------


def rows(html: str) -> list[str]:
    """The entry ids the list page links to, in order."""
    return re.findall(r'<a class="govuk-link" href="/register/entries/(reg-[0-9a-f]+)">', html)


def test_the_list_page_finds_open_and_closed_entries_by_nhs_number_or_name_and_filters(client):
    sam = open_through_the_form(client)
    jo = open_through_the_form(
        client, nhs_number="9434765870", given_name="Jo", family_name="Rivers", risk="low", category="vulnerable_adult"
    )
    client.post(f"/register/entries/{jo}/close", data={"reason": "Moved away."})
    assert 'href="/register/entries"' in client.get("/register/worklist").text  # in the navigation

    page = client.get("/register/entries")
    assert page.status_code == 200 and set(rows(page.text)) == {sam, jo}
    assert "Showing 1 to 2 of 2 entries." in page.text
    assert "943 476 5919" in page.text and "9434765919" not in page.text  # spaced 3-3-4
    assert "govuk-tag--red" in page.text and ">High</strong>" in page.text and ">Closed</strong>" in page.text
    assert "20 Feb 2026" in page.text and "2026-02-20" not in page.text

    assert rows(client.get("/register/entries", params={"q": "943 476 5919"}).text) == [sam]
    assert rows(client.get("/register/entries", params={"q": "rivers"}).text) == [jo]
    assert rows(client.get("/register/entries", params={"status": "open"}).text) == [sam]
    assert rows(client.get("/register/entries", params={"risk": "low"}).text) == [jo]
    assert rows(client.get("/register/entries", params={"category": "vulnerable_adult"}).text) == [jo]
    assert rows(client.get("/register/entries", params={"opened_by": "dsl@cgl-wsx"}).text) == [sam, jo]
    assert rows(client.get("/register/entries", params={"area": "yes"}).text) == []
    nothing = client.get("/register/entries", params={"q": "nobody"})
    assert "No entries match." in nothing.text and Forms(nothing.text).forms["/register/entries"]["q"] == "nobody"


def test_an_invalid_nhs_number_in_the_search_is_said_on_the_field_and_kept(client):
    open_through_the_form(client)
    page = client.get("/register/entries", params={"q": "943 476 5918"})
    assert page.status_code == 422
    assert alert_items(page.text) == ["Enter a real NHS number: the last digit of this one does not match the others."]
    assert 'id="q-error"' in page.text and "No entries match" not in page.text and rows(page.text) == []
    assert Forms(page.text).forms["/register/entries"]["q"] == "943 476 5918"
    short = client.get("/register/entries", params={"q": "12345"})
    assert short.status_code == 422 and "Enter an NHS number with 10 digits" in short.text


def test_the_list_page_is_paged_and_keeps_its_filters(client):
    from isp_common.testing import nhs_number

    made = [open_through_the_form(client, nhs_number=nhs_number(100 + i), risk="medium") for i in range(27)]
    first = client.get("/register/entries", params={"risk": "medium"}).text
    assert len(rows(first)) == 25 and "Showing 1 to 25 of 27 entries." in first
    [next_href] = re.findall(r'href="(\?[^"]+)" rel="next"', first)
    assert "risk=medium" in next_href and "cursor=25" in next_href
    second = client.get(f"/register/entries{next_href.replace('&amp;', '&')}").text
    assert "Showing 26 to 27 of 27 entries." in second and 'rel="prev"' in second and 'rel="next"' not in second
    assert set(rows(first) + rows(second)) == set(made)


def test_closing_asks_for_confirmation_and_a_reason(client, token):
    entry_id = open_through_the_form(client)
    entry_page = client.get(f"/register/entries/{entry_id}").text
    assert f'href="/register/entries/{entry_id}/close"' in entry_page
    assert f'action="/register/entries/{entry_id}/close"' not in entry_page  # no one-click close

    confirm = client.get(f"/register/entries/{entry_id}/close")
    assert confirm.status_code == 200 and ">Close this entry</h1>" in confirm.text
    assert "Cancel, keep it open" in confirm.text

    empty = client.post(f"/register/entries/{entry_id}/close", data={"reason": "  "})
    assert empty.status_code == 422
    assert alert_items(empty.text) == ["Enter the reason for closing."]
    assert 'id="close-reason-error"' in empty.text
    assert api(client, token, entry_id)["status"] == "open"

    done = client.post(f"/register/entries/{entry_id}/close", data={"reason": "Moved away."}, follow_redirects=False)
    assert done.status_code == 303 and api(client, token, entry_id)["closed_reason"] == "Moved away."
    assert client.get(f"/register/entries/{entry_id}/close", follow_redirects=False).status_code == 303


def test_a_review_without_notes_is_refused_on_the_field_and_the_review_clock_stays(client, token):
    entry_id = open_through_the_form(client)
    before = api(client, token, entry_id)
    response = client.post(
        f"/register/entries/{entry_id}/reviews", data={"reviewed_on": "2026-01-31", "risk": "low", "notes": " "}
    )
    assert response.status_code == 422
    assert alert_items(response.text) == ["Enter the review notes."]
    assert 'id="review-notes-error"' in response.text and 'aria-invalid="true"' in response.text
    kept = Forms(response.text).forms[f"/register/entries/{entry_id}/reviews"]
    assert kept["risk"] == "low" and kept["reviewed_on"] == "2026-01-31"
    after = api(client, token, entry_id)
    assert (after["review_due"], after["last_reviewed_on"], after["version"]) == (
        before["review_due"],
        None,
        before["version"],
    )

    future = client.post(f"/register/entries/{entry_id}/reviews", data={"reviewed_on": "2026-02-05", "notes": "Seen."})
    assert future.status_code == 422 and 'id="review-reviewed_on-error"' in future.text


def test_a_cross_area_match_shows_the_other_dsl_what_to_do_next_and_records_the_contact(app, client, auth, consume):
    entry_id = open_through_the_form(client)
    consume()
    body = {"person": {"nhs_number": NHS}, "category": "vulnerable_adult", "risk": "medium"}
    assert client.post("/v1/register/entries", json=body, headers=auth("TURNING-PT")).status_code == 201
    consume()

    page = client.get(f"/register/entries/{entry_id}").text
    assert "Also open at Turning Point, Brighton &amp; Hove recovery service" in page
    assert "safeguarding.brighton@turning-point.example.co.uk" in page
    assert "Contact Turning Point, Brighton &amp; Hove recovery service&#39;s designated safeguarding lead" in page
    assert "reg-" not in re.sub(r'(href|action|id)="[^"]*"', "", page.split("Also open at")[1].split("</form>")[0])
    work = client.get("/register/worklist").text
    assert "Also open at Turning Point" in work and "safeguarding.brighton@turning-point" in work

    [action] = [a for a in Forms(page).forms if "/contacts" in a]
    empty = client.post(action, data={"notes": ""})
    assert empty.status_code == 422 and alert_items(empty.text) == ["Enter the notes on the contact."]
    done = client.post(action, data={"notes": "Phoned their DSL; they lead."}, follow_redirects=False)
    assert done.status_code == 303
    shown = client.get(done.headers["location"]).text
    assert "Contact recorded." in shown and "Phoned their DSL; they lead." in shown
