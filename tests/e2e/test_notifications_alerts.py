"""Every alert type end to end on the embedded broker, with the services as real processes:
from the causing events to the alert on the recipient's topic, a signed webhook received by a
real local HTTP server, and the audit record (``isp.audit.v1``); and the withheld path.

Each test uses its own organisations and person, so tests do not see each other's alerts.
The suite runs notifications with short retry delays, a 3 s heartbeat and a 4 s
"endpoint failing" escalation (see the ``suite`` fixture's env).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from isp_common.testing import WebhookReceiver as Receiver
from isp_common.testing import fresh_nhs_number, unique, wait_for, wait_for_consent
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from isp_schemas.referrals import ReferralAssessmentMissed, ReferralRequested
from isp_schemas.register import RegisterCrossAreaMatch
from isp_schemas.socialcare import ConferenceCancelled, ConferenceScheduled, EnquiryOpened, PlanStarted
from isp_schemas.treatment import EpisodeDisengaged
from standardwebhooks.webhooks import Webhook

pytestmark = [pytest.mark.e2e]

WITHHELD = "uk.isp.alert.disclosure_withheld.v1"
ESCALATION = "uk.isp.alert.delivery_escalation.v1"
HEARTBEAT = "uk.isp.subscription.heartbeat.v1"


# -- a real webhook receiver ------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


# -- helpers ----------------------------------------------------------------------------------


def org(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def new_person() -> Person:
    return Person(nhs_number=fresh_nhs_number(), given_name="Alex", family_name="Doe")


class Partner:
    """One organisation talking to the notifications API. Its client is added to ``opened``, which
    the ``partner`` fixture closes after the test."""

    def __init__(self, suite, headers_for, org_id: str, role: str, opened: list[httpx.AsyncClient]):
        self.org = org_id
        self._suite, self._headers_for, self._opened = suite, headers_for, opened
        self.client = httpx.AsyncClient(base_url=suite.url("notifications"), headers=headers_for(org_id, role))
        opened.append(self.client)

    def dsl(self) -> Partner:
        """The same organisation's designated safeguarding lead (who alone sees DSL-only alerts)."""
        return Partner(self._suite, self._headers_for, self.org, "dsl", self._opened)

    async def subscribe(self, url: str, types=("*",)) -> dict:
        response = await self.client.post("/v1/subscriptions", json={"url": url, "types": list(types)})
        assert response.status_code == 201, response.text
        return response.json()


KIND_OF_ROLE = {"social_care": "children_social_care", "provider": "treatment_provider", "dsl": "other"}


@pytest.fixture
async def partner(suite, headers_for, add_organisation):
    """A new organisation of the kind its role implies, in the partnership directory; the clients
    made for the test are closed after it."""
    opened: list[httpx.AsyncClient] = []

    def make(prefix: str, role: str = "social_care") -> Partner:
        org_id = org(prefix)
        add_organisation(org_id, KIND_OF_ROLE[role])
        return Partner(suite, headers_for, org_id, role, opened)

    yield make
    for client in opened:
        await client.aclose()


async def publish(kafka, data, source: str, subject: str | None = None) -> CloudEvent:
    event = CloudEvent.create(type=data.event_type, source_org=source, data=data, subject=subject)
    await kafka.send_event(data.topic, event)
    return event


async def consent(suite, kafka, person: Person, recorded_by: str, recipients, categories) -> str:
    data = ConsentGiven(
        consent_id=unique("con-"),
        person=person,
        recorded_by=recorded_by,
        recipients=list(recipients),
        purposes=["safeguarding"],
        data_categories=list(categories),
        given_on=date.today(),
    )
    await publish(kafka, data, recorded_by)
    await wait_for_consent(suite, recorded_by, data.consent_id)
    return data.consent_id


def of_type(alert_type: str, **data: object):
    """Messages of ``alert_type`` whose data has the given values."""

    def predicate(record) -> bool:
        body = json.loads(record.value)
        return body["type"] == alert_type and all(body["data"].get(k) == v for k, v in data.items())

    return predicate


async def alerts_on(kafka, org_id: str, alert_type: str, count: int = 1, timeout: float = 60, **data: object):
    records = await kafka.collect(topics.alerts(org_id), of_type(alert_type, **data), count=count, timeout=timeout)
    return [json.loads(r.value) for r in records]


def about_alert(alert_id: str):
    return lambda r: json.loads(r.value)["data"]["alert_id"] == alert_id


async def audit_of(kafka, alert_id: str, count: int = 1, timeout: float = 60) -> list[dict]:
    records = await kafka.collect(topics.AUDIT, about_alert(alert_id), count=count, timeout=timeout)
    return [json.loads(r.value)["data"] for r in records]


async def emergency_referral(kafka, provider: str, csc: str, person: Person) -> str:
    """A sentinel: an emergency referral about ``person``, shared at once on the significant-harm
    ground (no consent needed) as a referral_received alert on social care's topic, keyed like every
    other alert about the person. Once it is there, nothing decided before it about them can still come."""
    emergency = ReferralRequested(
        referral_id=unique("sentinel-"),
        direction="to_social_care",
        from_org=provider,
        to_org=csc,
        person=person,
        children=[{"local_id": unique("c-")}],
        threshold="emergency",
        rag="red",
        summary="Sentinel",
    )
    await publish(kafka, emergency, provider)
    return emergency.referral_id


async def social_care_facts_held(kafka, convener: str, parent: Person, ground: str) -> None:
    """Wait until notifications holds social care's facts about ``parent`` (an enquiry or plan).

    Those facts travel on isp.socialcare.v1 keyed by the parent's NHS number, while the events
    that rely on them come on other topics. A sentinel conference about the parent, sent on the
    same key behind them, is read after them: once its invitation is shared on ``ground``, they are held.
    """
    sentinel_org = "SENTINEL-CSC"  # a social care organisation in tests/directory.json
    sentinel_id = unique("sentinel-")
    conference = ConferenceScheduled(
        conference_id=sentinel_id,
        kind="core_group",
        children=[{"local_id": unique("c-")}],
        parents=[parent],
        scheduled_for=datetime.now(UTC) + timedelta(days=14),
        location="Sentinel",
        issued_at=datetime.now(UTC),
        invitees=[sentinel_org],
    )
    event = CloudEvent.create(
        type=conference.event_type, source_org=convener, data=conference, subject=parent.nhs_number
    )
    await kafka.send_event(topics.SOCIALCARE, event, key=parent.nhs_number)
    [invitation] = await alerts_on(
        kafka, sentinel_org, "uk.isp.alert.conference_invitation.v1", conference_id=sentinel_id
    )
    assert invitation["data"]["lawful_basis"] == {"kind": "statutory", "ground": ground}


async def signed_webhook(receiver: Receiver, path: str, secret: str, alert_id: str) -> dict:
    def arrived():
        return [r for r in receiver.at(path) if r["status"] == 200 and json.loads(r["body"]).get("id") == alert_id]

    [request] = await wait_for(arrived, timeout=60)
    return Webhook(secret).verify(request["body"], request["headers"])


# -- referral_received ------------------------------------------------------------------------


async def test_referral_received_end_to_end_and_withheld(suite, kafka, receiver, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    sub = await provider.dsl().subscribe(receiver.url(f"/{provider.org}"))  # all types, withheld ones too
    person = new_person()
    consent_id = await consent(suite, kafka, person, csc.org, [provider.org], ["referral"])
    referral = ReferralRequested(
        referral_id=unique("ref-"),
        direction="to_treatment",
        from_org=csc.org,
        to_org=provider.org,
        person=person,
        children=[{"local_id": unique("c-")}],
        rag="red",
        summary="Parent misusing alcohol",
    )
    await publish(kafka, referral, csc.org)
    [alert] = await alerts_on(kafka, provider.org, "uk.isp.alert.referral_received.v1")
    assert alert["data"]["priority"] is True
    assert alert["data"]["lawful_basis"] == {"kind": "consent", "consent_id": consent_id}
    assert "rag" not in alert["data"] and "children" not in alert["data"]  # only "referral" consented
    hook = await signed_webhook(receiver, f"/{provider.org}", sub["secret"], alert["id"])
    assert hook["data"]["referral_id"] == referral.referral_id
    [record] = await audit_of(kafka, alert["id"])
    assert record["decision"] == "shared" and record["data_categories"] == ["referral"]

    # withheld: a referral to social care below threshold, with no consent
    other = new_person()
    below = ReferralRequested(
        referral_id=unique("ref-"),
        direction="to_social_care",
        from_org=provider.org,
        to_org=csc.org,
        person=other,
        children=[{"local_id": unique("c-")}],
        threshold="family_support",
        rag="green",
        summary="Support needed",
    )
    await publish(kafka, below, provider.org)
    [told] = await alerts_on(kafka, provider.org, WITHHELD)
    assert told["data"]["intended_recipient"] == csc.org
    [withheld] = await audit_of(kafka, told["data"]["withheld_alert_id"])
    assert withheld["decision"] == "withheld" and withheld["lawful_basis"] is None
    assert "no consent recorded" in withheld["reason"]
    hook = await signed_webhook(receiver, f"/{provider.org}", sub["secret"], told["id"])
    assert hook["type"] == WITHHELD
    sentinel = await emergency_referral(kafka, provider.org, csc.org, other)
    received = "uk.isp.alert.referral_received.v1"
    assert (
        await kafka.collect_until(
            topics.alerts(csc.org),
            of_type(received, referral_id=below.referral_id),
            of_type(received, referral_id=sentinel),
        )
        == []
    )


async def test_an_emergency_referral_records_what_the_sender_said_about_telling_the_service_user(suite, kafka, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    person = new_person()
    statement = await provider.client.post(
        "/v1/informing",
        json={"nhs_number": person.nhs_number, "informed": False, "reason": "would put the child at more risk"},
    )
    assert statement.status_code == 201, statement.text
    no_reason = await provider.client.post("/v1/informing", json={"nhs_number": person.nhs_number, "informed": False})
    assert no_reason.status_code == 422
    emergency = ReferralRequested(
        referral_id=unique("ref-"),
        direction="to_social_care",
        from_org=provider.org,
        to_org=csc.org,
        person=person,
        children=[{"expected_due_date": "2027-01-15"}],
        threshold="emergency",
        rag="red",
        summary="Risk of immediate harm",
    )
    await publish(kafka, emergency, provider.org)
    [alert] = await alerts_on(kafka, csc.org, "uk.isp.alert.referral_received.v1")
    assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "significant_harm"}
    assert alert["data"]["children"] == [{"expected_due_date": "2027-01-15"}]  # an unborn child counts
    [record] = await audit_of(kafka, alert["id"])
    assert record["service_user_informed"] is False
    assert record["not_informed_reason"] == "would put the child at more risk"


# -- did_not_attend, acknowledgement, escalation ----------------------------------------------


def dna(csc: str, provider: str, person: Person, scheduled_for: datetime) -> ReferralAssessmentMissed:
    return ReferralAssessmentMissed(
        referral_id=unique("ref-"),
        direction="to_treatment",
        from_org=csc,
        to_org=provider,
        person=person,
        at=scheduled_for + timedelta(hours=1),
        appointment_id=unique("apt-"),
        scheduled_for=scheduled_for,
        recorded_at=scheduled_for + timedelta(hours=1),
    )


async def test_did_not_attend_end_to_end_with_receipt_and_withheld(suite, kafka, receiver, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    sub = await csc.subscribe(receiver.url(f"/{csc.org}"), types=["uk.isp.alert.did_not_attend.v1"])
    person = new_person()
    await consent(suite, kafka, person, provider.org, [csc.org], ["attendance"])
    scheduled_for = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    missed = dna(csc.org, provider.org, person, scheduled_for)
    await publish(kafka, missed, provider.org)
    [alert] = await alerts_on(kafka, csc.org, "uk.isp.alert.did_not_attend.v1")
    assert datetime.fromisoformat(alert["data"]["deadline"]) == scheduled_for + timedelta(hours=24)
    hook = await signed_webhook(receiver, f"/{csc.org}", sub["secret"], alert["id"])
    assert hook["data"]["appointment_id"] == missed.appointment_id and hook["eventnumber"] == 1
    [shared] = await audit_of(kafka, alert["id"])
    assert shared["decision"] == "shared" and shared["discloser"] == provider.org
    assert shared["provenance"] == "unsigned"  # the test partner has no key: accepted only in the embedded default

    # the recipient acknowledges: audited as received, so the trail holds both ends
    response = await csc.client.post(f"/v1/alerts/{alert['id']}/ack")
    assert response.status_code == 200, response.text
    records = await audit_of(kafka, alert["id"], count=2)
    received = [r for r in records if r["decision"] == "received"]
    assert len(received) == 1 and received[0]["channel"] == "api" and received[0]["recipient"] == csc.org
    # another organisation may not acknowledge it
    assert (await provider.client.post(f"/v1/alerts/{alert['id']}/ack")).status_code == 403
    listed = (await csc.client.get("/v1/alerts", params={"status": "delivered"})).json()["items"]
    assert [a["alert_id"] for a in listed] == [alert["id"]]

    # withheld: no consent for this person
    stranger = new_person()
    await publish(kafka, dna(csc.org, provider.org, stranger, scheduled_for), provider.org)
    [told] = await alerts_on(kafka, provider.org, WITHHELD)
    assert told["data"]["withheld_type"] == "uk.isp.alert.did_not_attend.v1"
    [withheld] = await audit_of(kafka, told["data"]["withheld_alert_id"])
    assert withheld["decision"] == "withheld"
    assert len(await kafka.read_all(topics.alerts(csc.org), of_type("uk.isp.alert.did_not_attend.v1"))) == 1
    # v1.1: an emergency referral of that person to the same CSC, inside the DNA's deadline, is a
    # significant-harm ground for it: the withheld DNA is decided again and goes, superseding
    await emergency_referral(kafka, provider.org, csc.org, stranger)
    [released] = await kafka.collect(
        topics.alerts(csc.org),
        lambda r: (
            of_type("uk.isp.alert.did_not_attend.v1")(r)
            and json.loads(r.value)["data"]["person"]["nhs_number"] == stranger.nhs_number
        ),
        count=1,
        timeout=60,
    )
    released_alert = json.loads(released.value)
    assert released_alert["id"] == told["data"]["withheld_alert_id"]
    assert released_alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "significant_harm"}
    records = await audit_of(kafka, released_alert["id"], count=2)
    [shared_later] = [r for r in records if r["decision"] == "shared"]
    assert shared_later["supersedes"]


async def test_a_dna_alert_not_acknowledged_by_its_deadline_is_escalated_to_the_senders_dsl(suite, kafka, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    person = new_person()
    await consent(suite, kafka, person, provider.org, [csc.org], ["attendance"])
    long_ago = datetime.now(UTC) - timedelta(days=2)  # its 24-hour deadline has already passed
    await publish(kafka, dna(csc.org, provider.org, person, long_ago), provider.org)
    [alert] = await alerts_on(kafka, csc.org, "uk.isp.alert.did_not_attend.v1")
    [escalation] = await alerts_on(kafka, provider.org, ESCALATION)
    assert escalation["data"]["escalated_alert_id"] == alert["id"]
    assert escalation["data"]["recipient"] == csc.org


# -- treatment_disengaged ----------------------------------------------------------------------


async def test_treatment_disengaged_end_to_end_and_withheld(suite, kafka, receiver, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    sub = await csc.subscribe(receiver.url(f"/{csc.org}"))
    person = new_person()
    child = {"local_id": unique("c-")}
    enquiry = EnquiryOpened(enquiry_id=unique("s47-"), child=child, parents=[person], opened_on=date.today())
    await publish(kafka, enquiry, csc.org, subject=person.nhs_number)
    await social_care_facts_held(kafka, csc.org, person, "child_protection_enquiry")
    gone = EpisodeDisengaged(episode_id=unique("ep-"), person=person, last_contact_on=date.today())
    await publish(kafka, gone, provider.org)
    [alert] = await alerts_on(kafka, csc.org, "uk.isp.alert.treatment_disengaged.v1")
    assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "child_protection_enquiry"}
    assert alert["data"]["children"] == [child]
    await signed_webhook(receiver, f"/{csc.org}", sub["secret"], alert["id"])
    [record] = await audit_of(kafka, alert["id"])
    assert record["service_user_informed"] is False and record["not_informed_reason"] == "not yet told"

    # withheld: social care referred the parent, but there is no consent and no statutory ground
    other = new_person()
    referral = ReferralRequested(
        referral_id=unique("ref-"),
        direction="to_treatment",
        from_org=csc.org,
        to_org=provider.org,
        person=other,
        children=[{"local_id": unique("c-")}],
        rag="amber",
        summary="Parent misusing drugs",
    )
    await publish(kafka, referral, csc.org)
    await alerts_on(kafka, csc.org, WITHHELD, withheld_type="uk.isp.alert.referral_received.v1")  # withheld first
    await publish(
        kafka, EpisodeDisengaged(episode_id=unique("ep-"), person=other, last_contact_on=date.today()), provider.org
    )
    told = await wait_for(lambda: _withheld_of(kafka, provider.org, "uk.isp.alert.treatment_disengaged.v1"))
    [withheld] = await audit_of(kafka, told["data"]["withheld_alert_id"])
    assert withheld["decision"] == "withheld" and withheld["recipient"] == csc.org


async def _withheld_of(kafka, org_id: str, withheld_type: str) -> dict | None:
    told = await kafka.read_all(topics.alerts(org_id), of_type(WITHHELD, withheld_type=withheld_type))
    return json.loads(told[0].value) if told else None


# -- conference_invitation, answers, report overdue, cancellation ---------------------------


async def test_conference_invitation_end_to_end_with_answer_cancellation_and_withheld(suite, kafka, receiver, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    sub = await provider.dsl().subscribe(receiver.url(f"/{provider.org}"))  # all types, withheld ones too
    person = new_person()
    child = {"local_id": unique("c-")}
    plan = PlanStarted(
        plan_id=unique("cp-"),
        kind="child_protection",
        child=child,
        parents=[person],
        started_on=date.today() - timedelta(days=30),
    )
    await publish(kafka, plan, csc.org, subject=person.nhs_number)
    await social_care_facts_held(kafka, csc.org, person, "child_protection_plan")
    # issued Wed 1 April 2026, held Wed 8 April: Good Friday and Easter Monday leave 3 working days
    conference = ConferenceScheduled(
        conference_id=unique("conf-"),
        kind="review_child_protection",
        children=[child],
        parents=[person],
        scheduled_for=datetime(2026, 4, 8, 10, tzinfo=UTC),
        location="Room 2",
        issued_at=datetime(2026, 4, 1, 9, tzinfo=UTC),
        invitees=[provider.org],
    )
    await publish(kafka, conference, csc.org, subject=conference.conference_id)
    [alert] = await alerts_on(kafka, provider.org, "uk.isp.alert.conference_invitation.v1")
    data = alert["data"]
    assert (data["notice_working_days"], data["short_notice"], data["report_due"]) == (3, True, "2026-04-07")
    assert data["written_report_requested"] is True
    assert data["lawful_basis"] == {"kind": "statutory", "ground": "child_protection_conference"}
    await signed_webhook(receiver, f"/{provider.org}", sub["secret"], alert["id"])
    [record] = await audit_of(kafka, alert["id"])
    assert record["decision"] == "shared" and record["data_categories"] == ["conference"]

    answer = await provider.client.post(
        f"/v1/conferences/{conference.conference_id}/responses", json={"response": "cannot_attend"}
    )
    assert answer.status_code == 200 and answer.json()["report_requested"] is True
    not_invited = await csc.client.post(
        f"/v1/conferences/{conference.conference_id}/responses", json={"response": "attending"}
    )
    assert not_invited.status_code == 404

    await publish(
        kafka,
        ConferenceCancelled(conference_id=conference.conference_id, reason="rescheduled"),
        csc.org,
        subject=conference.conference_id,
    )
    [cancelled] = await alerts_on(kafka, provider.org, "uk.isp.alert.conference_cancelled.v1")
    hook = await signed_webhook(receiver, f"/{provider.org}", sub["secret"], cancelled["id"])
    assert hook["data"]["conference_id"] == conference.conference_id

    # withheld: a core group meeting (no conference ground) about a parent with no consent and no plan
    stranger = new_person()
    second = ConferenceScheduled.model_validate(
        {
            **conference.model_dump(mode="json"),
            "kind": "core_group",
            "conference_id": unique("conf-"),
            "parents": [stranger.model_dump(mode="json")],
            "children": [{"local_id": unique("c-")}],
        }
    )
    await publish(kafka, second, csc.org, subject=second.conference_id)
    told = await wait_for(lambda: _withheld_of(kafka, csc.org, "uk.isp.alert.conference_invitation.v1"))
    [withheld] = await audit_of(kafka, told["data"]["withheld_alert_id"])
    assert withheld["decision"] == "withheld" and withheld["recipient"] == provider.org


async def test_a_written_report_not_received_by_report_due_is_flagged_to_the_convener(suite, kafka, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    person = new_person()
    await consent(suite, kafka, person, csc.org, [provider.org], ["conference"])
    yesterday = datetime.now(UTC) - timedelta(days=1)
    conference = ConferenceScheduled(
        conference_id=unique("conf-"),
        kind="core_group",
        children=[{"local_id": unique("c-")}],
        parents=[person],
        scheduled_for=yesterday,
        location="Online",
        issued_at=yesterday - timedelta(days=20),
        invitees=[provider.org],
    )
    await publish(kafka, conference, csc.org, subject=conference.conference_id)
    await alerts_on(kafka, provider.org, "uk.isp.alert.conference_invitation.v1")
    answer = await provider.client.post(
        f"/v1/conferences/{conference.conference_id}/responses", json={"response": "written_report"}
    )
    assert answer.status_code == 200
    [flag] = await alerts_on(kafka, csc.org, "uk.isp.alert.report_overdue.v1")
    assert flag["data"]["invitee"] == provider.org and flag["data"]["conference_id"] == conference.conference_id


# -- register_cross_area -----------------------------------------------------------------------


async def test_register_cross_area_match_tells_both_dsls_only_the_fact(suite, kafka, receiver, partner):
    """Never withheld: the match is shared on statutory ground safeguarding_register_match
    (CONTRACT §6); the test checks it carries no person, notes or children."""
    a, b = partner("DSL", "dsl"), partner("DSL", "dsl")
    sub_a = await a.subscribe(receiver.url(f"/{a.org}"), types=["uk.isp.alert.register_cross_area.v1"])
    sub_b = await b.subscribe(receiver.url(f"/{b.org}"), types=["uk.isp.alert.register_cross_area.v1"])
    match = RegisterCrossAreaMatch(
        person_key=f"{random.getrandbits(256):064x}",
        entry_id=unique("e-"),
        org=a.org,
        category="child_concern",
        other_entry_id=unique("e-"),
        other_org=b.org,
        other_category="general_high_risk",
        matched_at=datetime.now(UTC),
    )
    await publish(kafka, match, a.org)
    [to_a] = await alerts_on(kafka, a.org, "uk.isp.alert.register_cross_area.v1")
    [to_b] = await alerts_on(kafka, b.org, "uk.isp.alert.register_cross_area.v1")
    assert to_a["data"]["entry_id"] == match.other_entry_id and to_a["data"]["own_entry_id"] == match.entry_id
    assert to_b["data"]["entry_id"] == match.entry_id and to_b["data"]["other_org"] == a.org
    for alert, org_, sub in ((to_a, a, sub_a), (to_b, b, sub_b)):
        assert "person" not in alert["data"] and "subject" not in alert
        assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "safeguarding_register_match"}
        await signed_webhook(receiver, f"/{org_.org}", sub["secret"], alert["id"])
        [record] = await audit_of(kafka, alert["id"])
        assert record["person"] is None and record["data_categories"] == ["register"]


# -- delivery: retries, replay, heartbeat, failing endpoint, URL rules ---------------------


async def test_three_failures_then_200_is_one_delivery_one_webhook_id_one_audit_record(suite, kafka, receiver, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    path = f"/{csc.org}/flaky"
    receiver.failures[path] = 3
    sub = await csc.subscribe(receiver.url(path), types=["uk.isp.alert.did_not_attend.v1"])
    person = new_person()
    await consent(suite, kafka, person, provider.org, [csc.org], ["attendance"])
    await publish(kafka, dna(csc.org, provider.org, person, datetime.now(UTC)), provider.org)
    [alert] = await alerts_on(kafka, csc.org, "uk.isp.alert.did_not_attend.v1")
    await signed_webhook(receiver, path, sub["secret"], alert["id"])
    # Nothing more may arrive: a second DNA about the same person, shared behind the first, is the
    # sentinel; once its webhook and its audit record are there, so is everything of the first.
    await publish(kafka, dna(csc.org, provider.org, person, datetime.now(UTC)), provider.org)
    [_, sentinel] = await alerts_on(kafka, csc.org, "uk.isp.alert.did_not_attend.v1", count=2)
    await signed_webhook(receiver, path, sub["secret"], sentinel["id"])
    tries = [t for t in receiver.at(path) if json.loads(t["body"]).get("id") == alert["id"]]
    assert [t["status"] for t in tries] == [500, 500, 500, 200]
    assert len({t["headers"]["webhook-id"] for t in tries}) == 1
    records = await kafka.collect_until(topics.AUDIT, about_alert(alert["id"]), about_alert(sentinel["id"]))
    assert [json.loads(r.value)["data"]["decision"] for r in records] == ["shared"]
    log = (await csc.client.get(f"/v1/subscriptions/{sub['id']}/attempts")).json()["items"]
    ours = [a["outcome"] for a in log if a["kind"] == "alert" and a["delivery_id"] == tries[0]["headers"]["webhook-id"]]
    assert sorted(ours) == ["delivered", "failed", "failed", "failed"]  # never the subscriber's answer


async def test_event_count_heartbeat_and_replay_after_a_gap(suite, kafka, receiver, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    path = f"/{csc.org}/replay"
    sub = await csc.subscribe(receiver.url(path))
    people = [new_person(), new_person()]
    for p in people:
        await consent(suite, kafka, p, provider.org, [csc.org], ["attendance"])
    for p in people:
        await publish(kafka, dna(csc.org, provider.org, p, datetime.now(UTC)), provider.org)
    alerts = await alerts_on(kafka, csc.org, "uk.isp.alert.did_not_attend.v1", count=2)
    numbers = set()
    for alert in alerts:
        numbers.add((await signed_webhook(receiver, path, sub["secret"], alert["id"]))["eventnumber"])
    assert numbers == {1, 2}
    replay = (await csc.client.get("/v1/alerts", params={"after": 1})).json()
    assert replay["event_count"] == 2 and [a["event_number"] for a in replay["items"]] == [2]

    def heartbeat():
        beats = [r for r in receiver.at(path) if json.loads(r["body"])["type"] == HEARTBEAT]
        return beats[-1] if beats else None

    beat = await wait_for(heartbeat, timeout=20)
    body = Webhook(sub["secret"]).verify(beat["body"], beat["headers"])
    assert body["data"]["events_since_start"] == 2


async def test_a_webhook_endpoint_failing_is_escalated_to_the_senders_dsl(suite, kafka, receiver, partner):
    csc, provider = partner("CSC"), partner("PRV", "provider")
    path = f"/{csc.org}/down"
    receiver.failures[path] = -1
    await csc.subscribe(receiver.url(path), types=["uk.isp.alert.did_not_attend.v1"])
    person = new_person()
    await consent(suite, kafka, person, provider.org, [csc.org], ["attendance"])
    await publish(kafka, dna(csc.org, provider.org, person, datetime.now(UTC)), provider.org)
    [alert] = await alerts_on(kafka, csc.org, "uk.isp.alert.did_not_attend.v1")
    [escalation] = await alerts_on(kafka, provider.org, ESCALATION)
    assert escalation["data"]["escalated_alert_id"] == alert["id"]
    assert escalation["data"]["last_error"] == "HTTP 500"


async def test_webhook_urls_are_validated_and_subscriptions_are_own_org(suite, partner):
    csc, other = partner("CSC"), partner("CSC")
    for url in ("ftp://127.0.0.1/x", "http://169.254.169.254/latest", "not a url"):
        response = await csc.client.post("/v1/subscriptions", json={"url": url, "types": ["*"]})
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    bad_type = await csc.client.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/x", "types": ["nope"]})
    assert bad_type.status_code == 422
    sub = await csc.subscribe("http://localhost:9/hook")
    assert sub["secret"].startswith("whsec_")
    assert (await other.client.delete(f"/v1/subscriptions/{sub['id']}")).status_code == 403
    assert (await csc.client.delete(f"/v1/subscriptions/{sub['id']}")).status_code == 204
    assert (await csc.client.get("/v1/subscriptions")).json() == {"items": []}
