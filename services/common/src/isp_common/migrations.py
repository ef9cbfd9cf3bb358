"""Alembic migrations, run programmatically: each service keeps its revisions in its own
package (``isp_<service>/migrations/versions``).

A database is migrated before its service serves: ``python -m isp_common.migrations upgrade
<service>...`` (the launcher behind ``make run`` runs it in a short child process, the image runs
it before the service starts). At start the service only checks that its database is at head
(:func:`at_head`: the ``alembic_version`` rows against the head :func:`head_revisions` reads from
the revision files, without importing Alembic, about 12 MB of a service's resident memory with
Mako and Pygments) and migrates as before only if it is not. Alembic is imported only to migrate.

``python -m isp_common.migrations revision <service> -m "message"`` autogenerates a revision
from that service's SQLModel tables (only its own tables and the common outbox/inbox are
imported, so nothing of another service leaks in).
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

if TYPE_CHECKING:
    from alembic.config import Config

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
    from alembic.config import Config

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
    from alembic import command

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
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

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
    from alembic import command

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
    """Alembic's own answer (imports Alembic): what :func:`head_revisions` must agree with."""
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(config(package)).get_heads())


def head_revisions(package: str) -> frozenset[str]:
    """The head revision(s) of ``package``'s migrations, read from the revision files' ``revision``
    and ``down_revision`` assignments without importing Alembic: every revision no other revision
    names as its ``down_revision``. ``services/common/tests/test_migrations.py`` checks it gives
    Alembic's own heads for every service."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((script_location(package) / "versions").glob("*.py")):
        assigned = _assignments(path, ("revision", "down_revision"))
        if not isinstance(assigned.get("revision"), str):
            continue  # not a revision (alembic skips such files too)
        revisions.add(assigned["revision"])
        down = assigned.get("down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)


def _assignments(path: Path, names: tuple[str, ...]) -> dict[str, Any]:
    """The literal values a module assigns at its top level to ``names``."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id in names and value is not None:
            found[target.id] = ast.literal_eval(value)
    return found


def current_revisions(engine: Engine) -> frozenset[str]:
    """The revision(s) ``engine``'s database is at, from ``alembic_version`` (none: never migrated)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return frozenset()
        return frozenset(row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version")))


def at_head(engine: Engine, package: str) -> bool:
    """Whether ``engine``'s database is at the head of ``package``'s migrations (checked without
    importing Alembic)."""
    return current_revisions(engine) == head_revisions(package)


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


def upgrade_service(service: str) -> None:
    """Migrate ``service``'s database as the service would at start (its settings' database URL; as the
    owner, with the runtime role's privileges granted, when a migration URL is set)."""
    from .db import make_engine
    from .pgroles import migrate

    settings = importlib.import_module(f"isp_{service}.settings").Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine, service, settings.migration_database_url)
    finally:
        engine.dispose()


USAGE = """usage: python -m isp_common.migrations upgrade <service>...
       python -m isp_common.migrations revision <service> -m "message\""""


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[1] == "upgrade":
        for service in argv[2:]:
            try:
                upgrade_service(service)
            except Exception:
                print(f"isp: migrating the {service} database failed", file=sys.stderr, flush=True)
                raise
        return 0
    if len(argv) >= 5 and argv[1] == "revision" and argv[3] == "-m":
        revision(f"isp_{argv[2]}", argv[4])
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":  # python -m isp_common.migrations upgrade|revision <service> ...
    sys.exit(main(sys.argv))
