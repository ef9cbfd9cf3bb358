"""Ingest is idempotent and gap-free; the table is append-only; erasure keeps the chain whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from isp_audit import guard
from isp_audit.handlers import append_disclosure
from isp_audit.retention import erase_before
from isp_audit.tables import DisclosureRecord, Erasure
from isp_audit.testing import START, disclosure, engine_with
from isp_audit.verify import verify
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select


def test_the_same_share_twice_is_stored_once_and_receipt_is_its_own_record():
    engine = engine_with(0)
    share = disclosure()
    with Session(engine) as session:
        assert append_disclosure(session, share) is not None
        session.flush()
        assert append_disclosure(session, share) is None
        received = disclosure(alert_id=share.alert_id, decision="received", channel="api")
        assert append_disclosure(session, received) is not None
        session.commit()
        rows = session.exec(select(DisclosureRecord).order_by(DisclosureRecord.seq)).all()
    assert [(r.seq, r.decision) for r in rows] == [(1, "shared"), (2, "received")]
    assert rows[1].prev_hash == rows[0].hash
    assert verify(engine, [], None).ok


def test_times_are_stored_as_utc_text():
    engine = engine_with(0)
    with Session(engine) as session:
        record = append_disclosure(session, disclosure(shared_at="2025-07-01T10:00:00+01:00"))
        assert record.shared_at == "2025-07-01T09:00:00.000000Z"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_disclosure SET recipient = 'X-ORG' WHERE seq = 2",
        "UPDATE audit_disclosure SET person = NULL WHERE seq = 2",
        "DELETE FROM audit_disclosure WHERE seq = 2",
    ],
)
def test_sqlite_refuses_update_and_delete(statement):
    engine = engine_with(3)
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))


def test_the_application_refuses_to_change_a_record():
    engine = engine_with(2)
    with Session(engine) as session:
        record = session.get(DisclosureRecord, 1)
        record.purpose = "changed"
        with pytest.raises(guard.AppendOnlyViolation):
            session.flush()


def _erase_and_check(engine):
    with Session(engine, expire_on_commit=False) as session:
        erasure = erase_before(session, START + timedelta(hours=3), by="retention-policy")
        session.commit()
    assert erasure.records == 3 and (erasure.first_seq, erasure.last_seq) == (1, 3)
    with Session(engine) as session:
        rows = session.exec(select(DisclosureRecord).order_by(DisclosureRecord.seq)).all()
        assert session.get(Erasure, erasure.id) is not None
    assert all(r.person is None and r.children is None and r.personal_salt is None for r in rows[:3])
    assert all(r.erasure_id == erasure.id for r in rows[:3]) and rows[3].person is not None
    assert verify(engine, [], None).ok


def test_erasing_personal_fields_keeps_the_chain_verifying():
    _erase_and_check(engine_with(6))


def test_putting_personal_data_back_after_erasure_is_caught():
    engine = engine_with(4)
    with Session(engine) as session:
        erase_before(session, START + timedelta(hours=1), by="retention-policy")
        session.commit()
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_disclosure_erase_only"))
        conn.execute(text("UPDATE audit_disclosure SET person = '9434765919' WHERE seq = 1"))
    assert verify(engine, [], None).first_bad_seq == 1


@pytest.mark.integration
def test_postgresql_ingests_verifies_erases_and_refuses_changes(postgres_url):
    engine = engine_with(6, url=postgres_url)
    guard.install_triggers(engine)  # idempotent: a second start
    assert verify(engine, [], None).ok
    for statement in (
        "UPDATE audit_disclosure SET recipient = 'X-ORG' WHERE seq = 2",
        "DELETE FROM audit_disclosure WHERE seq = 2",
        "TRUNCATE audit_disclosure",
    ):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    _erase_and_check(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_disclosure_append_only ON audit_disclosure"))
        conn.execute(text("UPDATE audit_disclosure SET purpose = 'other' WHERE seq = 5"))
    assert verify(engine, [], None).first_bad_seq == 5
    engine.dispose()


def test_nothing_is_erased_before_the_retention_period():
    engine = engine_with(2)
    with Session(engine) as session:
        assert erase_before(session, datetime(2020, 1, 1, tzinfo=UTC), by="x") is None
