"""Ingest is idempotent and gap-free; the table is append-only; erasure keeps the chain whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from isp_audit.handlers import append_disclosure
from isp_audit.retention import erase_before
from isp_audit.tables import DisclosureRecord
from isp_audit.verify import verify
from isp_common.db import UnitOfWork
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from ..kit import LATER, NOW, START, disclosure, engine_with, erase_and_check


def test_the_same_share_twice_is_stored_once_and_receipt_is_its_own_record():
    engine = engine_with(0)
    share = disclosure()
    with UnitOfWork(engine) as uow:
        assert append_disclosure(uow, share, NOW) is not None
        uow.session.flush()
        assert append_disclosure(uow, share, NOW) is None
        received = disclosure(alert_id=share.alert_id, decision="received", channel="api")
        assert append_disclosure(uow, received, NOW) is not None
        uow.commit()
        rows = uow.session.exec(select(DisclosureRecord).order_by(DisclosureRecord.seq)).all()
        assert [(r.seq, r.decision) for r in rows] == [(1, "shared"), (2, "received")]
        assert rows[1].prev_hash == rows[0].hash
    assert verify(engine, [], None).ok


def test_times_are_stored_as_utc_text():
    engine = engine_with(0)
    with UnitOfWork(engine) as uow:
        record = append_disclosure(uow, disclosure(shared_at="2025-07-01T10:00:00+01:00"), NOW)
        assert record is not None
        assert record.shared_at == "2025-07-01T09:00:00.000000Z"
        assert record.recorded_at == "2025-11-04T10:00:00.000000Z"  # the time it was given


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


def test_erasing_personal_fields_keeps_the_chain_verifying():
    erase_and_check(engine_with(6))


def test_putting_personal_data_back_after_erasure_is_caught():
    engine = engine_with(4)
    with Session(engine) as session:
        erase_before(session, START + timedelta(hours=1), by="retention-policy", now=LATER)
        session.commit()
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_disclosure_erase_only"))
        conn.execute(text("UPDATE audit_disclosure SET person = '9434765919' WHERE seq = 1"))
    assert verify(engine, [], None).first_bad_seq == 1


def test_nothing_is_erased_before_the_retention_period():
    engine = engine_with(2)
    with Session(engine) as session:
        assert erase_before(session, datetime(2020, 1, 1, tzinfo=UTC), by="x", now=LATER) is None
