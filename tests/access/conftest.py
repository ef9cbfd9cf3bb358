"""Every service built in process (in-memory SQLite, fixed clock, no broker), each holding one
resource of organisation A made as its users make it: a referral, a register entry, an alert, a
withheld alert, a subscription, an audit record.

A :class:`World` knows, per route, the path parameters to fill in and whose resource they name,
and a plausible body, so the matrix can call any route as anyone."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FakeHttpClient, FixedClock, InProcessBus, bearer, nhs_number
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent, EventData
from isp_schemas.examples import EXAMPLES
from isp_schemas.people import Person
from isp_schemas.referrals import ReferralAssessmentMissed

from .rules import RECEIVER, SENDER, Rule

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CSC, PROVIDER, OTHER = "WSCC-CSC", "CGL-WSX", "OTHER-ORG"
"""Organisation A is CSC or PROVIDER (whichever owns the resource); OTHER owns nothing anywhere."""
PAGE_FORM = "application/x-www-form-urlencoded"
MISSED = "uk.isp.treatment.appointment.missed.v1"


class FakeProducer:
    """Acknowledges every send at once (the gateway answers 202 only after the broker's ack)."""

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Any:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


@dataclass
class World:
    """One service, built, with organisation A's resources in it."""

    name: str
    runtime: ServiceRuntime
    client: TestClient
    default_org: str
    params: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    """path parameter -> the organisation owning the resource it names (absent: nobody's)"""
    by_path: dict[str, dict[str, str]] = field(default_factory=dict)
    """route path -> parameters that differ from :attr:`params` for that route"""
    bodies: dict[tuple[str, str], Any] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    """what another organisation must never see (the NHS numbers of A's people)"""
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    sender: str = PROVIDER
    receiver: str = CSC
    """a referral's parties (the referrals service)"""

    def path_params(self, path: str) -> dict[str, str]:
        given = {**self.params, **self.by_path.get(path, {})}
        return {name: given.get(name, "none-such-1") for name in _names(path)}

    def owner(self, path: str, scope: str) -> str:
        """The organisation that may act on this route's resource, for a role of ``scope``."""
        if scope == SENDER:
            return self.sender
        if scope == RECEIVER:
            return self.receiver
        return next((self.owners[n] for n in _names(path) if n in self.owners), self.default_org)

    def token(self, org: str, role: str) -> str:
        if (org, role) not in self.tokens:
            self.tokens[org, role] = bearer(self.runtime.settings.resolved_key_dir, org, role)
        return self.tokens[org, role]

    def call(self, method: str, path: str, rule: Rule, who: tuple[str, str] | None) -> Any:
        """Call ``method path`` (its parameters filled in) as ``who`` (org, role), or with no token."""
        url = path.format(**self.path_params(path))
        headers: dict[str, str] = {}
        if who is not None:
            token = self.token(*who)
            if rule.page:
                headers["cookie"] = f"{self.runtime.api.state.page_set.cookie}={token}"
            else:
                headers["authorization"] = f"Bearer {token}"
        body = self.bodies.get((method, path))
        if rule.page and method == "POST":
            return self.client.request(method, url, data=body or {}, headers=headers)
        if method in ("POST", "PUT", "PATCH"):
            content = body if isinstance(body, bytes) else json.dumps({} if body is None else body).encode()
            headers["content-type"] = "application/cloudevents+json" if path == "/v1/events" else "application/json"
            return self.client.request(method, url, content=content, headers=headers)
        return self.client.request(method, url, headers=headers)


def _names(path: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", path)


def _build(name: str, tmp: Path, **collaborators: Any) -> tuple[ServiceRuntime, TestClient]:
    bootstrap = importlib.import_module(f"isp_{name}.bootstrap")
    settings = importlib.import_module(f"isp_{name}.settings")
    runtime: ServiceRuntime = bootstrap.build(
        settings.Settings(var_dir=tmp), engine=make_engine("sqlite://"), clock=FixedClock(NOW), **collaborators
    )
    return runtime, TestClient(runtime.api, raise_server_exceptions=False, follow_redirects=False)


def _referrals(tmp: Path) -> World:
    from isp_referrals import shares
    from isp_referrals.tables import Referral
    from isp_schemas.audit import DisclosureRecorded

    runtime, client = _build("referrals", tmp)
    person = nhs_number(101)
    world = World("referrals", runtime, client, PROVIDER, secrets={person})
    requested = EXAMPLES["uk.isp.referral.requested.v1"]  # the provider refers a parent to social care
    new = {**requested, "referral_id": "ref-access-new", "person": {"nhs_number": nhs_number(102)}}
    made = client.post(
        "/v1/referrals",
        json={**new, "referral_id": "ref-access-a", "person": {"nhs_number": person}},
        headers={"authorization": f"Bearer {world.token(PROVIDER, 'provider')}"},
    )
    assert made.status_code == 201, made.text
    referral_id = made.json()["id"]
    with runtime.uow() as uow:  # shared in full with the receiver, as notifications decides
        referral = uow.session.get(Referral, referral_id)
        assert referral is not None
        data = DisclosureRecorded.model_validate(
            {
                **EXAMPLES[DisclosureRecorded.event_type],
                "alert_id": "alert-access-ref",
                "alert_type": "uk.isp.alert.referral_received.v1",
                "decision": "shared",
                "discloser": PROVIDER,
                "recipient": CSC,
                "person": person,
                "data_categories": ["referral", "risk"],
                "source_event_id": referral.source_event_id,
                "shared_at": NOW,
            }
        )
        event = CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data, subject=person)
        shares.disclosure_recorded(uow, event, data)
        uow.commit()
    world.params["referral_id"] = referral_id
    ref = "/v1/referrals/{referral_id}"
    world.bodies = {
        ("POST", "/v1/referrals"): new,
        ("POST", f"{ref}/amend"): {"summary": "Amended reason"},
        ("PATCH", ref): {"summary": "Amended reason"},
        ("POST", f"{ref}/cancel"): {"reason": "withdrawn"},
        ("POST", f"{ref}/accept"): {"rag": "amber"},
        ("POST", f"{ref}/decline"): {"reason": "not for us"},
        ("POST", f"{ref}/allocate"): {"practitioner": "worker-1"},
        ("POST", f"{ref}/joint-visit"): {"scheduled_for": (NOW + timedelta(days=2)).isoformat()},
        ("POST", f"{ref}/close"): {"outcome": "completed"},
    }
    return world


def _register(tmp: Path) -> World:
    runtime, client = _build("register", tmp)
    person = nhs_number(201)
    world = World("register", runtime, client, PROVIDER, secrets={person})
    opened = client.post(
        "/v1/register/entries",
        json={"person": {"nhs_number": person}, "category": "child_concern", "risk": "high"},
        headers={"authorization": f"Bearer {world.token(PROVIDER, 'dsl')}"},
    )
    assert opened.status_code == 201, opened.text
    world.params["entry_id"] = opened.json()["id"]
    world.owners["entry_id"] = PROVIDER
    entry, page = "/v1/register/entries/{entry_id}", "/register/entries/{entry_id}"
    world.bodies = {
        ("POST", "/v1/register/entries"): {
            "person": {"nhs_number": nhs_number(202)},
            "category": "general_high_risk",
            "risk": "low",
        },
        ("POST", f"{entry}/reviews"): {"notes": "Reviewed"},
        ("PATCH", entry): {"risk": "medium"},
        ("POST", f"{entry}/close"): {"reason": "Moved away"},
        ("POST", f"{entry}/matches/{{match_id}}/contacts"): {"notes": "Rang their DSL"},
        ("POST", "/v1/register/weekly-reviews"): {"notes": "Weekly review"},
        ("POST", "/register/weekly-reviews"): {"notes": "Weekly review"},
        ("POST", "/register/entries/new"): {"nhs_number": nhs_number(203), "category": "child_concern", "risk": "low"},
        ("POST", f"{page}/update"): {"risk": "medium", "notes": "Changed"},
        ("POST", f"{page}/close"): {"reason": "Moved away"},
        ("POST", f"{page}/reviews"): {"notes": "Reviewed"},
        ("POST", f"{page}/matches/{{match_id}}/contacts"): {"notes": "Rang their DSL"},
    }
    return world


def _publish(bus: InProcessBus, data: EventData, source: str) -> None:
    event = CloudEvent.create(type=data.event_type, source_org=source, data=data, time=NOW)
    asyncio.run(bus.publish(event, data.topic))


def _notifications(tmp: Path) -> World:
    from isp_schemas import topics

    runtime, client = _build("notifications", tmp, http_client=FakeHttpClient())
    shared, withheld = Person(nhs_number=nhs_number(301)), Person(nhs_number=nhs_number(302))
    world = World("notifications", runtime, client, CSC, secrets={shared.nhs_number, withheld.nhs_number})
    bus = InProcessBus([runtime])
    consent = ConsentGiven(
        consent_id="con-access",
        person=shared,
        recorded_by=PROVIDER,
        recipients=[CSC],
        purposes=["safeguarding"],
        data_categories=["attendance"],
        given_on=date(2026, 1, 1),
    )
    _publish(bus, consent, PROVIDER)
    for person, referral_id in ((shared, "ref-access-1"), (withheld, "ref-access-2")):
        at = NOW - timedelta(hours=1)
        missed = ReferralAssessmentMissed(
            referral_id=referral_id,
            direction="to_treatment",
            from_org=CSC,
            to_org=PROVIDER,
            person=person,
            at=at,
            appointment_id=f"apt-{referral_id}",
            scheduled_for=at,
            recorded_at=at,
        )
        _publish(bus, missed, CSC)  # unsigned, so from the organisation its from_org names
    [dna] = bus.events(topics.alerts(CSC), "uk.isp.alert.did_not_attend.v1")
    [notice] = bus.events(topics.alerts(PROVIDER), "uk.isp.alert.disclosure_withheld.v1")
    subscribed = client.post(
        "/v1/subscriptions",
        json={"url": "http://localhost:9/hook", "types": ["uk.isp.alert.did_not_attend.v1"]},
        headers={"authorization": f"Bearer {world.token(CSC, 'social_care')}"},
    )
    assert subscribed.status_code == 201, subscribed.text
    world.params.update(
        alert_id=dna["data"]["alert_id"], subscription_id=subscribed.json()["id"], org=CSC, consent_id="con-access"
    )
    world.owners.update(alert_id=CSC, subscription_id=CSC, consent_id=PROVIDER, conference_id=CSC)
    world.by_path["/v1/withheld/{alert_id}/release"] = {"alert_id": notice["data"]["withheld_alert_id"]}
    world.bodies = {
        ("POST", "/v1/subscriptions"): {"url": "http://localhost:9/other", "types": ["*"]},
        ("POST", "/v1/conferences/{conference_id}/responses"): {"response": "attending"},
        ("POST", "/v1/informing"): {"nhs_number": shared.nhs_number, "informed": True},
        ("PUT", "/v1/directory/{org}"): {
            "name": "West Sussex children's social care",
            "kind": "children_social_care",
            "dsl_contact": "dsl@example.test",
        },
        ("POST", "/v1/withheld/{alert_id}/release"): {"reason": "Child at risk", "service_user_informed": True},
    }
    return world


def _audit(tmp: Path) -> World:
    from isp_audit.handlers import append_disclosure
    from isp_schemas.audit import DisclosureRecorded

    runtime, client = _build("audit", tmp)
    runtime.producer = FakeProducer()  # type: ignore[assignment]  # dead letters are replayed through it
    person = nhs_number(401)
    world = World("audit", runtime, client, CSC, secrets={person})
    share = DisclosureRecorded.model_validate(
        {
            **EXAMPLES[DisclosureRecorded.event_type],
            "alert_id": "alert-access-audit",
            "discloser": CSC,
            "recipient": PROVIDER,
            "person": person,
            "shared_at": NOW - timedelta(hours=1),
        }
    )
    with runtime.uow() as uow:
        append_disclosure(uow, share, NOW)
        uow.commit()
    listed = client.get(
        "/v1/disclosures", headers={"authorization": f"Bearer {world.token('ISP-IG', 'partnership_ig')}"}
    )
    [record] = listed.json()["items"]
    world.params["record_id"] = record["id"]
    world.owners["record_id"] = CSC
    world.bodies[("POST", "/v1/deadletters/replay")] = {"id": "none-such-1"}
    world.bodies[("POST", "/ig/verify")] = {"record": json.dumps(record)}
    return world


def _gateway(tmp: Path) -> World:
    runtime, client = _build("gateway", tmp)
    runtime.producer = FakeProducer()  # type: ignore[assignment]  # stands in for aiokafka's producer
    world = World("gateway", runtime, client, PROVIDER)
    event = CloudEvent.create(MISSED, PROVIDER, EXAMPLES[MISSED])
    world.bodies[("POST", "/v1/events")] = event.to_json_bytes()
    return world


BUILDERS = {
    "referrals": _referrals,
    "register": _register,
    "notifications": _notifications,
    "audit": _audit,
    "gateway": _gateway,
}


@pytest.fixture(scope="session")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, World]]:
    built: dict[str, World] = {}
    try:
        for name, make in BUILDERS.items():
            built[name] = make(tmp_path_factory.mktemp(f"access-{name}"))
        yield built
    finally:
        for world in built.values():
            world.client.close()
            world.runtime.engine.dispose()
