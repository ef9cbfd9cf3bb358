"""The audit trail end to end: ingest from Kafka, queries, FHIR, CSV, verify, checkpoints,
reconciliation, and the IG officers' page in headless Chromium."""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from isp_audit import checkpoints
from isp_common.testing import fresh_nhs_number, unique, wait_for
from isp_common.testing.fixtures import CHROMIUM_PATHS
from isp_schemas import topics
from isp_schemas.alerts import DidNotAttendAlert
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES

pytestmark = [pytest.mark.e2e]


def disclosure_event(person: str, discloser: str, recipient: str, shared_at: datetime, **extra) -> CloudEvent:
    data = DisclosureRecorded.model_validate(
        {
            **EXAMPLES[DisclosureRecorded.event_type],
            "alert_id": unique("alert-"),
            "person": person,
            "discloser": discloser,
            "recipient": recipient,
            "shared_at": shared_at.isoformat(),
            **extra,
        }
    )
    return CloudEvent.create(type=data.event_type, source_org=discloser, data=data, subject=person)


async def ingest(kafka, client, person: str, events: list[CloudEvent]) -> list[dict]:
    for event in events:
        await kafka.send_event(topics.AUDIT, event)

    async def all_there():
        items = (await client.get("/v1/disclosures", params={"person": person, "limit": 500})).json()["items"]
        return items if len(items) >= len(events) else None

    return await wait_for(all_there)


async def handled_up_to_here(kafka, client, key: str) -> None:
    """Send a sentinel record about someone else on ``key`` and wait until audit holds it: audit
    reads a key's records in order, so everything sent before on that key has been handled."""
    someone_else = fresh_nhs_number()
    sentinel = disclosure_event(someone_else, "SENTINEL-PRV", "SENTINEL-CSC", datetime.now(UTC))
    await kafka.send_event(topics.AUDIT, sentinel, key=key)
    await wait_for(lambda: _held(client, someone_else))


async def _held(client, person: str) -> bool:
    return bool((await client.get("/v1/disclosures", params={"person": person})).json()["items"])


@pytest.fixture
def ig(headers_for):
    return headers_for("WSX-IG", "partnership_ig")


async def test_disclosures_are_recorded_once_queried_newest_first_and_verified(suite, kafka, headers_for, ig):
    person, provider, csc = fresh_nhs_number(), "CGL-E2E", "WSCC-E2E"
    t0 = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
    events = [disclosure_event(person, provider, csc, t0 + timedelta(hours=i)) for i in range(6)]
    events.append(disclosure_event(person, "OTHER-ORG", "ELSE-ORG", t0 + timedelta(hours=7)))
    async with httpx.AsyncClient(base_url=suite.url("audit"), headers=ig) as client:
        items = await ingest(kafka, client, person, events)
        assert [i["shared_at"] for i in items] == sorted((i["shared_at"] for i in items), reverse=True)
        # the same share again (a new CloudEvent id): still one record
        again = CloudEvent.create(type=events[0].type, source_org=provider, data=events[0].data, subject=person)
        await kafka.send_event(topics.AUDIT, again)
        await handled_up_to_here(kafka, client, person)
        page1 = (await client.get("/v1/disclosures", params={"person": person, "limit": 4})).json()
        page2 = (
            await client.get("/v1/disclosures", params={"person": person, "limit": 4, "cursor": page1["next_cursor"]})
        ).json()
        assert len(page1["items"]) == 4 and len(page2["items"]) == 3 and page2["next_cursor"] is None
        seqs = [i["seq"] for i in page1["items"] + page2["items"]]
        assert len(set(seqs)) == 7

        day = {"org": provider, "since": "2025-11-03", "until": "2025-11-03", "person": person}
        dated = (await client.get("/v1/disclosures", params=day)).json()
        assert len(dated["items"]) == 6

        record = (await client.get(f"/v1/disclosures/{items[0]['id']}")).json()
        assert record["hash"] and record["prev_hash"] and record["trace_id"]

        fhir = await client.get(f"/v1/disclosures/{items[0]['id']}/fhir")
        assert fhir.headers["content-type"].startswith("application/fhir+json")
        from fhir.resources.R4B.auditevent import AuditEvent

        event = AuditEvent.model_validate(fhir.json())
        assert event.type.code == "110106" and {a.who.identifier.value for a in event.agent} == {
            items[0]["discloser"],
            items[0]["recipient"],
        }
        assert any(e.what.identifier.value == person for e in event.entity if e.what and e.what.identifier)

        exported = await client.get("/v1/disclosures.csv", params={"person": person})
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(rows) == 7 and rows[0]["person"] == person

        async def checkpointed():
            response = await client.get("/v1/verify")
            if response.status_code == 429:  # verify is rate limited per organisation: ask again later
                return None
            verdict = response.json()
            return verdict if verdict["ok"] and verdict["checkpoints_checked"] > 0 else None

        verdict = await wait_for(checkpointed)
        assert verdict["first_bad_seq"] is None and verdict["records"] >= 7

    # an ig_officer sees only its own organisation's records
    officer = headers_for(provider, "ig_officer")
    async with httpx.AsyncClient(base_url=suite.url("audit"), headers=officer) as client:
        own = (await client.get("/v1/disclosures", params={"person": person})).json()["items"]
        assert len(own) == 6 and all(provider in (i["discloser"], i["recipient"]) for i in own)
        other = [i for i in items if i["discloser"] == "OTHER-ORG"][0]
        assert (await client.get(f"/v1/disclosures/{other['id']}")).status_code == 403
    async with httpx.AsyncClient(base_url=suite.url("audit")) as client:
        assert (await client.get("/v1/disclosures")).status_code == 401
        social = headers_for(csc, "social_care")
        assert (await client.get("/v1/disclosures", headers=social)).status_code == 403


async def test_checkpoints_are_published_signed(suite, kafka, ig):
    found = await kafka.collect(topics.AUDIT_CHECKPOINTS, lambda r: True, timeout=60)
    body = json.loads(found[0].value)
    assert body["type"] == "uk.isp.audit.checkpoint.v1"
    trusted = checkpoints.load_public_key(suite.var_dir / "keys" / checkpoints.PUBLIC_KEY_FILE)
    data = body["data"]
    signed = checkpoints.SignedCheckpoint(data["size"], data["head"], data["time"], data["key_id"], data["signature"])
    assert checkpoints.signature_valid(signed, trusted)
    assert signed in checkpoints.read_file(suite.var_dir / checkpoints.CHECKPOINT_FILE)


async def test_reconciliation_finds_a_delivered_alert_without_a_record(suite, kafka, ig):
    person, recipient = fresh_nhs_number(), "RECON-CSC"
    alert = DidNotAttendAlert.model_validate(
        {
            **EXAMPLES[DidNotAttendAlert.event_type],
            "alert_id": unique("unrecorded-"),
            "person": {"nhs_number": person},
        }
    )
    event = CloudEvent.create(type=alert.event_type, source_org=alert.sender_org, data=alert, id=alert.alert_id)
    await kafka.send_event(topics.alerts(recipient), event)
    recorded = disclosure_event(person, alert.sender_org, recipient, datetime.now(UTC), alert_id=unique("ghost-"))
    await kafka.send_event(topics.AUDIT, recorded)
    async with httpx.AsyncClient(base_url=suite.url("audit"), headers=ig) as client:

        async def both_found():
            report = (await client.get("/v1/reconciliation")).json()
            refs = {(m["check"], m["reference"]) for m in report["mismatches"]}
            want = {("shared_alert_has_no_record", alert.alert_id), ("record_has_no_alert", recorded.data["alert_id"])}
            return report if want <= refs else None

        report = await wait_for(both_found, timeout=60)
    assert not report["ok"]


@pytest.mark.browser
def test_an_ig_officer_searches_opens_a_record_verifies_and_downloads_csv(suite, kafka, token_for, ig):
    # Not the session ``browser`` fixture: Playwright's sync API would leave its event loop
    # running on the main thread and break the async tests after this one. Same Chromium.
    executable = os.environ.get("ISP_CHROMIUM") or next((p for p in CHROMIUM_PATHS if os.path.exists(p)), None)
    if not executable:
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")
    person = fresh_nhs_number()

    async def two_records():
        async with httpx.AsyncClient(base_url=suite.url("audit"), headers=ig) as client:
            return await ingest(
                kafka,
                client,
                person,
                [
                    disclosure_event(person, "CGL-WEB", "WSCC-WEB", datetime(2025, 11, 4, 9, tzinfo=UTC)),
                    disclosure_event(person, "CGL-WEB", "WSCC-WEB", datetime(2025, 11, 5, 9, tzinfo=UTC)),
                ],
            )

    # Playwright's sync API owns this thread's event loop: the asyncio part runs on another thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        items = pool.submit(asyncio.run, two_records()).result()
    token = token_for("CGL-WEB", "ig_officer")

    def drive() -> dict:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
            )
            try:
                return browse(browser)
            finally:
                browser.close()

    def browse(browser) -> dict:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(suite.url("audit") + "/ig/")
        assert page.url.endswith("/ig/login")
        page.get_by_label("Token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Person (NHS number)").fill(person)
        page.get_by_label("Why you are asking").fill("subject access request")
        page.get_by_role("button", name="Search").click()
        page.locator("#results").wait_for()  # the results page, not the form it replaced
        rows = page.locator("tbody tr").count()
        page.locator("tbody tr").first.get_by_role("link").click()
        trace_id = page.locator("#trace-id").inner_text()
        page.get_by_role("link", name="Verify the chain").click()
        page.get_by_role("button", name="Verify now").click()
        verdict = page.locator("#verdict").inner_text()
        page.go_back()
        page.go_back()
        page.go_back()
        with page.expect_download() as download:
            page.locator("#csv").click()
        path = download.value.path()
        text = Path(path).read_text(encoding="utf-8")
        context.close()
        return {"rows": rows, "trace_id": trace_id, "verdict": verdict, "csv": text}

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        seen = pool.submit(drive).result()
    assert seen["rows"] == 2
    assert seen["trace_id"].strip() == items[0]["trace_id"]
    assert "Intact" in seen["verdict"]
    exported = list(csv.DictReader(io.StringIO(seen["csv"])))
    assert [r["person"] for r in exported] == [person, person]
