"""Alembic migrations, run programmatically: each service keeps its revisions in its own
package (``isp_<service>/migrations/versions``) and upgrades its own database at start-up.

``python -m isp_common.migrations revision <service> -m "message"`` autogenerates a revision
from that service's SQLModel tables (only its own tables and the common outbox/inbox are
imported, so nothing of another service leaks in).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

ENV_PY = '''"""Alembic environment for this service (generated; see isp_common.migrations)."""
from isp_common.migrations import run_environment

run_environment("{package}")
'''


def script_location(package: str) -> Path:
    module = importlib.import_module(package)
    if module.__file__ is None:  # a namespace package: no migrations of its own
        raise ModuleNotFoundError(f"{package} is not a regular package")
    return Path(module.__file__).resolve().parent / "migrations"


def has_migrations(package: str) -> bool:
    try:
        return (script_location(package) / "env.py").exists()
    except ModuleNotFoundError:
        return False


def config(package: str, engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location(package)))
    cfg.attributes["package"] = package
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def target_metadata(package: str) -> MetaData:
    importlib.import_module("isp_common.tables")
    importlib.import_module(f"{package}.tables")
    return SQLModel.metadata


def run_environment(package: str) -> None:
    """Body of every service's ``env.py``."""
    from alembic import context

    cfg = context.config
    engine: Engine = cfg.attributes["engine"]
    metadata = target_metadata(package)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


def upgrade(engine: Engine, package: str) -> None:
    """Bring ``engine``'s database to the newest revision of ``package``'s migrations. On PostgreSQL,
    replicas starting together take turns (a session advisory lock per package): the first migrates,
    the others then find the database at head."""
    if engine.dialect.name != "postgresql":
        command.upgrade(config(package, engine), "head")
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": f"migrations:{package}"})
        try:
            command.upgrade(config(package, engine), "head")
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": f"migrations:{package}"})
            lock.commit()


def pending_differences(engine: Engine, package: str) -> list[Any]:
    """What the models have that the migrated database lacks (empty when migrations are complete)."""
    metadata = target_metadata(package)
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": False}), metadata)
    own = {t for t in metadata.tables if _owned(t, package)}
    return [d for d in diffs if _table_of(d) in own]


def _owned(table: str, package: str) -> bool:
    service = package.removeprefix("isp_")
    return table.startswith(service + "_") or table in ("outbox_message", "outbox_quarantine", "processed_event")


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if name and hasattr(part, "columns"):
            return str(name)
    return item[2] if len(item) > 2 and isinstance(item[2], str) else None


def revision(package: str, message: str) -> None:
    """Autogenerate a revision from the models against a scratch database at head."""
    from .db import make_engine

    location = script_location(package)
    (location / "versions").mkdir(parents=True, exist_ok=True)
    if not (location / "env.py").exists():
        (location / "env.py").write_text(ENV_PY.format(package=package))
        (location / "script.py.mako").write_text(_MAKO)
    engine = make_engine("sqlite://")
    upgrade(engine, package)
    command.revision(config(package, engine), message=message, autogenerate=True)


def heads(package: str) -> list[str]:
    return list(ScriptDirectory.from_config(config(package)).get_heads())


_MAKO = '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''


if __name__ == "__main__":  # python -m isp_common.migrations revision <service> -m "message"
    if len(sys.argv) >= 5 and sys.argv[1] == "revision" and sys.argv[3] == "-m":
        revision(f"isp_{sys.argv[2]}", sys.argv[4])
    else:
        print(__doc__)
        sys.exit(2)
