"""A person opened on two organisations' registers: both designated safeguarding leads are
alerted (through notifications), and no isp.register.v1 message carries the NHS number."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from isp_common.testing import fresh_nhs_number
from isp_schemas import topics

pytestmark = [pytest.mark.e2e]

CROSS_AREA_ALERT = "uk.isp.alert.register_cross_area.v1"
MATCH = "uk.isp.register.cross_area_match.v1"


def suffix() -> str:
    return f"{random.randint(0, 36**4 - 1):04X}"[-4:]


def event_of(record) -> dict:
    return json.loads(record.value)


async def open_entry(suite, headers: dict[str, str], nhs: str, category: str) -> dict:
    async with httpx.AsyncClient(base_url=suite.url("register"), headers=headers) as c:
        response = await c.post(
            "/v1/register/entries",
            json={
                "person": {"nhs_number": nhs, "given_name": "Alex", "family_name": "Moss"},
                "category": category,
                "risk": "high",
                "children": [{"expected_due_date": "2026-09-01"}],
                "agency_contacts": [{"agency": "Probation", "name": "P. Officer"}],
                "notes": "Moved from another area.",
            },
        )
    assert response.status_code == 201, response.text
    return response.json()


def pairs(a: dict, b: dict):
    """Cross-area alerts about the match of entries ``a`` and ``b``."""

    def predicate(record) -> bool:
        event = event_of(record)
        ids = {event["data"].get("entry_id"), event["data"].get("own_entry_id")}
        return event["type"] == CROSS_AREA_ALERT and ids == {a["id"], b["id"]}

    return predicate


async def test_a_cross_area_match_alerts_both_dsls_and_no_nhs_number_leaves(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    run = suffix()
    first_org, second_org = f"CGL-X{run}", f"WDP-X{run}"
    first = await open_entry(suite, headers_for(first_org, "dsl"), nhs, "vulnerable_adult")
    second = await open_entry(suite, headers_for(second_org, "dsl"), nhs, "child_concern")

    [match] = await kafka.collect(
        topics.REGISTER,
        lambda r: event_of(r)["type"] == MATCH and event_of(r)["data"]["entry_id"] == second["id"],
        timeout=60,
    )
    data = event_of(match)["data"]
    assert (data["org"], data["other_org"], data["other_entry_id"]) == (second_org, first_org, first["id"])
    assert (data["category"], data["other_category"]) == ("child_concern", "vulnerable_adult")

    cross_area_alert = pairs(first, second)
    assert await kafka.collect(topics.alerts(first_org), cross_area_alert, timeout=60)
    assert await kafka.collect(topics.alerts(second_org), cross_area_alert, timeout=30)
    # Once each: a third organisation opening the person too is the sentinel. Its matches follow
    # the first on the register topic (one key per person), so once both DSLs are told of it,
    # everything notifications made of the first match has been published.
    third = await open_entry(suite, headers_for(f"NEW-X{run}", "dsl"), nhs, "general_high_risk")
    assert await kafka.collect(topics.alerts(first_org), pairs(first, third), timeout=60)
    assert await kafka.collect(topics.alerts(second_org), pairs(second, third), timeout=60)
    [to_first] = await kafka.read_all(topics.alerts(first_org), cross_area_alert)
    [to_second] = await kafka.read_all(topics.alerts(second_org), cross_area_alert)
    for alert, own, other, other_org in ((to_first, first, second, second_org), (to_second, second, first, first_org)):
        body = event_of(alert)["data"]
        assert (body["own_entry_id"], body["entry_id"], body["other_org"]) == (own["id"], other["id"], other_org)
        assert body["lawful_basis"] == {"kind": "statutory", "ground": "safeguarding_register_match"}
        assert nhs.encode() not in alert.value and b"Moss" not in alert.value

    # The person's whole trail on the register topic: pseudonymous keys only.
    everything = await kafka.read_all(topics.REGISTER)
    ours = [r for r in everything if event_of(r)["data"].get("entry_id") in (first["id"], second["id"])]
    assert len(ours) >= 3  # two openings and the match
    for record in everything:
        assert nhs.encode() not in record.value
        assert nhs.encode() not in (record.key or b"")
        assert all(nhs.encode() not in (value or b"") for _, value in record.headers)


async def test_the_worklists_of_both_orgs_show_the_new_match(suite, kafka, headers_for):
    nhs = fresh_nhs_number()
    run = suffix()
    first_org, second_org = f"CGL-Y{run}", f"WDP-Y{run}"
    first_headers, second_headers = headers_for(first_org, "dsl"), headers_for(second_org, "dsl")
    first = await open_entry(suite, first_headers, nhs, "general_high_risk")
    second = await open_entry(suite, second_headers, nhs, "risk_to_vulnerable_adults")
    await kafka.collect(
        topics.REGISTER,
        lambda r: event_of(r)["type"] == MATCH and event_of(r)["data"]["entry_id"] == second["id"],
        timeout=60,
    )
    async with httpx.AsyncClient(base_url=suite.url("register")) as c:
        for headers, own, other_org, other_category in (
            (first_headers, first, second_org, "risk_to_vulnerable_adults"),
            (second_headers, second, first_org, "general_high_risk"),
        ):
            work = (await c.get("/v1/register/worklist", headers=headers)).json()
            [match] = work["cross_area_matches"]
            assert (match["own_entry_id"], match["other_org"], match["other_category"]) == (
                own["id"],
                other_org,
                other_category,
            )
            detail = (await c.get(f"/v1/register/entries/{own['id']}", headers=headers)).json()
            assert [m["other_org"] for m in detail["cross_area_matches"]] == [other_org]


async def open_two_months_ago(c: httpx.AsyncClient, nhs: str, category: str) -> dict:
    from datetime import UTC, datetime

    from isp_common.workingdays import add_months, london_date

    opened_on = add_months(london_date(datetime.now(UTC)), -2)
    response = await c.post(
        "/v1/register/entries",
        json={"person": {"nhs_number": nhs}, "category": category, "risk": "high", "opened_on": opened_on.isoformat()},
    )
    assert response.status_code == 201, response.text
    return response.json()


def of_type(event_type: str, **data: str):
    def predicate(record) -> bool:
        event = event_of(record)
        return event["type"] == event_type and all(event["data"].get(k) == v for k, v in data.items())

    return predicate


async def test_an_overdue_review_and_a_missed_weekly_review_are_flagged_to_the_owning_org(suite, kafka, headers_for):
    """The review timer runs in the service: an entry transcribed from two months ago is overdue
    at once; its organisation had it open last week with no weekly review recorded."""
    org, nhs = f"CGL-Z{suffix()}", fresh_nhs_number()
    overdue, missed = "uk.isp.register.review.overdue.v1", "uk.isp.register.weekly_review.missed.v1"
    review_alert, weekly_alert = "uk.isp.alert.register_review_due.v1", "uk.isp.alert.weekly_review_missed.v1"
    async with httpx.AsyncClient(base_url=suite.url("register"), headers=headers_for(org, "dsl")) as c:
        entry = await open_two_months_ago(c, nhs, "general_high_risk")
        assert entry["review_overdue"] is True
        assert await kafka.collect(topics.REGISTER, of_type(overdue, entry_id=entry["id"]), timeout=30)
        assert await kafka.collect(topics.REGISTER, of_type(missed, org=org), timeout=30)
        [alert] = await kafka.collect(topics.alerts(org), of_type(review_alert, entry_id=entry["id"]), timeout=30)
        assert event_of(alert)["data"]["overdue"] is True
        assert await kafka.collect(topics.alerts(org), of_type(weekly_alert), timeout=30)
        # Each once, although the timer runs every second: a second overdue entry for the same
        # person, opened now, is flagged by a later run, behind the first on the person's key.
        sentinel = await open_two_months_ago(c, nhs, "vulnerable_adult")
    flagged = await kafka.collect_until(
        topics.REGISTER, of_type(overdue, entry_id=entry["id"]), of_type(overdue, entry_id=sentinel["id"])
    )
    assert len(flagged) == 1
    assert await kafka.collect(topics.alerts(org), of_type(review_alert, entry_id=sentinel["id"]), timeout=30)
    assert len(await kafka.read_all(topics.REGISTER, of_type(missed, org=org))) == 1
    weekly = await kafka.read_all(topics.alerts(org), of_type(weekly_alert))
    assert len(weekly) == 1  # the DSL is told, once
    assert event_of(weekly[0])["data"]["sender_org"] == org
