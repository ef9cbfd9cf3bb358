"""The nightly jobs through ``jobs.run_nightly`` with a real unit of work on SQLite:
reconciliation alerts partnership IG through the outbox; retention erases expired records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from isp_audit import jobs
from isp_audit.context import nightly_policy
from isp_audit.handlers import alert_delivered
from isp_audit.settings import Settings
from isp_audit.tables import DisclosureRecord, Erasure, ReconciliationRun
from isp_audit.verify import verify
from isp_common.db import UnitOfWork
from isp_common.tables import OutboxMessage
from isp_schemas import topics
from isp_schemas.alerts import DidNotAttendAlert, ReconciliationMismatchAlert
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from sqlmodel import Session, select

from ..kit import START, disclosure, engine_with, record

IG_ORG, PROVIDER, CSC = "ISP-IG", "CGL-WSX", "WSCC-CSC"
DELIVERED = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
NIGHT = datetime(2025, 11, 4, 3, 0, tzinfo=UTC)  # 03:00 in London (GMT), after nightly_hour 2


@pytest.fixture
def settings(tmp_path):
    return Settings(var_dir=tmp_path, database_url="sqlite://", partnership_ig_org=IG_ORG)


def run_nightly(engine, settings: Settings, now: datetime, force: bool = False) -> bool:
    return jobs.run_nightly(lambda: UnitOfWork(engine), nightly_policy(settings), now, force=force)


def deliver(engine, alert_id: str, recipient: str = CSC) -> None:
    """The alerts ledger saw a did-not-attend alert (lawful basis: statutory) on ``recipient``'s topic."""
    data = DidNotAttendAlert.model_validate(
        {**EXAMPLES[DidNotAttendAlert.event_type], "alert_id": alert_id, "sender_org": PROVIDER}
    )
    event = CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data, time=DELIVERED)
    with UnitOfWork(engine) as uow:
        assert alert_delivered(uow, topics.alerts(recipient), event, now=DELIVERED)
        uow.commit()


def record_share(engine, alert_id: str, recipient: str = CSC) -> None:
    record(
        engine, disclosure(alert_id=alert_id, discloser=PROVIDER, recipient=recipient, shared_at=DELIVERED), DELIVERED
    )


def outbox(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def runs(engine) -> list[ReconciliationRun]:
    with Session(engine) as session:
        return list(session.exec(select(ReconciliationRun)))


def test_a_delivered_alert_without_a_shared_record_alerts_partnership_ig_once_a_night(settings):
    engine = engine_with(0)
    deliver(engine, "alert-recorded")
    record_share(engine, "alert-recorded")
    deliver(engine, "alert-never-recorded")

    assert run_nightly(engine, settings, NIGHT) is True

    (message,) = outbox(engine)
    assert message.topic == topics.alerts(IG_ORG) == "isp.alerts.ISP-IG.v1"
    assert message.event_type == ReconciliationMismatchAlert.event_type == "uk.isp.alert.reconciliation_mismatch.v1"
    event = CloudEvent.from_json_bytes(message.value)
    alert = ReconciliationMismatchAlert.model_validate(event.data)
    assert (alert.check, alert.reference, alert.sender_org) == (
        "shared_alert_has_no_record",
        "alert-never-recorded",
        IG_ORG,
    )
    assert CSC in alert.detail and message.key == alert.alert_id == event.id
    (run,) = runs(engine)
    assert (run.run_on, run.alerts, run.records, run.mismatches) == ("2025-11-04", 2, 1, 1)

    # the same night again: nothing new; forced, the alert id repeats (consumers drop the duplicate)
    assert run_nightly(engine, settings, NIGHT + timedelta(hours=5)) is False
    assert len(outbox(engine)) == 1
    assert run_nightly(engine, settings, NIGHT + timedelta(hours=6), force=True)
    assert [m.event_id for m in outbox(engine)] == [message.event_id] * 2


def test_a_shared_record_whose_alert_was_never_delivered_is_a_mismatch_too(settings):
    engine = engine_with(0)
    record_share(engine, "alert-not-delivered")
    assert run_nightly(engine, settings, NIGHT)
    (message,) = outbox(engine)
    alert = ReconciliationMismatchAlert.model_validate(CloudEvent.from_json_bytes(message.value).data)
    assert (message.topic, alert.check, alert.reference) == (
        topics.alerts(IG_ORG),
        "record_has_no_alert",
        "alert-not-delivered",
    )


def test_when_everything_reconciles_no_alert_is_written_and_the_run_is_recorded(settings):
    engine = engine_with(0)
    for alert_id in ("alert-a", "alert-b"):
        deliver(engine, alert_id)
        record_share(engine, alert_id)
    assert run_nightly(engine, settings, NIGHT) is True
    assert outbox(engine) == []
    (run,) = runs(engine)
    assert (run.alerts, run.records, run.mismatches) == (2, 2, 0)


def test_nothing_runs_before_the_nightly_hour_in_london(settings):
    engine = engine_with(0)
    deliver(engine, "alert-never-recorded")
    early = datetime(2025, 7, 1, 0, 30, tzinfo=UTC)  # 01:30 in London (BST)
    assert run_nightly(engine, settings, early) is False
    assert outbox(engine) == [] and runs(engine) == []


def test_a_run_after_midnight_in_london_counts_for_that_london_night(settings):
    """At 00:30 BST (23:30 UTC the day before) with nightly_hour 0 the run is that London night's,
    so the next poll does not run it again."""
    engine = engine_with(0)
    deliver(engine, "alert-never-recorded", recipient=CSC)
    early = settings.model_copy(update={"nightly_hour": 0})
    at = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    assert run_nightly(engine, early, at) is True
    assert [r.run_on for r in runs(engine)] == ["2026-07-02"]
    assert run_nightly(engine, early, at + timedelta(minutes=1)) is False
    assert len(outbox(engine)) == 1


def test_the_nightly_run_erases_personal_fields_past_retention_and_the_chain_still_verifies(settings):
    engine = engine_with(4)  # shared at START + 0h, 1h, 2h, 3h
    keep_30_days = settings.model_copy(update={"retention_days": 30})
    now = START + timedelta(days=30, hours=1, minutes=30)  # records older than START + 1h30 are due
    assert run_nightly(engine, keep_30_days, now) is True
    with Session(engine) as session:
        records = list(session.exec(select(DisclosureRecord).order_by(DisclosureRecord.seq)))
        (erasure,) = session.exec(select(Erasure)).all()
    assert (erasure.by, erasure.records, erasure.first_seq, erasure.last_seq) == ("retention-policy", 2, 1, 2)
    assert [r.person is None for r in records] == [True, True, False, False]
    assert all(r.personal_salt is None and r.children is None and r.erasure_id == erasure.id for r in records[:2])
    assert verify(engine, [], None, min_retention_days=30).ok
