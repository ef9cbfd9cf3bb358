"""The rejections and dead-letter repair API in process (routes and database, no broker): each
organisation sees only its own rejections and never a payload; repair is for admins only; a
payload is shown only when asked, and that read and every replay are recorded."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from isp_audit.tables import AccessRecord
from isp_common.testing import auth_headers
from isp_schemas import topics
from sqlmodel import Session, select

from ..deadletter_kit import REASON, api_client, missed, reject
from ..kit import START

PROVIDER, OTHER = "CGL-WSX", "WSCC-CSC"
ITEM_FIELDS = {"id", "time", "topic", "type", "event_id", "reason"}


@pytest.fixture
def api(tmp_path):
    return api_client(tmp_path)


def auth(api, org: str, *roles: str) -> dict[str, str]:
    return auth_headers(api.runtime.settings.resolved_key_dir, org, *roles)


def admin(api) -> dict[str, str]:
    return auth_headers(api.runtime.settings.resolved_key_dir, "PARTNERSHIP", "admin", sub="ops-1")


def accesses(api) -> list[AccessRecord]:
    with Session(api.runtime.engine) as session:
        return list(session.exec(select(AccessRecord).order_by(AccessRecord.id)))


def test_an_organisation_sees_its_own_rejections_once_each_without_payload(api):
    mine, theirs = missed(PROVIDER), missed("ACME-RX")
    reject(api, mine, theirs, b"{garbage")
    for role in ("provider", "dsl", "ig_officer"):
        body = api.get("/v1/rejections", headers=auth(api, PROVIDER, role)).json()
        assert body["total"] == 1 and body["next"] is None
        [item] = body["items"]
        assert set(item) == ITEM_FIELDS
        assert (item["event_id"], item["type"], item["topic"], item["reason"]) == (
            mine.id,
            mine.type,
            topics.TREATMENT,
            REASON,
        )
    assert api.get("/v1/rejections", headers=auth(api, OTHER, "social_care")).json() == {
        "items": [],
        "total": 0,
        "next": None,
    }


def test_rejections_page_with_a_cursor(api):
    events = [missed(PROVIDER) for _ in range(5)]
    reject(api, *events)
    headers, seen, after = auth(api, PROVIDER, "provider"), [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        body = api.get("/v1/rejections", headers=headers, params=params).json()
        assert body["total"] == 5
        seen += [item["event_id"] for item in body["items"]]
        after = body["next"]
        if after is None:
            break
    assert seen == [e.id for e in events]


def test_a_bad_cursor_is_a_problem_naming_it(api):
    response = api.get("/v1/rejections", headers=auth(api, PROVIDER, "provider"), params={"after": "x'--"})
    assert response.status_code == 422 and "after" in response.text


def test_rejections_need_a_token(api):
    assert api.get("/v1/rejections").status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/deadletters"), ("GET", "/v1/deadletters/rej-1"), ("POST", "/v1/deadletters/replay")],
)
def test_dead_letter_repair_is_for_admins_only(api, method, path):
    for org, role in ((PROVIDER, "provider"), ("ISP-IG", "partnership_ig"), (OTHER, "dsl")):
        response = api.request(method, path, headers=auth(api, org, role), json={"id": "rej-1"})
        assert response.status_code == 403, (role, response.text)


def test_an_admin_lists_every_organisations_rejections_by_topic_reason_and_time(api):
    reject(api, missed(PROVIDER), missed("ACME-RX"))
    reject(api, missed(PROVIDER), topic=topics.CONSENT, reason="rejected: bad signature", offset=10)
    listed = api.get("/v1/deadletters", headers=admin(api)).json()
    assert listed["total"] == 3
    assert {item["org"] for item in listed["items"]} == {PROVIDER, "ACME-RX"}
    assert all("payload" not in item and "value" not in item for item in listed["items"])
    assert set(listed["items"][0]["rejected_by"]) == {"isp-notifications", "isp-referrals"}

    def count(**params) -> int:
        total: int = api.get("/v1/deadletters", headers=admin(api), params=params).json()["total"]
        return total

    assert count(topic=topics.CONSENT) == 1
    assert count(reason="signature") == 1
    assert count(reason="%") == 0  # a substring, not a pattern
    assert count(since=(START + timedelta(minutes=30)).isoformat()) == 1
    assert count(until=(START + timedelta(minutes=30)).isoformat()) == 2


def test_show_gives_the_payload_only_when_asked_and_records_that_read(api):
    event = missed(PROVIDER)
    reject(api, event)
    [item] = api.get("/v1/deadletters", headers=admin(api)).json()["items"]
    plain = api.get(f"/v1/deadletters/{item['id']}", headers=admin(api))
    assert plain.status_code == 200 and plain.json()["payload"] is None
    assert accesses(api) == []
    full = api.get(f"/v1/deadletters/{item['id']}", headers=admin(api), params={"include": "payload"}).json()
    assert json.loads(full["payload"]["value"])["id"] == event.id and full["payload"]["encoding"] == "utf-8"
    [access] = accesses(api)
    assert access.action == "deadletter.payload" and json.loads(access.query)["id"] == item["id"]
    assert api.get("/v1/deadletters/rej-nope", headers=admin(api)).status_code == 404


def test_unreadable_bytes_are_shown_as_base64(api):
    reject(api, b"\xff\xfe")
    [item] = api.get("/v1/deadletters", headers=admin(api)).json()["items"]
    full = api.get(f"/v1/deadletters/{item['id']}", headers=admin(api), params={"include": "payload"}).json()
    assert full["org"] == "unknown" and full["payload"] == {
        "encoding": "base64",
        "key": "a2V5",
        "value": "//4=",
        "headers": full["payload"]["headers"],
    }


def test_replaying_one_publishes_the_original_to_its_topic_marks_it_and_records_it(api):
    event = missed(PROVIDER)
    reject(api, event)
    [item] = api.get("/v1/deadletters", headers=admin(api)).json()["items"]
    response = api.post("/v1/deadletters/replay", headers=admin(api), json={"id": item["id"]})
    assert response.status_code == 200, response.text
    assert response.json() == {"replayed": [item["id"]], "count": 1}
    [sent] = api.runtime.producer.sent
    assert sent["topic"] == topics.TREATMENT and sent["value"] == event.to_json_bytes() and sent["key"] == b"key"
    assert sent["headers"]["isp-replay-of"] == item["id"].encode()
    assert "isp-error" not in sent["headers"] and "isp-source-offset" not in sent["headers"]
    shown = api.get(f"/v1/deadletters/{item['id']}", headers=admin(api)).json()
    assert (shown["replays"], shown["replayed_by"]) == (1, "ops-1")
    [access] = accesses(api)
    assert access.action == "deadletter.replay" and json.loads(access.query)["id"] == item["id"]


def test_replaying_a_filter_replays_only_what_was_not_replayed_yet(api):
    reject(api, missed(PROVIDER), missed(PROVIDER))
    reject(api, missed(PROVIDER), topic=topics.CONSENT, offset=10)
    first = api.post("/v1/deadletters/replay", headers=admin(api), json={"topic": topics.TREATMENT}).json()
    assert first["count"] == 2
    again = api.post("/v1/deadletters/replay", headers=admin(api), json={"topic": topics.TREATMENT}).json()
    assert again["count"] == 0
    assert [s["topic"] for s in api.runtime.producer.sent] == [topics.TREATMENT] * 2
    assert [a.action for a in accesses(api)] == ["deadletter.replay"] * 2


@pytest.mark.parametrize(
    "body",
    [{}, {"id": "rej-1", "topic": topics.TREATMENT}, {"topic": topics.TREATMENT, "everything": True}],
)
def test_a_replay_must_say_what_to_replay(api, body):
    response = api.post("/v1/deadletters/replay", headers=admin(api), json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_replaying_an_unknown_id_is_not_found_and_publishes_nothing(api):
    response = api.post("/v1/deadletters/replay", headers=admin(api), json={"id": "rej-nope"})
    assert response.status_code == 404 and api.runtime.producer.sent == []
