"""The audit trail on PostgreSQL: ingest, verify, erase, and the database's own refusals."""

from __future__ import annotations

import gc
import warnings

import pytest
from isp_audit import guard
from isp_audit.handlers import append_disclosure
from isp_audit.tables import DisclosureRecord
from isp_audit.verify import verify
from isp_common.db import UnitOfWork
from isp_schemas import topics
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from ..kit import NOW, START, disclosure, engine_with, erase_and_check
from ..unit.test_append_batch import audit_event, chain_rows, reading_ahead

pytestmark = [pytest.mark.integration]


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
    erase_and_check(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_disclosure_append_only ON audit_disclosure"))
        conn.execute(text("UPDATE audit_disclosure SET purpose = 'other' WHERE seq = 5"))
    assert verify(engine, [], None).first_bad_seq == 5
    engine.dispose()


def test_a_verify_that_stops_at_a_broken_record_closes_its_server_cursor(postgres_url):
    """The walk stops at the first broken record and drops the generator reading the rows. Its
    server-side cursor was left open for the garbage collector (psycopg's ResourceWarning)."""
    engine = engine_with(6, url=postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_disclosure_append_only ON audit_disclosure"))
        conn.execute(text("UPDATE audit_disclosure SET purpose = 'other' WHERE seq = 2"))
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert verify(engine, [], None, workers=1).first_bad_seq == 2
        gc.collect()
    engine.dispose()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_postgresql_records_a_share_once_and_chains_many_appends_in_one_transaction(postgres_url):
    engine = engine_with(0, url=postgres_url)
    share = disclosure()
    with UnitOfWork(engine) as uow:
        assert append_disclosure(uow, share, NOW) is not None
        for _ in range(5):
            assert append_disclosure(uow, disclosure(), NOW) is not None
        assert append_disclosure(uow, share, NOW) is None  # recorded earlier in this transaction
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert append_disclosure(uow, share, NOW) is None  # recorded before it
        assert append_disclosure(uow, disclosure(), NOW).seq == 7  # type: ignore[union-attr]
        uow.commit()
    assert verify(engine, [], None).ok
    engine.dispose()


async def test_postgresql_writes_a_run_read_ahead_in_one_insert_at_the_commit(postgres_url):
    engine = engine_with(2, url=postgres_url)
    with Session(engine) as session:
        before = session.exec(select(DisclosureRecord.alert_id, DisclosureRecord.recipient)).first()
    assert before is not None
    earlier = disclosure(alert_id=before[0], recipient=before[1], shared_at=START)  # recorded already
    shares = [disclosure(), earlier, disclosure()]
    data = [*shares, shares[0]]  # the first share again, under another event id
    messages = [(b"key", audit_event(d, f"evt-{i}"), []) for i, d in enumerate(data)]
    outcomes = await reading_ahead(engine).process_batch(messages, topics.AUDIT)
    assert outcomes == ["handled"] * 4
    rows = chain_rows(engine)
    assert [(r.seq, r.alert_id) for r in rows[2:]] == [(3, shares[0].alert_id), (4, shares[2].alert_id)]
    assert verify(engine, [], None).ok
    engine.dispose()
