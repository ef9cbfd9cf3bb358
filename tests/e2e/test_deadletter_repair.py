"""Dead-letter repair end to end (issues 13 and 14): an event naming an organisation not in the
directory is dead-lettered and kept once by the audit service; its sender sees it (no payload),
other organisations do not; once the organisation is added, an administrator replays it and the
alert arrives."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from isp_common.testing import fresh_nhs_number, unique, wait_for
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralRequested

pytestmark = [pytest.mark.e2e]

PROVIDER = "CGL-WSX"
RECEIVED = "uk.isp.alert.referral_received.v1"


def emergency_referral(to_org: str) -> CloudEvent:
    data = ReferralRequested.model_validate(
        {
            "referral_id": unique("ref-"),
            "direction": "to_social_care",
            "from_org": PROVIDER,
            "to_org": to_org,
            "person": {"nhs_number": fresh_nhs_number()},
            "children": [{"local_id": unique("C-")}],
            "rag": "red",
            "threshold": "emergency",
            "summary": "Parent intoxicated, child alone at home",
        }
    )
    return CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data)


async def rejections_of(audit: httpx.AsyncClient, headers: dict[str, str], event_id: str) -> list[dict[str, Any]]:
    """The caller's rejections of ``event_id``, read page by page through the cursor."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        response = await audit.get("/v1/rejections", headers=headers, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        found += [item for item in body["items"] if item["event_id"] == event_id]
        if body["next"] is None:
            return found
        params["after"] = body["next"]


async def test_a_dead_lettered_event_is_seen_by_its_sender_and_replayed_once_the_cause_is_fixed(
    suite, kafka, headers_for, add_organisation
):
    new_csc = f"CSC-{uuid.uuid4().hex[:8].upper()}"
    event = emergency_referral(new_csc)
    referral_id = event.data["referral_id"]
    await kafka.send_event(topics.REFERRALS, event)
    admin = headers_for("PARTNERSHIP", "admin", sub="ops-1")

    async with httpx.AsyncClient(base_url=suite.url("audit"), timeout=30) as audit:

        async def kept() -> dict[str, Any] | None:
            params = {"topic": topics.REFERRALS, "reason": "not in the partnership directory", "limit": 500}
            response = await audit.get("/v1/deadletters", headers=admin, params=params)
            assert response.status_code == 200, response.text
            mine = [item for item in response.json()["items"] if item["event_id"] == event.id]
            assert len(mine) <= 1, mine  # one rejection however many services rejected it
            return mine[0] if mine and len(mine[0]["rejected_by"]) == 2 else None

        rejection = await wait_for(kept, timeout=120)  # rejected by notifications and by referrals
        assert set(rejection["rejected_by"]) == {"isp-notifications", "isp-referrals"}
        assert rejection["org"] == PROVIDER

        [seen] = await rejections_of(audit, headers_for(PROVIDER, "provider"), event.id)
        assert (seen["id"], seen["topic"], seen["type"]) == (rejection["id"], topics.REFERRALS, event.type)
        assert set(seen) == {"id", "time", "topic", "type", "event_id", "reason"}  # never the payload
        assert await rejections_of(audit, headers_for("WSCC-CSC", "social_care"), event.id) == []

        add_organisation(new_csc, "children_social_care")
        replayed = await audit.post("/v1/deadletters/replay", headers=admin, json={"id": rejection["id"]})
        assert replayed.status_code == 200, replayed.text
        assert replayed.json() == {"replayed": [rejection["id"]], "count": 1}

        alerts = await kafka.collect(topics.alerts(new_csc), referral_alert(referral_id), timeout=120)
        assert len(alerts) == 1, "the replayed referral was not delivered"
        assert json.loads(alerts[0].value)["data"]["lawful_basis"]["ground"] == "significant_harm"

        shown = (await audit.get(f"/v1/deadletters/{rejection['id']}", headers=admin)).json()
        assert (shown["replays"], shown["replayed_by"]) == (1, "ops-1")


def referral_alert(referral_id: str):
    def predicate(record: Any) -> bool:
        body = json.loads(record.value)
        return bool(body.get("type") == RECEIVED and body.get("data", {}).get("referral_id") == referral_id)

    return predicate
