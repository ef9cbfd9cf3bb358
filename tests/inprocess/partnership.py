"""Three services in one process: referrals, notifications and audit, each built by its own
bootstrap on an in-memory database and one shared FixedClock, joined by an InProcessBus.
A cross-service rule runs here in milliseconds; tests/e2e keeps what needs real processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from isp_audit.bootstrap import build as build_audit
from isp_audit.settings import Settings as AuditSettings
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FakeHttpClient, FixedClock, InProcessBus, auth_headers, unique
from isp_notifications.bootstrap import build as build_notifications
from isp_notifications.settings import Settings as NotificationsSettings
from isp_referrals.bootstrap import build as build_referrals
from isp_referrals.settings import Settings as ReferralsSettings
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent, EventData

MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CSC = "WSCC-CSC"
PROVIDER = "CGL-WSX"
IG = "WSX-IG"
RECEIVED = "uk.isp.alert.referral_received.v1"


@dataclass
class Partnership:
    """The running services, the bus between them, the clock they share and a way to call them."""

    referrals: ServiceRuntime
    notifications: ServiceRuntime
    audit: ServiceRuntime
    bus: InProcessBus
    clock: FixedClock
    key_dir: Path

    def client(self, runtime: ServiceRuntime, org: str, *roles: str) -> TestClient:
        """An API client for ``runtime``, signed in as ``org`` with ``roles``. Never ``with`` it:
        that would run the runtime's lifespan, which starts Kafka clients."""
        return TestClient(runtime.api, headers=auth_headers(self.key_dir, org, *roles))


def start_partnership(var_dir: Path) -> Partnership:
    """The three services on in-memory databases, keys under ``var_dir``, Monday morning."""
    clock = FixedClock(MONDAY_MORNING)
    shared = {"var_dir": var_dir, "handler_retry_delay": 0.0}
    referrals = build_referrals(ReferralsSettings(**shared), engine=make_engine("sqlite://"), clock=clock)
    notifications = build_notifications(
        NotificationsSettings(**shared), engine=make_engine("sqlite://"), clock=clock, http_client=FakeHttpClient()
    )
    audit = build_audit(AuditSettings(**shared), engine=make_engine("sqlite://"), clock=clock)
    bus = InProcessBus([referrals, notifications, audit])
    return Partnership(referrals, notifications, audit, bus, clock, referrals.settings.resolved_key_dir)


def event(partnership: Partnership, data: EventData, source: str) -> CloudEvent:
    """A partner's CloudEvent about ``data``, stamped with the partnership's clock."""
    return CloudEvent.create(type=data.event_type, source_org=source, data=data, time=partnership.clock.now())


async def give_consent(partnership: Partnership, nhs: str) -> str:
    """The provider records the parent's consent to share referral and attendance with anyone."""
    consent = ConsentGiven(
        consent_id=unique("con-"),
        person={"nhs_number": nhs},
        recorded_by=PROVIDER,
        recipients=["*"],
        purposes=["safeguarding"],
        data_categories=["referral", "attendance"],
        given_on=(partnership.clock.now() - timedelta(days=60)).date(),
    )
    await partnership.bus.publish(event(partnership, consent, PROVIDER), topics.CONSENT)
    return consent.consent_id


def disclosures(partnership: Partnership, nhs: str) -> list[dict[str, Any]]:
    """The audit trail of one person, read back through the audit API (newest first)."""
    ig = partnership.client(partnership.audit, IG, "partnership_ig")
    response = ig.get("/v1/disclosures", params={"person": nhs})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
