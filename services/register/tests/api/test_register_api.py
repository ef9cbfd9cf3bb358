"""The register API in process (no broker): contract §7 shapes, access rules, problem+json."""

from __future__ import annotations

from datetime import UTC, datetime

ORG, OTHER = "CGL-WSX", "TURNING-PT"
NHS = "9434765919"


def new_entry(**extra) -> dict:
    return {
        "person": {"nhs_number": NHS, "given_name": "Sam"},
        "category": "child_concern",
        "risk": "high",
        "children": [{"expected_due_date": "2026-05-01"}],
        "agency_contacts": [{"agency": "Midwifery"}],
        "notes": "Pregnant; using heroin.",
        **extra,
    }


def test_opening_answers_201_with_id_and_review_due(auth, client):
    response = client.post("/v1/register/entries", json=new_entry(), headers=auth())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["review_due"] == "2026-02-28" and body["id"]
    assert response.headers["location"] == f"/v1/register/entries/{body['id']}"
    assert [h["action"] for h in body["history"]] == ["opened"]


def test_no_token_is_401_and_a_non_dsl_is_403_as_problem_json(auth, client):
    assert client.get("/v1/register/entries").status_code == 401
    response = client.get("/v1/register/entries", headers=auth(ORG, "provider"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_another_orgs_entry_is_403(auth, client):
    entry = client.post("/v1/register/entries", json=new_entry(), headers=auth()).json()
    other = auth(OTHER)
    assert client.get(f"/v1/register/entries/{entry['id']}", headers=other).status_code == 403
    review = client.post(f"/v1/register/entries/{entry['id']}/reviews", json={"notes": "x"}, headers=other)
    assert review.status_code == 403
    assert client.get("/v1/register/entries", headers=other).json()["items"] == []


def test_an_invalid_nhs_number_is_422_without_echoing_it(auth, client):
    body = new_entry(person={"nhs_number": "9434765918"})
    response = client.post("/v1/register/entries", json=body, headers=auth())
    assert response.status_code == 422
    assert "9434765918" not in response.text


def test_review_overdue_filter_and_a_review_moving_the_date(auth, client, clock):
    headers = auth()
    entry = client.post("/v1/register/entries", json=new_entry(), headers=headers).json()
    clock.set(datetime(2026, 3, 2, 9, tzinfo=UTC))

    overdue = client.get("/v1/register/entries?status=open&review_overdue=true", headers=headers).json()["items"]
    assert [e["id"] for e in overdue] == [entry["id"]] and overdue[0]["review_overdue"] is True

    reviewed = client.post(f"/v1/register/entries/{entry['id']}/reviews", json={"notes": "ok"}, headers=headers)
    assert reviewed.status_code == 201 and reviewed.json()["review_due"] == "2026-04-02"
    assert client.get("/v1/register/entries?review_overdue=true", headers=headers).json()["items"] == []
    assert len(client.get("/v1/register/entries?review_overdue=false", headers=headers).json()["items"]) == 1


def test_a_future_review_date_is_422_and_reviewing_a_closed_entry_409(auth, client):
    headers = auth()
    entry = client.post("/v1/register/entries", json=new_entry(), headers=headers).json()
    future = client.post(
        f"/v1/register/entries/{entry['id']}/reviews",
        json={"notes": "Seen.", "reviewed_on": "2026-02-02"},
        headers=headers,
    )
    assert future.status_code == 422 and "future" in future.json()["detail"]

    closed = client.post(f"/v1/register/entries/{entry['id']}/close", json={"reason": "moved"}, headers=headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = client.post(f"/v1/register/entries/{entry['id']}/reviews", json={"notes": "Seen."}, headers=headers)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/register/entries?status=closed", headers=headers).json()["items"][0]["id"] == entry["id"]


def test_patch_updates_and_the_detail_shows_history(auth, client):
    headers = auth()
    entry = client.post("/v1/register/entries", json=new_entry(), headers=headers).json()
    patched = client.patch(
        f"/v1/register/entries/{entry['id']}", json={"risk": "medium", "referral_ids": ["ref-9"]}, headers=headers
    )
    assert patched.status_code == 200
    detail = client.get(f"/v1/register/entries/{entry['id']}", headers=headers).json()
    assert detail["risk"] == "medium" and detail["referral_ids"] == ["ref-9"]
    assert [(h["action"], h["changed"]) for h in detail["history"]] == [
        ("opened", []),
        ("updated", ["risk", "referral_ids"]),
    ]


def test_worklist_and_weekly_reviews(auth, client, clock):
    headers = auth()
    entry = client.post("/v1/register/entries", json=new_entry(), headers=headers).json()
    work = client.get("/v1/register/worklist", headers=headers).json()
    assert [e["id"] for e in work["opened_since_last_week"]] == [entry["id"]]
    assert work["weekly_review_done_this_week"] is False

    recorded = client.post("/v1/register/weekly-reviews", json={"notes": "one new entry"}, headers=headers)
    assert recorded.status_code == 201 and recorded.json()["open_entries"] == 1
    assert client.get("/v1/register/worklist", headers=headers).json()["weekly_review_done_this_week"] is True
    assert len(client.get("/v1/register/weekly-reviews", headers=headers).json()["items"]) == 1


def test_every_route_documents_its_response_schema(app):
    paths = app.api.openapi()["paths"]
    routes = [
        (method, path, op)
        for path, ops in paths.items()
        if path.startswith("/v1/register")
        for method, op in ops.items()
    ]
    assert len(routes) == 10
    for method, path, op in routes:
        [success] = [answer for status, answer in op["responses"].items() if status.startswith("2")]
        assert "$ref" in success["content"]["application/json"]["schema"], (method, path)
