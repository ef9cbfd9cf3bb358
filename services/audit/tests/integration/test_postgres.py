"""The audit trail on PostgreSQL: ingest, verify, erase, and the database's own refusals."""

from __future__ import annotations

import pytest
from isp_audit import guard
from isp_audit.handlers import append_disclosure
from isp_audit.verify import verify
from isp_common.db import UnitOfWork
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from ..kit import NOW, disclosure, engine_with, erase_and_check

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
