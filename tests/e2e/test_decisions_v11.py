"""Decisions of contract v1.1 end to end (CONTRACT §6, issue 10), through the public contract only:
the four services as real processes on the embedded broker, partners publishing on Kafka and calling
the referrals, notifications and audit APIs.

- a share withheld for want of consent is sent when the consent arrives inside its deadline, audited
  ``shared`` with ``supersedes``, and the sender's DSL is told;
- an s47 referral to social care needs no consent (``significant_harm``), and that ground reaches the
  social care organisation it was made to and no other;
- a DSL's release on professional judgement, told to the partnership IG organisation;
- a closing event that arrives before its opening never leaves the ground open.

Organisations come from ``tests/directory.json`` (WSCC-CSC and BHCC-CSC are children's social care,
CGL-WSX a treatment provider, PARTNERSHIP the partnership IG organisation). Each test has its own
person, children and ids, so tests never see each other's shares.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from isp_common.launcher import Suite
from isp_common.testing import fresh_nhs_number, unique, wait_for, wait_for_consent
from isp_common.testing.e2e import KafkaProbe
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from isp_schemas.socialcare import ConferenceScheduled, EnquiryClosed, EnquiryOpened, PlanStarted
from isp_schemas.treatment import AppointmentBooked, AppointmentMissed, EpisodeDisengaged

pytestmark = [pytest.mark.e2e]

CSC, OTHER_CSC, PROVIDER, IG, SENTINEL = "WSCC-CSC", "BHCC-CSC", "CGL-WSX", "PARTNERSHIP", "SENTINEL-CSC"
DNA = "uk.isp.alert.did_not_attend.v1"
RECEIVED = "uk.isp.alert.referral_received.v1"
DISENGAGED = "uk.isp.alert.treatment_disengaged.v1"
INVITATION = "uk.isp.alert.conference_invitation.v1"
WITHHELD = "uk.isp.alert.disclosure_withheld.v1"
RELEASED = "uk.isp.alert.disclosure_released.v1"
JUDGEMENT = "uk.isp.alert.judgement_release.v1"
SIGNIFICANT_HARM = {"kind": "statutory", "ground": "significant_harm"}
DSL_SUB = "dsl-cgl-wsx-e2e"


# -- the partners' clients -------------------------------------------------------------------


class Partners:
    """The APIs as each partner calls them (``api.referrals[CSC]``, ``api.dsl``, ``api.ig`` ...)."""

    def __init__(self, suite: Suite, headers_for: Callable[..., dict[str, str]]) -> None:
        def client(service: str, org: str, role: str, sub: str | None = None) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=suite.url(service), headers=headers_for(org, role, sub=sub), timeout=30)

        self.referrals = {
            CSC: client("referrals", CSC, "social_care"),
            PROVIDER: client("referrals", PROVIDER, "provider"),
        }
        self.alerts = {org: client("notifications", org, "social_care") for org in (CSC, OTHER_CSC, SENTINEL)}
        self.dsl = client("notifications", PROVIDER, "dsl", sub=DSL_SUB)
        self.ig = client("audit", IG, "partnership_ig")

    def all(self) -> list[httpx.AsyncClient]:
        return [*self.referrals.values(), *self.alerts.values(), self.dsl, self.ig]


@pytest.fixture
async def api(suite, headers_for) -> AsyncIterator[Partners]:
    partners = Partners(suite, headers_for)
    yield partners
    for client in partners.all():
        await client.aclose()


# -- publishing and reading --------------------------------------------------------------------


async def publish(kafka: KafkaProbe, data: Any, source: str, key: str) -> None:
    """Publish ``data`` as ``source`` would, keyed (and subject) by the person's NHS number ``key``."""
    event = CloudEvent.create(type=data.event_type, source_org=source, data=data, subject=key)
    await kafka.send_event(data.topic, event, key=key)


def of_type(alert_type: str, **data: object) -> Callable[[Any], bool]:
    def predicate(record: Any) -> bool:
        body = json.loads(record.value)
        return body["type"] == alert_type and all(body["data"].get(k) == v for k, v in data.items())

    return predicate


async def alert_on(kafka: KafkaProbe, org: str, alert_type: str, **data: object) -> dict[str, Any]:
    """The one alert of ``alert_type`` with ``data`` on ``isp.alerts.<org>.v1``."""
    found = await kafka.collect(topics.alerts(org), of_type(alert_type, **data), timeout=45)
    assert found, f"no {alert_type} {data} on {topics.alerts(org)}"
    body: dict[str, Any] = json.loads(found[0].value)
    return body


async def disclosures(
    api: Partners, nhs: str, predicate: Callable[[dict[str, Any]], bool], count: int
) -> list[dict[str, Any]]:
    """The audit trail's records about ``nhs`` matching ``predicate``, once it holds ``count`` of them."""

    async def held() -> list[dict[str, Any]] | None:
        response = await api.ig.get("/v1/disclosures", params={"person": nhs, "limit": 500, "purpose": "e2e test"})
        assert response.status_code == 200, response.text
        items = [r for r in response.json()["items"] if predicate(r)]
        return items if len(items) >= count else None

    found: list[dict[str, Any]] = await wait_for(held, timeout=30, interval=0.2)
    return found


async def withheld_and_shared(api: Partners, nhs: str, alert_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The withheld record of ``alert_id`` and the shared record that replaced it."""
    records = await disclosures(api, nhs, lambda r: r["alert_id"] == alert_id and r["decision"] != "received", 2)
    by_decision = {r["decision"]: r for r in records}
    assert sorted(by_decision) == ["shared", "withheld"] and len(records) == 2, records
    return by_decision["withheld"], by_decision["shared"]


async def open_withheld(api: Partners, nhs: str, alert_type: str, recipient: str) -> dict[str, Any] | None:
    """The provider DSL's open withheld share of ``alert_type`` about ``nhs`` to ``recipient``, if listed."""
    response = await api.dsl.get("/v1/withheld")
    assert response.status_code == 200, response.text
    items = [
        w
        for w in response.json()["items"]
        if w["nhs_number"] == nhs and w["alert_type"] == alert_type and w["intended_recipient"] == recipient
    ]
    return items[0] if items else None


async def social_care_alert(api: Partners, org: str, alert_type: str, **data: object) -> dict[str, Any] | None:
    """``org``'s newest alert of ``alert_type`` with ``data`` (GET /v1/alerts), if there is one."""
    response = await api.alerts[org].get("/v1/alerts", params={"limit": 1000})
    assert response.status_code == 200, response.text
    for alert in response.json()["items"]:
        event = alert["event"]
        if event["type"] == alert_type and all(event["data"].get(k) == v for k, v in data.items()):
            found: dict[str, Any] = event
            return found
    return None


async def facts_held(kafka: KafkaProbe, api: Partners, convener: str, nhs: str) -> None:
    """Wait until notifications has handled what was sent on ``isp.socialcare.v1`` about ``nhs``.

    A sentinel initial child protection conference naming no parent (shared with its invitee on its
    own ground, whatever is known of ``nhs``), sent on the same key behind those facts, is handled
    after them: once its invitation is there, they are held.
    """
    conference = ConferenceScheduled(
        conference_id=unique("sentinel-"),
        kind="initial_child_protection",
        children=[{"local_id": unique("C-")}],
        parents=[],
        scheduled_for=datetime.now(UTC) + timedelta(days=10),
        location="Sentinel",
        issued_at=datetime.now(UTC),
        invitees=[SENTINEL],
    )
    await publish(kafka, conference, convener, nhs)
    await wait_for(
        lambda: social_care_alert(api, SENTINEL, INVITATION, conference_id=conference.conference_id),
        timeout=30,
        interval=0.2,
    )


# -- the causing events ------------------------------------------------------------------------


async def refer(api: Partners, nhs: str, child: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A referral made over HTTP by ``fields["from_org"]`` (default: social care to treatment)."""
    body: dict[str, Any] = {
        "referral_id": unique("ref-"),
        "direction": "to_treatment",
        "from_org": CSC,
        "to_org": PROVIDER,
        "person": {"nhs_number": nhs},
        "children": [child],
        "rag": "amber",
        "summary": "Parent misusing alcohol",
        **fields,
    }
    response = await api.referrals[body["from_org"]].post("/v1/referrals", json=body)
    assert response.status_code == 201, response.text
    return body


async def s47_referral(api: Partners, nhs: str, child: dict[str, Any]) -> dict[str, Any]:
    """The provider refers the parent to social care at the s47 threshold, with no consent at all."""
    return await refer(
        api,
        nhs,
        child,
        direction="to_social_care",
        from_org=PROVIDER,
        to_org=CSC,
        threshold="child_protection_s47",
        rag="red",
        summary="Risk of significant harm to the child",
    )


async def withheld_dna(kafka: KafkaProbe, api: Partners, nhs: str) -> tuple[dict[str, Any], datetime]:
    """Social care refers the parent to treatment (no consent); the assessment is booked and missed.
    The referrals service raises the missed assessment and notifications withholds the DNA alert.
    Returns the provider DSL's open withheld DNA and the appointment's time."""
    referral = await refer(api, nhs, {"local_id": unique("C-")})
    scheduled_for = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    appointment_id = unique("apt-")
    person = Person(nhs_number=nhs)
    booked = AppointmentBooked(
        appointment_id=appointment_id,
        person=person,
        scheduled_for=scheduled_for,
        kind="assessment",
        referral_id=referral["referral_id"],
    )
    missed = AppointmentMissed(
        appointment_id=appointment_id,
        person=person,
        scheduled_for=scheduled_for,
        recorded_at=scheduled_for + timedelta(hours=1),
    )
    for data in (booked, missed):
        await publish(kafka, data, PROVIDER, nhs)

    async def decided() -> tuple[str, dict[str, Any]] | None:
        shared = await social_care_alert(api, CSC, DNA, appointment_id=appointment_id)
        if shared is not None:
            return "shared", shared
        withheld = await open_withheld(api, nhs, DNA, CSC)
        return ("withheld", withheld) if withheld is not None else None

    outcome, found = await wait_for(decided, timeout=30, interval=0.2)
    assert outcome == "withheld", f"the DNA was shared on {found['data']['lawful_basis']}"
    return found, scheduled_for


async def consent(kafka: KafkaProbe, suite: Suite, nhs: str, recipients: list[str], categories: list[str]) -> str:
    data = ConsentGiven(
        consent_id=unique("con-"),
        person=Person(nhs_number=nhs),
        recorded_by=PROVIDER,
        recipients=recipients,
        purposes=["safeguarding"],
        data_categories=categories,
        given_on=date.today(),
    )
    await publish(kafka, data, PROVIDER, nhs)
    await wait_for_consent(suite, PROVIDER, data.consent_id)
    return data.consent_id


# -- the tests ---------------------------------------------------------------------------------


async def test_a_dna_withheld_for_want_of_consent_is_sent_when_the_consent_arrives(suite, kafka, api):
    nhs = fresh_nhs_number()
    withheld, scheduled_for = await withheld_dna(kafka, api, nhs)
    alert_id = withheld["alert_id"]
    assert datetime.fromisoformat(withheld["deadline"]) == scheduled_for + timedelta(hours=24)

    consent_id = await consent(kafka, suite, nhs, [CSC], ["attendance"])
    notice, alert, released = await asyncio.gather(
        alert_on(kafka, PROVIDER, WITHHELD, withheld_alert_id=alert_id),
        alert_on(kafka, CSC, DNA, alert_id=alert_id),
        alert_on(kafka, PROVIDER, RELEASED, withheld_alert_id=alert_id),
    )
    # the DSL was told of the withholding with the alert's deadline, which still holds once it is sent
    assert datetime.fromisoformat(notice["data"]["deadline"]) == scheduled_for + timedelta(hours=24)
    basis = {"kind": "consent", "consent_id": consent_id}
    assert alert["data"]["lawful_basis"] == basis
    assert datetime.fromisoformat(alert["data"]["deadline"]) == scheduled_for + timedelta(hours=24)
    assert released["data"]["intended_recipient"] == CSC and released["data"]["lawful_basis"] == basis

    withheld_record, shared_record = await withheld_and_shared(api, nhs, alert_id)
    assert withheld_record["recipient"] == shared_record["recipient"] == CSC
    assert withheld_record["lawful_basis"] is None and shared_record["lawful_basis"] == basis
    assert shared_record["supersedes"] == withheld_record["id"]
    assert await open_withheld(api, nhs, DNA, CSC) is None  # decided: no longer open


async def test_an_s47_referral_to_social_care_without_consent_is_shared_on_significant_harm(kafka, api):
    nhs, child = fresh_nhs_number(), {"local_id": unique("C-")}
    referral = await s47_referral(api, nhs, child)
    alert = await alert_on(kafka, CSC, RECEIVED, referral_id=referral["referral_id"])
    assert alert["data"]["lawful_basis"] == SIGNIFICANT_HARM
    assert alert["data"]["threshold"] == "child_protection_s47" and alert["data"]["from_org"] == PROVIDER
    [record] = await disclosures(api, nhs, lambda r: r["alert_id"] == alert["data"]["alert_id"], 1)
    assert (record["decision"], record["discloser"], record["recipient"]) == ("shared", PROVIDER, CSC)
    assert record["lawful_basis"] == SIGNIFICANT_HARM


async def test_significant_harm_reaches_only_the_social_care_organisation_referred_to(kafka, api):
    nhs, child = fresh_nhs_number(), {"local_id": unique("C-")}
    referral = await s47_referral(api, nhs, child)
    plan = PlanStarted(
        plan_id=unique("cin-"),
        kind="child_in_need",
        child=child,
        parents=[Person(nhs_number=nhs)],
        started_on=date.today() - timedelta(days=7),
    )
    await publish(kafka, plan, OTHER_CSC, nhs)
    # both facts held: the referral (shared to WSCC-CSC) and Brighton & Hove's plan (behind the sentinel)
    await asyncio.gather(
        alert_on(kafka, CSC, RECEIVED, referral_id=referral["referral_id"]), facts_held(kafka, api, OTHER_CSC, nhs)
    )

    episode_id = unique("ep-")
    disengaged = EpisodeDisengaged(episode_id=episode_id, person=Person(nhs_number=nhs), last_contact_on=date.today())
    await publish(kafka, disengaged, PROVIDER, nhs)
    alert = await alert_on(kafka, CSC, DISENGAGED, episode_id=episode_id)
    assert alert["data"]["lawful_basis"] == SIGNIFICANT_HARM

    withheld = await wait_for(lambda: open_withheld(api, nhs, DISENGAGED, OTHER_CSC), timeout=30, interval=0.2)
    [record] = await disclosures(api, nhs, lambda r: r["alert_id"] == withheld["alert_id"], 1)
    assert (record["decision"], record["recipient"], record["lawful_basis"]) == ("withheld", OTHER_CSC, None)
    # and Brighton & Hove was never sent it: no such alert of theirs, no shared record to them
    assert (await api.alerts[OTHER_CSC].get(f"/v1/alerts/{withheld['alert_id']}")).status_code == 404
    assert await social_care_alert(api, OTHER_CSC, DISENGAGED, episode_id=episode_id) is None
    to_them = await disclosures(api, nhs, lambda r: r["recipient"] == OTHER_CSC, 1)
    assert [r["decision"] for r in to_them] == ["withheld"]


async def test_a_dsl_release_on_professional_judgement_is_sent_audited_and_told_to_the_partnership_ig(kafka, api):
    nhs = fresh_nhs_number()
    withheld, _ = await withheld_dna(kafka, api, nhs)
    alert_id = withheld["alert_id"]
    listed = (await api.dsl.get("/v1/withheld")).json()["items"]
    assert [w["state"] for w in listed if w["alert_id"] == alert_id] == ["open"]

    body = {"reason": "the baby is at risk tonight", "service_user_informed": False, "not_informed_reason": "risk"}
    response = await api.dsl.post(f"/v1/withheld/{alert_id}/release", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "released"

    alert, told, released = await asyncio.gather(
        alert_on(kafka, CSC, DNA, alert_id=alert_id),
        alert_on(kafka, IG, JUDGEMENT, withheld_alert_id=alert_id),
        alert_on(kafka, PROVIDER, RELEASED, withheld_alert_id=alert_id),
    )
    basis = {"kind": "professional_judgement", "by": DSL_SUB, "reason": body["reason"]}
    assert alert["data"]["lawful_basis"] == basis and released["data"]["lawful_basis"] == basis
    assert {k: told["data"][k] for k in ("discloser", "intended_recipient", "by", "reason")} == {
        "discloser": PROVIDER,
        "intended_recipient": CSC,
        "by": DSL_SUB,
        "reason": body["reason"],
    }
    assert "person" not in told["data"]  # the IG organisation reads the audit trail for that

    withheld_record, shared_record = await withheld_and_shared(api, nhs, alert_id)
    assert shared_record["supersedes"] == withheld_record["id"] and shared_record["lawful_basis"] == basis
    assert (shared_record["service_user_informed"], shared_record["not_informed_reason"]) == (False, "risk")
    assert await open_withheld(api, nhs, DNA, CSC) is None


async def test_an_enquiry_closed_before_it_is_opened_does_not_leave_the_ground_open(kafka, api):
    nhs, child = fresh_nhs_number(), {"local_id": unique("C-")}
    enquiry_id, today = unique("s47-"), date.today()
    closed = EnquiryClosed(enquiry_id=enquiry_id, closed_on=today - timedelta(days=5))
    opened = EnquiryOpened(
        enquiry_id=enquiry_id, child=child, parents=[Person(nhs_number=nhs)], opened_on=today - timedelta(days=10)
    )
    for data in (closed, opened):  # the closing first, on the same key: it arrives first
        await publish(kafka, data, CSC, nhs)
    await facts_held(kafka, api, CSC, nhs)

    withheld, _ = await withheld_dna(kafka, api, nhs)  # fails at once if shared on child_protection_enquiry
    assert withheld["state"] == "open" and "consent" in withheld["reason"]
    assert (await api.alerts[CSC].get(f"/v1/alerts/{withheld['alert_id']}")).status_code == 404
    [record] = await disclosures(api, nhs, lambda r: r["alert_id"] == withheld["alert_id"], 1)
    assert (record["decision"], record["recipient"], record["lawful_basis"]) == ("withheld", CSC, None)
