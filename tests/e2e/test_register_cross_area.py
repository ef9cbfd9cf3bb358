"""A person opened on two organisations' registers: both designated safeguarding leads are
alerted (through notifications), and no isp.register.v1 message carries the NHS number."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from isp_schemas import topics
from isp_schemas.people import make_nhs_number

pytestmark = [pytest.mark.e2e]

CROSS_AREA_ALERT = "uk.isp.alert.register_cross_area.v1"
MATCH = "uk.isp.register.cross_area_match.v1"


def fresh_nhs_number() -> str:
    while True:
        number = make_nhs_number(str(random.randint(400_000_000, 999_999_999)))
        if number is not None:
            return number


def suffix() -> str:
    return f"{random.randint(0, 36**4 - 1):04X}"[-4:]


def event_of(record) -> dict:
    return json.loads(record.value)


async def open_entry(suite, token: str, nhs: str, category: str) -> dict:
    async with httpx.AsyncClient(base_url=suite.url("register"), headers={"Authorization": f"Bearer {token}"}) as c:
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


async def test_a_cross_area_match_alerts_both_dsls_and_no_nhs_number_leaves(suite, kafka, token_for):
    nhs = fresh_nhs_number()
    run = suffix()
    first_org, second_org = f"CGL-X{run}", f"WDP-X{run}"
    first = await open_entry(suite, token_for(first_org, "dsl"), nhs, "vulnerable_adult")
    second = await open_entry(suite, token_for(second_org, "dsl"), nhs, "child_concern")

    [match] = await kafka.collect(
        topics.REGISTER,
        lambda r: event_of(r)["type"] == MATCH and event_of(r)["data"]["entry_id"] == second["id"],
        timeout=60,
    )
    data = event_of(match)["data"]
    assert (data["org"], data["other_org"], data["other_entry_id"]) == (second_org, first_org, first["id"])
    assert (data["category"], data["other_category"]) == ("child_concern", "vulnerable_adult")

    def cross_area_alert(record) -> bool:
        event = event_of(record)
        return event["type"] == CROSS_AREA_ALERT and {
            event["data"].get("entry_id"),
            event["data"].get("own_entry_id"),
        } == {
            first["id"],
            second["id"],
        }

    [to_first] = await kafka.collect(topics.alerts(first_org), cross_area_alert, timeout=60, settle=2)
    [to_second] = await kafka.collect(topics.alerts(second_org), cross_area_alert, timeout=30, settle=2)
    for alert, own, other, other_org in ((to_first, first, second, second_org), (to_second, second, first, first_org)):
        body = event_of(alert)["data"]
        assert (body["own_entry_id"], body["entry_id"], body["other_org"]) == (own["id"], other["id"], other_org)
        assert body["lawful_basis"] == {"kind": "statutory", "ground": "safeguarding_register_match"}
        assert nhs.encode() not in alert.value and b"Moss" not in alert.value

    # The person's whole trail on the register topic: pseudonymous keys only.
    everything = await kafka.collect(topics.REGISTER, lambda r: True, count=10**9, timeout=5)
    ours = [r for r in everything if event_of(r)["data"].get("entry_id") in (first["id"], second["id"])]
    assert len(ours) >= 3  # two openings and the match
    for record in everything:
        assert nhs.encode() not in record.value
        assert nhs.encode() not in (record.key or b"")
        assert all(nhs.encode() not in (value or b"") for _, value in record.headers)


async def test_the_worklists_of_both_orgs_show_the_new_match(suite, kafka, token_for):
    nhs = fresh_nhs_number()
    run = suffix()
    first_org, second_org = f"CGL-Y{run}", f"WDP-Y{run}"
    first_token, second_token = token_for(first_org, "dsl"), token_for(second_org, "dsl")
    first = await open_entry(suite, first_token, nhs, "general_high_risk")
    second = await open_entry(suite, second_token, nhs, "risk_to_vulnerable_adults")
    await kafka.collect(
        topics.REGISTER,
        lambda r: event_of(r)["type"] == MATCH and event_of(r)["data"]["entry_id"] == second["id"],
        timeout=60,
    )
    async with httpx.AsyncClient(base_url=suite.url("register")) as c:
        for token, own, other_org, other_category in (
            (first_token, first, second_org, "risk_to_vulnerable_adults"),
            (second_token, second, first_org, "general_high_risk"),
        ):
            work = (await c.get("/v1/register/worklist", headers={"Authorization": f"Bearer {token}"})).json()
            [match] = work["cross_area_matches"]
            assert (match["own_entry_id"], match["other_org"], match["other_category"]) == (
                own["id"],
                other_org,
                other_category,
            )
            detail = (
                await c.get(f"/v1/register/entries/{own['id']}", headers={"Authorization": f"Bearer {token}"})
            ).json()
            assert [m["other_org"] for m in detail["cross_area_matches"]] == [other_org]


async def test_an_overdue_review_and_a_missed_weekly_review_are_flagged_to_the_owning_org(suite, kafka, token_for):
    """The review timer runs in the service: an entry transcribed from two months ago is overdue
    at once; its organisation had it open last week with no weekly review recorded."""
    from datetime import UTC, datetime

    from isp_common.workingdays import add_months, london_date

    org = f"CGL-Z{suffix()}"
    today = london_date(datetime.now(UTC))
    async with httpx.AsyncClient(
        base_url=suite.url("register"), headers={"Authorization": f"Bearer {token_for(org, 'dsl')}"}
    ) as c:
        response = await c.post(
            "/v1/register/entries",
            json={
                "person": {"nhs_number": fresh_nhs_number()},
                "category": "general_high_risk",
                "risk": "high",
                "opened_on": add_months(today, -2).isoformat(),
            },
        )
        assert response.status_code == 201, response.text
        entry = response.json()
        assert entry["review_overdue"] is True

    overdue = await kafka.collect(
        topics.REGISTER,
        lambda r: (
            event_of(r)["type"] == "uk.isp.register.review.overdue.v1"
            and event_of(r)["data"]["entry_id"] == entry["id"]
        ),
        timeout=30,
        settle=3,
    )
    assert len(overdue) == 1  # once, although the timer runs every second
    missed = await kafka.collect(
        topics.REGISTER,
        lambda r: (
            event_of(r)["type"] == "uk.isp.register.weekly_review.missed.v1" and event_of(r)["data"]["org"] == org
        ),
        timeout=30,
        settle=3,
    )
    assert len(missed) == 1
    alerts = await kafka.collect(
        topics.alerts(org),
        lambda r: (
            event_of(r)["type"] == "uk.isp.alert.register_review_due.v1"
            and event_of(r)["data"]["entry_id"] == entry["id"]
        ),
        timeout=30,
    )
    assert alerts and event_of(alerts[0])["data"]["overdue"] is True
    weekly = await kafka.collect(
        topics.alerts(org),
        lambda r: event_of(r)["type"] == "uk.isp.alert.weekly_review_missed.v1",
        timeout=30,
        settle=2,
    )
    assert len(weekly) == 1  # the DSL is told, once
    assert event_of(weekly[0])["data"]["sender_org"] == org
