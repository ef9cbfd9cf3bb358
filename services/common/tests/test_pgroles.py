"""Least-privilege PostgreSQL roles for every service but audit (its own test is
services/audit/tests/integration/test_pg_privileges.py): started with a migration URL and a runtime
URL, each service migrates as the owner, serves as its runtime role, does its work with it (every
event it handles, the relay marking its outbox sent) and cannot create, alter or drop a table."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from isp_common import pgroles
from isp_common.consumer import EventRejected
from isp_common.errors import DomainError
from isp_common.runtime import ServiceRuntime
from isp_common.settings import ServiceSettings
from isp_common.tables import OutboxMessage
from isp_common.testing import TEST_DIRECTORY_FILE, unique
from isp_common.testing.postgres import refused
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.registry import parse_event
from sqlalchemy import text, update
from sqlmodel import col

pytestmark = [pytest.mark.integration]

SERVICES = ("referrals", "register", "notifications", "gateway")
APPEND_ONLY = {"referrals": "referrals_history", "register": "register_entry_history"}


def start(service: str, postgres_url: str, var_dir: Path) -> tuple[ServiceRuntime, str]:
    """The service built as in production: both URLs, on roles made for this test. Returns the runtime
    and its owner role's name."""
    owner, role = unique(f"{service}_owner_"), unique(f"{service}_rt_")
    database = postgres_url.rsplit("/", 1)[1]
    migration_url, runtime_url = pgroles.provision(postgres_url, database, owner, role, password=unique("pw-"))
    settings_class: type[ServiceSettings] = importlib.import_module(f"isp_{service}.settings").Settings
    settings = settings_class(
        database_url=runtime_url,
        migration_database_url=migration_url,
        var_dir=var_dir,
        directory_file=TEST_DIRECTORY_FILE,
    )
    runtime: ServiceRuntime = importlib.import_module(f"isp_{service}.bootstrap").build(settings)
    assert runtime.engine.url.username == role
    return runtime, owner


def handle_examples(runtime: ServiceRuntime) -> int:
    """Every event type the service consumes, from the contract's examples, through its own handler
    on its runtime role; returns how many were applied (a domain refusal is the service's answer)."""
    applied = 0
    for topic, processor in runtime.processors.items():
        for event_type, handler in processor.handlers.items():
            if event_type not in EXAMPLES:
                continue
            data: dict[str, Any] = EXAMPLES[event_type]
            org = str(data.get("from_org") or data.get("recorded_by") or data.get("org") or "CGL-WSX")
            event, parsed = parse_event(CloudEvent.create(event_type, org, data).to_json_bytes(), topic=topic)
            with runtime.uow() as uow:
                try:
                    handler(uow, event, parsed)
                    uow.commit()
                    applied += 1
                except (DomainError, EventRejected):
                    pass
    return applied


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_works_as_its_runtime_role_and_cannot_change_its_schema(service, postgres_url, tmp_path):
    runtime, owner = start(service, postgres_url, tmp_path)
    engine = runtime.engine
    handled = handle_examples(runtime)
    with runtime.uow() as uow:  # what the outbox relay does once the broker has a row
        uow.session.execute(update(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)).values(sent_at=None))
        uow.commit()
    with engine.connect() as conn:
        tables = list(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        owners = set(conn.execute(text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars())
    assert owners == {owner}
    assert handled >= (0 if service == "gateway" else 1)
    statements = [
        "CREATE TABLE shadow (id int)",
        *(f"ALTER TABLE {t} ADD COLUMN note text" for t in tables),
        *(f"DROP TABLE {t}" for t in tables),
        "UPDATE alembic_version SET version_num = 'x'",
    ]
    if service in APPEND_ONLY:
        history = APPEND_ONLY[service]
        statements += [f"UPDATE {history} SET id = id", f"DELETE FROM {history}", f"TRUNCATE {history}"]
    assert [s for s in statements if not refused(engine, s)] == []
    engine.dispose()


def test_every_declared_table_is_one_a_service_has():
    """A declaration naming a table no migration makes is a typo that would leave the real one READ_WRITE."""
    from isp_common import migrations

    for service, tables in pgroles.PRIVILEGES.items():
        metadata = migrations.target_metadata(f"isp_{service}")
        assert set(tables) <= set(metadata.tables), service


@pytest.mark.parametrize(
    ("migration_url", "problem"),
    [
        ("", True),  # no owner URL: the service would migrate, and so could alter, as the role it serves as
        ("postgresql://isp_demo:pw@db/isp_demo", True),  # the same role twice
        ("postgresql://isp_demo_owner:pw@db/isp_demo", False),
    ],
)
def test_production_on_postgresql_needs_a_separate_migration_url(migration_url, problem):
    settings = ServiceSettings(
        environment="production",
        service_name="demo",
        partnership_key="x" * 40,
        database_url="postgresql://isp_demo:pw@db/isp_demo",
        migration_database_url=migration_url,
    )
    named = [p for p in settings.production_problems() if "ISP_DEMO_MIGRATION_DATABASE_URL" in p]
    assert bool(named) is problem
    assert all("pw" not in p for p in named)  # names the setting, never the secret
    sqlite = ServiceSettings(environment="production", service_name="demo", partnership_key="x" * 40)
    assert not [p for p in sqlite.production_problems() if "MIGRATION_DATABASE_URL" in p]
