"""Migration c3f5a1d7e210 on SQLite and PostgreSQL: a chain written before it verifies after it,
new records with ``supersedes`` and a judgement's reason chain after it, and the append-only
guard covers the new columns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from isp_audit import guard
from isp_audit.domain import chain
from isp_audit.domain.records import build_row
from isp_audit.handlers import disclosure_values
from isp_audit.verify import assemble, stream_rows, verify
from isp_audit.walk import walk
from isp_common import migrations
from isp_common.db import make_engine
from isp_schemas.audit import disclosure_record_id
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from ..kit import START, disclosure, record

BEFORE = "be62ab80f058"
JUDGEMENT = {"kind": "professional_judgement", "by": "dsl-7", "reason": "risk to the unborn child"}


@pytest.fixture
def url(sqlite_or_postgres_url: str) -> str:
    """A fresh database: a SQLite file, then the test PostgreSQL server (the shared fixture)."""
    return sqlite_or_postgres_url


def v10_chain(engine, n: int) -> None:
    """``n`` records inserted as the service wrote them before the migration (no new columns)."""
    prev = chain.GENESIS
    with engine.begin() as conn:
        for seq in range(1, n + 1):
            at = START + timedelta(minutes=seq)
            values = disclosure_values(disclosure(shared_at=at))
            row = build_row(seq, prev, values, chain.utc_text(at), chain.new_salt())
            assert row.pop("supersedes") is None and row.pop("basis_reason") is None and row.pop("provenance") is None
            names = ", ".join(row)
            conn.execute(
                text(f"INSERT INTO audit_disclosure ({names}) VALUES ({', '.join(':' + k for k in row)})"), row
            )
            prev = row["hash"]


def test_a_chain_written_before_the_migration_verifies_after_it_and_grows_with_the_new_fields(url):
    engine = make_engine(url)
    command.upgrade(migrations.config("isp_audit", engine), BEFORE)
    guard.install_triggers(engine)  # the triggers of the service as it ran before
    v10_chain(engine, 3)
    migrations.upgrade(engine, "isp_audit")
    guard.protect(engine)  # start-up after the upgrade
    assert verify(engine, [], None).ok
    later = START + timedelta(hours=1)
    withheld = disclosure(decision="withheld", lawful_basis=None, reason="no consent", shared_at=later)
    record(engine, withheld, later)
    wid = disclosure_record_id(withheld.alert_id, withheld.recipient, "withheld")
    record(engine, disclosure(alert_id=withheld.alert_id, supersedes=wid, shared_at=later), later)
    record(engine, disclosure(lawful_basis=JUDGEMENT, shared_at=later), later)
    verdict = verify(engine, [], None)
    assert verdict.ok and verdict.records == 6
    leg = walk(assemble(stream_rows(engine)), frozenset())
    assert leg.failure is None and leg.size == 6
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_disclosure SET supersedes = NULL WHERE seq = 5"))
    engine.dispose()


def test_the_migration_downgrades(url):
    engine = make_engine(url)
    migrations.upgrade(engine, "isp_audit")
    command.downgrade(migrations.config("isp_audit", engine), BEFORE)
    with engine.connect() as conn:
        names = {c["name"] for c in inspect(conn).get_columns("audit_disclosure")}
    assert "supersedes" not in names and "basis_reason" not in names
    engine.dispose()
