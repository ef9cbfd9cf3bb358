"""The register API's list (search, filters, paging), a closing's required reason, a review's
required notes, and cross-area matches with the other DSL's contact (issue 13)."""

from __future__ import annotations

import pytest
from isp_common.testing import nhs_number

ORG, OTHER = "CGL-WSX", "TURNING-PT"


def open_(client, headers, number: str, **extra) -> dict:
    body = {"person": {"nhs_number": number}, "category": "child_concern", "risk": "high", **extra}
    response = client.post("/v1/register/entries", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def listed(client, headers, query: str = "") -> dict:
    response = client.get(f"/v1/register/entries?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["items"]]


def problem_fields(response) -> list[list]:
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    return [error["loc"] for error in response.json()["errors"]]


def test_the_list_shows_open_and_closed_entries_with_a_total_and_pages(auth, client):
    headers = auth()
    made = [open_(client, headers, nhs_number(i), opened_on=f"2026-01-{10 + i:02d}") for i in range(5)]
    client.post(f"/v1/register/entries/{made[0]['id']}/close", json={"reason": "Moved away."}, headers=headers)

    assert listed(client, headers)["total"] == 4  # open only by default, as before
    first = listed(client, headers, "status=all&limit=2")
    assert first["total"] == 5 and len(first["items"]) == 2 and first["next"]
    second = listed(client, headers, f"status=all&limit=2&cursor={first['next']}")
    third = listed(client, headers, f"status=all&limit=2&cursor={second['next']}")
    assert third["next"] is None
    everything = ids(first) + ids(second) + ids(third)
    assert sorted(everything) == sorted(e["id"] for e in made)
    assert everything[-1] == made[0]["id"]  # open ones first, by review due; closed ones last
    assert [i["status"] for i in third["items"]] == ["closed"]
    assert listed(client, auth(OTHER), "status=all") == {"items": [], "total": 0, "next": None}


def test_the_list_finds_an_entry_by_nhs_number_typed_with_spaces_or_by_name(auth, client):
    headers = auth()
    number = nhs_number(7)
    sam = open_(client, headers, number, person={"nhs_number": number, "given_name": "Sam", "family_name": "Field"})
    open_(client, headers, nhs_number(8), person={"nhs_number": nhs_number(8), "given_name": "Jo"})
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"

    assert ids(listed(client, headers, f"status=all&q={spaced}")) == [sam["id"]]
    assert ids(listed(client, headers, "status=all&q=field")) == [sam["id"]]
    assert ids(listed(client, headers, "status=all&q=sam%20FIE")) == [sam["id"]]
    assert listed(client, headers, "q=nobody")["total"] == 0
    assert listed(client, auth(OTHER), f"status=all&q={number}")["total"] == 0  # another org's entry stays hidden


def test_a_name_changed_later_is_found_by_its_new_name(auth, client):
    headers = auth()
    entry = open_(client, headers, nhs_number(9))
    changed = client.patch(f"/v1/register/entries/{entry['id']}", json={"family_name": "Rivers"}, headers=headers)
    assert changed.status_code == 200
    assert ids(listed(client, headers, "q=rivers")) == [entry["id"]]


@pytest.mark.parametrize("q", ["9434765918", "12345", "943 476 591"])
def test_an_invalid_nhs_number_in_the_search_is_422_naming_q_without_echoing_it(auth, client, q):
    response = client.get("/v1/register/entries", params={"q": q}, headers=auth())
    assert problem_fields(response) == [["query", "q"]]
    assert q not in response.text


def test_the_list_filters_by_risk_category_owner_review_due_and_cross_area(auth, client, consume, clock):
    headers = auth()
    high = open_(client, headers, nhs_number(11), risk="high")
    low = open_(client, headers, nhs_number(12), risk="low", category="vulnerable_adult")
    old = open_(client, headers, nhs_number(13), risk="medium", opened_on="2025-12-01")  # review due 1 Jan: overdue
    consume()
    open_(client, auth(OTHER), nhs_number(12), risk="high")  # the same person open elsewhere
    consume()

    assert ids(listed(client, headers, "risk=high")) == [high["id"]]
    assert ids(listed(client, headers, "category=vulnerable_adult")) == [low["id"]]
    assert ids(listed(client, headers, "review_overdue=true")) == [old["id"]]
    assert ids(listed(client, headers, "review_due_by=2026-02-01")) == [old["id"]]
    assert set(ids(listed(client, headers, "review_due_by=2026-02-28"))) == {high["id"], low["id"], old["id"]}
    assert ids(listed(client, headers, "cross_area=true")) == [low["id"]]
    assert listed(client, headers, "cross_area=true")["items"][0]["cross_area_match"] is True
    assert set(ids(listed(client, headers, "cross_area=false"))) == {high["id"], old["id"]}
    assert listed(client, headers, "opened_by=dsl@cgl-wsx")["total"] == 3
    assert listed(client, headers, "opened_by=someone-else")["total"] == 0


def test_an_unknown_or_malformed_list_parameter_is_422_naming_it(auth, client):
    assert problem_fields(client.get("/v1/register/entries?riskk=high", headers=auth())) == [["query", "riskk"]]
    assert problem_fields(client.get("/v1/register/entries?cursor=abc", headers=auth())) == [["query", "cursor"]]


@pytest.mark.parametrize("body", [{"reason": ""}, {"reason": "   "}, {}, None])
def test_closing_without_a_reason_is_422_naming_reason_and_the_entry_stays_open(auth, client, body):
    headers = auth()
    entry = open_(client, headers, nhs_number(20))
    response = client.post(f"/v1/register/entries/{entry['id']}/close", json=body, headers=headers)
    assert problem_fields(response) == [["body", "reason"]]
    detail = client.get(f"/v1/register/entries/{entry['id']}", headers=headers).json()
    assert detail["status"] == "open" and [h["action"] for h in detail["history"]] == ["opened"]


@pytest.mark.parametrize("notes", ["", "  \n "])
def test_a_review_without_notes_is_422_naming_notes_and_does_not_reset_the_review_clock(auth, client, notes):
    headers = auth()
    entry = open_(client, headers, nhs_number(21), opened_on="2025-12-01")
    response = client.post(f"/v1/register/entries/{entry['id']}/reviews", json={"notes": notes}, headers=headers)
    assert problem_fields(response) == [["body", "notes"]]
    missing = client.post(f"/v1/register/entries/{entry['id']}/reviews", json={"risk": "low"}, headers=headers)
    assert problem_fields(missing) == [["body", "notes"]]
    detail = client.get(f"/v1/register/entries/{entry['id']}", headers=headers).json()
    assert (detail["review_due"], detail["review_overdue"], detail["last_reviewed_on"]) == ("2026-01-01", True, None)
    assert [h["action"] for h in detail["history"]] == ["opened"]


def test_a_cross_area_match_names_the_other_dsl_and_what_to_do_next_and_keeps_the_contact(auth, client, consume):
    number = nhs_number(30)
    mine = open_(client, auth(), number)
    consume()
    theirs = open_(client, auth(OTHER), number, category="vulnerable_adult")
    consume()

    [match] = client.get(f"/v1/register/entries/{mine['id']}", headers=auth()).json()["cross_area_matches"]
    assert (match["other_org"], match["other_entry_id"]) == (OTHER, theirs["id"])
    assert match["other_org_name"] == "Turning Point, Brighton & Hove recovery service"
    assert match["other_dsl_contact"] == "safeguarding.brighton@turning-point.example.co.uk"
    assert match["other_out_of_hours"] == "Brighton & Hove City Council, Emergency Duty Service: 01632 960002"
    assert match["contacts"] == [] and match["next_step"].startswith("Contact Turning Point")

    url = f"/v1/register/entries/{mine['id']}/matches/{match['id']}/contacts"
    assert problem_fields(client.post(url, json={"notes": " "}, headers=auth())) == [["body", "notes"]]
    recorded = client.post(url, json={"notes": "Spoke to their DSL; they lead."}, headers=auth())
    assert recorded.status_code == 201, recorded.text
    [seen] = recorded.json()["cross_area_matches"]
    assert [(c["by"], c["notes"]) for c in seen["contacts"]] == [("dsl@cgl-wsx", "Spoke to their DSL; they lead.")]
    assert seen["next_step"].startswith("Contact recorded.")

    [their_view] = client.get(f"/v1/register/entries/{theirs['id']}", headers=auth(OTHER)).json()["cross_area_matches"]
    assert their_view["other_org_name"].startswith("Change Grow Live") and their_view["contacts"] == []
    worklist = client.get("/v1/register/worklist", headers=auth()).json()
    assert worklist["cross_area_matches"][0]["contacts"][0]["notes"] == "Spoke to their DSL; they lead."


def test_recording_a_contact_on_a_match_of_another_entry_is_404_and_another_orgs_entry_403(auth, client, consume):
    number = nhs_number(31)
    mine = open_(client, auth(), number)
    consume()
    theirs = open_(client, auth(OTHER), number)
    consume()
    unrelated = open_(client, auth(), nhs_number(32))
    [match] = client.get(f"/v1/register/entries/{mine['id']}", headers=auth()).json()["cross_area_matches"]
    body = {"notes": "Called."}
    for entry, status in ((unrelated, 404), (theirs, 403)):
        url = f"/v1/register/entries/{entry['id']}/matches/{match['id']}/contacts"
        assert client.post(url, json=body, headers=auth()).status_code == status
