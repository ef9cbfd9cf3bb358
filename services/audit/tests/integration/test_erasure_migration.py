"""Migration e5f7a9c1d324 on SQLite and PostgreSQL: an erasure made before it is chained by it
(with the retention it applied), later erasures chain after it, the guard refuses changing or
deleting an erasure, and the migration downgrades."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from isp_audit import guard
from isp_audit.domain import chain
from isp_audit.domain.retention import DEFAULT_RETENTION_DAYS
from isp_audit.retention import erase_before
from isp_audit.verify import verify
from isp_common import migrations
from isp_common.db import make_engine
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from ..kit import START
from .test_v11_migration import v10_chain

BEFORE = "d4e6a8b0c213"
PAST = START + timedelta(days=DEFAULT_RETENTION_DAYS, hours=1)


@pytest.fixture
def url(sqlite_or_postgres_url: str) -> str:
    """A fresh database: a SQLite file, then the test PostgreSQL server (the shared fixture)."""
    return sqlite_or_postgres_url


def legacy_erasure(engine) -> None:
    """Records 1 and 2 erased as the service did before erasures were chained."""
    before = chain.utc_text(START + timedelta(minutes=3))
    with engine.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO audit_erasure (id, at, "by", before, records, first_seq, last_seq) '
                "VALUES ('legacy', :at, 'retention-policy', :before, 2, 1, 2)"
            ),
            {"at": chain.utc_text(START + timedelta(days=DEFAULT_RETENTION_DAYS, minutes=3)), "before": before},
        )
        conn.execute(
            text(
                "UPDATE audit_disclosure SET person = NULL, children = NULL, not_informed_reason = NULL, "
                "reason = NULL, personal_salt = NULL, erased_at = :at, erasure_id = 'legacy' WHERE seq <= 2"
            ),
            {"at": chain.utc_text(START + timedelta(days=DEFAULT_RETENTION_DAYS, minutes=3))},
        )


def test_an_erasure_made_before_the_migration_is_chained_by_it_and_later_ones_follow(url):
    engine = make_engine(url)
    command.upgrade(migrations.config("isp_audit", engine), BEFORE)
    v10_chain(engine, 4)
    legacy_erasure(engine)
    migrations.upgrade(engine, "isp_audit")
    guard.protect(engine)  # start-up after the upgrade
    with engine.connect() as conn:
        row = conn.execute(text("SELECT seq, retention_days, prev_hash FROM audit_erasure")).one()
    assert tuple(row) == (1, DEFAULT_RETENTION_DAYS, chain.GENESIS)
    assert verify(engine, [], None).ok
    with Session(engine, expire_on_commit=False) as session:
        later = erase_before(session, START + timedelta(minutes=5), "retention-policy", PAST)
        session.commit()
    assert later is not None and later.seq == 2 and later.records == 2
    verdict = verify(engine, [], None)
    assert verdict.ok and (verdict.erasures, verdict.erasure_head) == (2, later.hash)
    refused = ["UPDATE audit_erasure SET records = 0", "DELETE FROM audit_erasure WHERE seq = 2"]
    if engine.dialect.name == "postgresql":
        refused.append("TRUNCATE audit_erasure")
    for statement in refused:
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()


def test_a_premature_erasure_before_the_migration_fails_verify_after_it(url):
    engine = make_engine(url)
    command.upgrade(migrations.config("isp_audit", engine), BEFORE)
    v10_chain(engine, 2)
    with engine.begin() as conn:
        at = chain.utc_text(START + timedelta(hours=1))
        conn.execute(
            text(
                'INSERT INTO audit_erasure (id, at, "by", before, records, first_seq, last_seq) '
                "VALUES ('too-soon', :at, 'isp-cli', :at, 2, 1, 2)"
            ),
            {"at": at},
        )
    migrations.upgrade(engine, "isp_audit")
    verdict = verify(engine, [], None)
    assert not verdict.ok and "erasure too-soon applied a retention of 0 days" in (verdict.reason or "")
    engine.dispose()


def test_the_migration_downgrades(url):
    engine = make_engine(url)
    migrations.upgrade(engine, "isp_audit")
    guard.protect(engine)
    command.downgrade(migrations.config("isp_audit", engine), BEFORE)
    with engine.connect() as conn:
        erasure = {c["name"] for c in inspect(conn).get_columns("audit_erasure")}
        checkpoint = {c["name"] for c in inspect(conn).get_columns("audit_checkpoint")}
    assert not erasure & {"seq", "retention_days", "prev_hash", "hash"}
    assert not checkpoint & {"erasures", "erasure_head"}
    command.upgrade(migrations.config("isp_audit", engine), "head")  # and up again, triggers and all
    engine.dispose()
