"""One trace from an HTTP request through referrals, Kafka, notifications, the webhook and the audit record."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
from isp_common.testing import WebhookReceiver, unique, wait_for
from isp_schemas import topics

pytestmark = [pytest.mark.e2e]

PROVIDER = "CGL-TRACE"
CSC = "CSC-TRACE"
NHS = "9434765870"


async def test_an_http_referral_keeps_one_trace_to_the_alert_the_webhook_and_the_audit_record(
    suite, kafka, headers_for
):
    with WebhookReceiver() as receiver:
        csc = headers_for(CSC, "social_care")
        async with httpx.AsyncClient(base_url=suite.url("notifications"), headers=csc) as client:
            sub = await client.post(
                "/v1/subscriptions",
                json={"url": receiver.url("/trace"), "types": ["uk.isp.alert.referral_received.v1"]},
            )
            assert sub.status_code == 201, sub.text

        trace_id = secrets.token_hex(16)
        traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        referral_id = unique("ref-trace-")
        provider = {**headers_for(PROVIDER, "provider"), "traceparent": traceparent}
        async with httpx.AsyncClient(base_url=suite.url("referrals"), headers=provider) as client:
            made = await client.post(
                "/v1/referrals",
                json={
                    "referral_id": referral_id,
                    "direction": "to_social_care",
                    "from_org": PROVIDER,
                    "to_org": CSC,
                    "person": {"nhs_number": NHS},
                    "children": [{"local_id": "C-9"}],
                    "threshold": "emergency",
                    "rag": "red",
                    "summary": "Immediate risk to a child at home",
                },
            )
        assert made.status_code == 201, made.text
        assert made.headers["traceparent"].split("-")[1] == trace_id

        def ours(record) -> bool:
            body = json.loads(record.value)
            return body["type"] == "uk.isp.alert.referral_received.v1" and body["data"]["referral_id"] == referral_id

        alerts = await kafka.collect(topics.alerts(CSC), ours, timeout=60)
        assert alerts, "no referral_received alert"
        assert dict(alerts[0].headers)["traceparent"].decode().split("-")[1] == trace_id
        alert_id = json.loads(alerts[0].value)["data"]["alert_id"]

        async def delivered():
            return [r for r in receiver.at("/trace") if r["status"] == 200]

        webhook = (await wait_for(delivered, timeout=60))[0]
        assert webhook["headers"]["traceparent"].split("-")[1] == trace_id

        ig = headers_for("ISP-IG", "partnership_ig")
        async with httpx.AsyncClient(base_url=suite.url("audit"), headers=ig) as client:

            async def audited():
                items = (await client.get("/v1/disclosures", params={"person": NHS})).json()["items"]
                return [i for i in items if i["alert_id"] == alert_id and i["decision"] == "shared"]

            record = (await wait_for(audited, timeout=60))[0]
        assert record["trace_id"] == trace_id
        assert record["lawful_basis"] == {"kind": "statutory", "ground": "significant_harm"}
