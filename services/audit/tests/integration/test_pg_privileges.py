"""The audit service on PostgreSQL with least-privilege roles (issue 11 item 5): started with both
URLs it migrates and installs its triggers as the database owner and serves as its runtime role,
which may insert and read its records and nothing else: UPDATE, DELETE, TRUNCATE, DROP TRIGGER,
ALTER TABLE and DROP TABLE are refused by privilege, not only by trigger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from isp_audit import bootstrap, commands, guard, jobs, rejections, retention
from isp_audit.domain.retention import ERASED_COLUMNS
from isp_audit.handlers import append_disclosure
from isp_audit.settings import Settings
from isp_audit.tables import DISCLOSURE_TABLE, Rejection
from isp_common import pgroles
from isp_common.auth import Caller
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.testing import TEST_DIRECTORY_FILE, unique
from isp_common.testing.postgres import refused
from sqlalchemy import text
from sqlmodel import select

from ..deadletter_kit import keep, letter, missed
from ..kit import LATER, NOW, START, disclosure

pytestmark = [pytest.mark.integration]

REFUSED = [
    f"UPDATE {DISCLOSURE_TABLE} SET hash = 'forged'",
    f"UPDATE {DISCLOSURE_TABLE} SET person = NULL, seq = seq + 1",  # an erasable column with a kept one
    f"DELETE FROM {DISCLOSURE_TABLE}",
    f"TRUNCATE {DISCLOSURE_TABLE}",
    f"DROP TRIGGER {DISCLOSURE_TABLE}_append_only ON {DISCLOSURE_TABLE}",
    f"ALTER TABLE {DISCLOSURE_TABLE} DISABLE TRIGGER ALL",
    f"ALTER TABLE {DISCLOSURE_TABLE} ADD COLUMN note text",
    f"DROP TABLE {DISCLOSURE_TABLE}",
    "UPDATE audit_erasure SET records = 0",
    "DELETE FROM audit_erasure",
    "TRUNCATE audit_erasure",
    "UPDATE audit_checkpoint SET signature = 'forged'",
    "DELETE FROM audit_checkpoint",
    "DELETE FROM audit_access",
    "UPDATE alembic_version SET version_num = 'x'",
    "CREATE TABLE audit_shadow (id int)",
    "CREATE OR REPLACE FUNCTION audit_disclosure_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN NEW; END $$",
]


@dataclass
class Started:
    runtime: ServiceRuntime
    owner: str
    role: str


@pytest.fixture
def started(postgres_url: str, tmp_path: Path) -> Iterator[Started]:
    owner, role = unique("audit_owner_"), unique("audit_rt_")
    database = postgres_url.rsplit("/", 1)[1]
    migration_url, runtime_url = pgroles.provision(postgres_url, database, owner, role, password=unique("pw-"))
    settings = Settings(
        database_url=runtime_url,
        migration_database_url=migration_url,
        var_dir=tmp_path,
        directory_file=TEST_DIRECTORY_FILE,
    )
    runtime = bootstrap.build(settings)
    yield Started(runtime, owner, role)
    runtime.engine.dispose()


def test_the_service_migrates_as_owner_and_serves_as_its_runtime_role(started):
    engine = started.runtime.engine
    assert engine.url.username == started.role
    with engine.connect() as conn:
        owners = set(conn.execute(text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars())
        triggers = set(
            conn.execute(
                text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = CAST(:t AS regclass)"),
                {"t": DISCLOSURE_TABLE},
            ).scalars()
        )
    assert owners == {started.owner}  # the runtime role owns nothing, so it can alter or drop nothing
    assert {f"{DISCLOSURE_TABLE}_append_only", f"{DISCLOSURE_TABLE}_no_truncate"} <= triggers


def test_the_runtime_role_inserts_reads_and_erases_records_but_may_not_change_them(started):
    runtime, audit = started.runtime, started.runtime.context
    with runtime.uow() as uow:
        for _ in range(3):
            append_disclosure(uow, disclosure(), START)
        uow.commit()
    signed = jobs.sign_head(runtime.uow, audit.signing_key, audit.checkpoints, audit.checkpoint_file, "ISP-IG", NOW)
    with runtime.uow() as uow:  # an officer verifies: the chain read, the access logged
        verdict = commands.verify_chain(uow, Caller("ig-1", "ISP-IG", frozenset({"partnership_ig"})), audit, NOW)
        uow.commit()
    keep(runtime.engine, letter(missed().to_json_bytes()))  # a dead letter kept, then replayed (an UPDATE)
    with runtime.uow() as uow:
        [rejection] = uow.session.exec(select(Rejection)).all()
        rejections.mark_replayed(uow.session, rejection.id, "ops", NOW)
        uow.commit()
    with runtime.uow() as uow:  # the nightly erasure writes only the erasable columns
        erasure = retention.erase_before(uow.session, NOW, "policy", LATER)
        uow.commit()
    assert signed is not None and verdict.ok and erasure is not None and erasure.records == 3
    assert [s for s in REFUSED if not refused(runtime.engine, s)] == []


def test_the_runtime_role_guards_its_own_engine_without_installing_triggers(started):
    """``isp audit erase --database <runtime URL>`` guards a fresh engine: the triggers are there and
    the runtime role leaves them alone; on a database whose triggers are gone it refuses to go on."""
    fresh = make_engine(started.runtime.settings.database_url)
    guard.protect(fresh)
    owner = make_engine(started.runtime.settings.migration_database_url)
    with owner.begin() as conn:
        conn.execute(text(f"DROP TRIGGER {DISCLOSURE_TABLE}_no_truncate ON {DISCLOSURE_TABLE}"))
    with pytest.raises(guard.AppendOnlyViolation, match="only the database owner"):
        guard.protect(fresh)
    guard.protect(owner)  # the owner puts them back
    guard.protect(fresh)
    fresh.dispose()
    owner.dispose()


def test_the_declared_erasable_columns_are_what_erasure_writes():
    assert set(pgroles.AUDIT_ERASABLE_COLUMNS) == {*ERASED_COLUMNS, "erased_at", "erasure_id"}


def test_an_upgrade_as_owner_again_leaves_the_runtime_role_exactly_its_grants(started, postgres_url):
    runtime = started.runtime
    owner_url = runtime.settings.migration_database_url
    pgroles.migrate(runtime.engine, "audit", owner_url)  # a second start: grants revoked and given again
    owner = make_engine(owner_url)
    with owner.connect() as conn:
        granted = set(
            conn.execute(
                text(
                    "SELECT table_name || ':' || privilege_type FROM information_schema.role_table_grants "
                    "WHERE grantee = :role"
                ),
                {"role": started.role},
            ).scalars()
        )
    owner.dispose()
    records = ("audit_disclosure", "audit_erasure", "audit_checkpoint", "audit_access")
    assert {f"{t}:{p}" for t in records for p in ("SELECT", "INSERT")} <= granted
    assert not {f"{t}:{p}" for t in records for p in ("UPDATE", "DELETE", "TRUNCATE")} & granted
    assert "audit_rejection:UPDATE" in granted and "alembic_version:SELECT" in granted
