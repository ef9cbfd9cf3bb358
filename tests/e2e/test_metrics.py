"""Prometheus metrics (issue 14): after an end-to-end flow (consent, a referral over HTTP, its
booking and a missed appointment, the DNA alert by webhook, its missed deadline, a verification of
the audit chain) every service's ``GET /metrics`` is scraped and each metric checked; and the
alert rules and Grafana dashboard in ``deploy/`` use only metrics the services export.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from isp_audit.bootstrap import build as build_audit
from isp_audit.settings import Settings as AuditSettings
from isp_common.db import make_engine
from isp_common.testing import FakeHttpClient, WebhookReceiver, fresh_nhs_number, unique, wait_for, wait_for_consent
from isp_notifications.bootstrap import build as build_notifications
from isp_notifications.settings import Settings as NotificationsSettings
from isp_referrals.bootstrap import build as build_referrals
from isp_referrals.settings import Settings as ReferralsSettings
from isp_register.bootstrap import build as build_register
from isp_register.settings import Settings as RegisterSettings
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralAssessmentMissed
from isp_schemas.treatment import AppointmentBooked, AppointmentMissed
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "isp-dashboard.json"
SERVICES = ("referrals", "register", "notifications", "audit")
DNA = "uk.isp.alert.did_not_attend.v1"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> tuple[set[str], Samples]:
    """The metric names an exposition offers (every sample name its families' types allow) and its samples."""
    names: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        for s in family.samples:
            names.add(s.name)
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return names, samples


def used_metric_names() -> set[str]:
    """Every ``isp_*`` metric the rules and the dashboard query."""
    rules = yaml.safe_load(RULES.read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return {name for expr in exprs for name in re.findall(r"\bisp_[a-z0-9_]+", expr)}


def values(samples: Samples, name: str, **labels: str) -> list[float]:
    return [v for found, v in samples.get(name, []) if all(found.get(k) == x for k, x in labels.items())]


def test_the_rules_and_the_dashboard_use_only_metrics_the_services_export(tmp_path):
    """The four services built in-process (no broker): the names /metrics offers before anything happens."""
    shared = {"var_dir": tmp_path, "handler_retry_delay": 0.0}
    runtimes = [
        build_referrals(ReferralsSettings(**shared), engine=make_engine("sqlite://")),
        build_register(RegisterSettings(**shared), engine=make_engine("sqlite://")),
        build_notifications(
            NotificationsSettings(**shared), engine=make_engine("sqlite://"), http_client=FakeHttpClient()
        ),
        build_audit(AuditSettings(**shared), engine=make_engine("sqlite://")),
    ]
    exported: set[str] = set()
    for runtime in runtimes:
        scraped = TestClient(runtime.api).get("/metrics")  # never `with`: no lifespan, no Kafka
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        names, samples = parse(scraped.text)
        exported |= names
        assert values(samples, "isp_outbox_depth", service=runtime.name) == [0.0]
    rules = yaml.safe_load(RULES.read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"IspConsumerLagGrowing", "IspOutboxStuck", "IspDeadlineMissed", "IspAuditVerifyFailed"} <= alerts
    used = used_metric_names()
    assert used and used <= exported, f"not exported: {sorted(used - exported)}"
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert sorted(t.split(":")[1] for t in targets) == ["8001", "8002", "8003", "8004"]


# -- after an end-to-end flow -----------------------------------------------------------------


async def scrape(suite, service: str) -> tuple[str, set[str], Samples]:
    async with httpx.AsyncClient(base_url=suite.url(service)) as client:  # no token: /metrics needs none
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return (response.text, *parse(response.text))


async def until(suite, service: str, check, timeout: float = 90) -> Samples:
    """The service's samples once ``check(samples)`` holds (metrics move as the flow settles)."""

    async def scraped():
        _text, _names, samples = await scrape(suite, service)
        return samples if check(samples) else None

    try:
        found: Samples = await wait_for(scraped, timeout=timeout, interval=0.5)
    except AssertionError:
        _text, _names, last = await scrape(suite, service)
        raise AssertionError(f"{service}: condition not met; last scrape {last}") from None
    return found


@pytest.mark.e2e
async def test_every_metric_is_exported_with_sensible_values_after_a_flow(suite, kafka, headers_for, add_organisation):
    csc, provider = unique("CSC-").upper(), unique("PRV-").upper()
    add_organisation(csc, "children_social_care")
    add_organisation(provider, "treatment_provider")
    with WebhookReceiver() as receiver:
        await flow(suite, kafka, headers_for, add_organisation, csc, provider, receiver)


async def flow(suite, kafka, headers_for, add_organisation, csc: str, provider: str, receiver: WebhookReceiver) -> None:
    nhs = fresh_nhs_number()
    async with httpx.AsyncClient(base_url=suite.url("notifications"), headers=headers_for(csc, "social_care")) as n:
        subscribed = await n.post("/v1/subscriptions", json={"url": receiver.url(f"/{csc}"), "types": [DNA]})
        assert subscribed.status_code == 201, subscribed.text
    consent = ConsentGiven(
        consent_id=unique("con-"),
        person={"nhs_number": nhs},
        recorded_by=provider,
        recipients=["*"],
        purposes=["safeguarding"],
        data_categories=["referral", "attendance"],
        given_on=(datetime.now(UTC) - timedelta(days=60)).date(),
    )
    await kafka.send_event(
        topics.CONSENT, CloudEvent.create(type=consent.event_type, source_org=provider, data=consent)
    )
    await wait_for_consent(suite, provider, consent.consent_id)
    referral = {
        "referral_id": unique("ref-"),
        "direction": "to_treatment",
        "from_org": csc,
        "to_org": provider,
        "person": {"nhs_number": nhs},
        "children": [{"local_id": unique("C-")}],
        "rag": "amber",
        "summary": "Parent misusing alcohol",
        "parent_agreed": True,
        "concerns": ["alcohol"],
        "history": "Known to CSC since 2024",
        "known_to_treatment": False,
        "consent_id": consent.consent_id,
    }
    async with httpx.AsyncClient(base_url=suite.url("referrals"), headers=headers_for(csc, "social_care")) as r:
        created = await r.post("/v1/referrals", json=referral)
        assert created.status_code == 201, created.text
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)  # its 24-hour deadline has passed
    appointment = unique("apt-")
    booked = AppointmentBooked(
        appointment_id=appointment,
        person={"nhs_number": nhs},
        scheduled_for=long_ago,
        kind="assessment",
        referral_id=referral["referral_id"],
    )
    missed = AppointmentMissed(
        appointment_id=appointment, person={"nhs_number": nhs}, scheduled_for=long_ago, recorded_at=long_ago
    )
    for data in (booked, missed):
        await kafka.send_event(
            topics.TREATMENT, CloudEvent.create(type=data.event_type, source_org=provider, data=data)
        )

    # a second DNA, to social care with no webhook and unacknowledged, past its deadline: escalated
    unsubscribed = unique("CSC-").upper()
    add_organisation(unsubscribed, "children_social_care")
    missed_elsewhere = ReferralAssessmentMissed(
        referral_id=unique("ref-"),
        direction="to_treatment",
        from_org=unsubscribed,
        to_org=provider,
        person={"nhs_number": nhs},
        at=long_ago,
        appointment_id=unique("apt-"),
        scheduled_for=long_ago,
        recorded_at=long_ago,
    )
    await kafka.send_event(
        topics.REFERRALS,
        CloudEvent.create(type=missed_elsewhere.event_type, source_org=provider, data=missed_elsewhere),
    )
    await wait_for(lambda: [h for h in receiver.at(f"/{csc}") if h["status"] == 200] or None, timeout=90)
    async with httpx.AsyncClient(base_url=suite.url("audit"), headers=headers_for("WSX-IG", "partnership_ig")) as ig:
        verified = await ig.get("/v1/verify")
        assert verified.status_code == 200 and verified.json()["ok"], verified.text

    notifications = await until(
        suite,
        "notifications",
        lambda s: (
            sum(values(s, "isp_webhook_attempts_total", result="delivered", type="alert")) >= 1
            and sum(values(s, "isp_deadlines_missed_total", type=DNA)) >= 1
            and values(s, "isp_consumer_lag", topic=topics.TREATMENT)
        ),
    )
    assert sum(values(notifications, "isp_decisions_total", basis="consent", outcome="shared")) >= 1
    assert sum(values(notifications, "isp_events_consumed_total", topic=topics.REFERRALS, outcome="handled")) >= 2
    batches = values(notifications, "isp_consumer_batch_events_count", topic=topics.REFERRALS)
    batched = values(notifications, "isp_consumer_batch_events_sum", topic=topics.REFERRALS)
    consumed = values(notifications, "isp_events_consumed_total", topic=topics.REFERRALS)
    assert batches and batches[0] >= 1 and batched[0] >= sum(consumed) >= 2  # every event counted is in a batch
    assert all(v >= 0 for v in values(notifications, "isp_consumer_lag"))
    assert all(labels["partition"].isdigit() for labels, _v in notifications["isp_consumer_lag"])
    assert values(notifications, "isp_alerts_past_deadline", type=DNA)  # the gauge is there (acknowledged or not)

    audit = await until(suite, "audit", lambda s: sum(values(s, "isp_events_consumed_total", outcome="handled")) >= 1)
    assert values(audit, "isp_audit_chain_length")[0] >= 1
    assert values(audit, "isp_audit_verify_ok") == [1.0]
    assert sum(values(audit, "isp_audit_verify_duration_seconds_count", result="ok")) >= 1

    scrapes = [await scrape(suite, service) for service in SERVICES]
    for service, (text, _names, samples) in zip(SERVICES, scrapes, strict=True):
        assert nhs not in text and "alcohol" not in text  # no personal data, no free text
        assert values(samples, "isp_outbox_depth", service=service)[0] >= 0
        assert 0 <= values(samples, "isp_outbox_oldest_age_seconds", service=service)[0] < 600
        assert values(samples, "isp_outbox_given_up_total", service=service) == [0.0]
        published = values(samples, "isp_outbox_published_total", service=service)[0]
        assert published >= (1 if service in ("referrals", "notifications") else 0)
    referrals = scrapes[0][2]
    assert sum(values(referrals, "isp_events_consumed_total", topic=topics.TREATMENT, outcome="handled")) >= 2
    assert used_metric_names() <= {name for _t, names, _s in scrapes for name in names}
    labels = {
        label for _t, _n, samples in scrapes for found in samples.values() for labels, _v in found for label in labels
    }
    assert labels <= {"service", "topic", "partition", "type", "outcome", "basis", "result", "le"}, sorted(labels)
