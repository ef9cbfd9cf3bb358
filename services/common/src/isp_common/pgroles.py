"""Least-privilege PostgreSQL roles: migrations run as the database's OWNER, the service serves as
a RUNTIME role that has only the privileges declared for it here.

With ``ISP_<SERVICE>_MIGRATION_DATABASE_URL`` set, :func:`migrate` upgrades the database with that
URL (the owner: the only role that may create, alter or drop tables and triggers), then grants the
runtime role (the user of ``ISP_<SERVICE>_DATABASE_URL``) exactly what :data:`PRIVILEGES` declares
for its service, in one transaction: everything it had on the schema's tables is revoked first, so
a table's privileges follow the declaration after every upgrade. A table not named in its
service's declaration gets :data:`READ_WRITE` (the outbox, the inbox, the directory, the
service's working tables); tables that are a record get less. The runtime role owns nothing, so it
can neither drop a trigger nor alter or drop a table. Without a migration URL (SQLite, a laptop)
the service migrates with its own engine, as before.

The roles themselves are made by the deployment (``deploy/postgres/init.sql``), not here.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from . import migrations
from .db import make_engine
from .leader import lock_key


@dataclass(frozen=True)
class Grant:
    """What a runtime role may do to one table: table-wide ``privileges``, and UPDATE of
    ``update_columns`` only (a column-level grant) when UPDATE is not among them."""

    privileges: tuple[str, ...]
    update_columns: tuple[str, ...] = ()


READ_WRITE = Grant(("SELECT", "INSERT", "UPDATE", "DELETE"))
APPEND_ONLY = Grant(("SELECT", "INSERT"))
READ_ONLY = Grant(("SELECT",))

AUDIT_ERASABLE_COLUMNS = (
    "children",
    "not_informed_reason",
    "person",
    "reason",
    "basis_reason",
    "personal_salt",
    "erased_at",
    "erasure_id",
)
"""What erasure after the retention period writes in ``audit_disclosure`` (the personal fields
NULL, ``erased_at`` and ``erasure_id`` set; ``isp_audit.domain.retention.erased_values``): the
only UPDATE its runtime role may make, and the database trigger still checks its shape."""

COMMON: Mapping[str, Grant] = {"alembic_version": READ_ONLY}
"""Every service's: it may see which revision it runs on, never change it."""

PRIVILEGES: Mapping[str, Mapping[str, Grant]] = {
    "audit": {
        # the records: inserted and read, never rewritten (erasure writes only the erasable columns)
        "audit_disclosure": Grant(APPEND_ONLY.privileges, update_columns=AUDIT_ERASABLE_COLUMNS),
        "audit_erasure": APPEND_ONLY,
        "audit_checkpoint": APPEND_ONLY,
        "audit_access": APPEND_ONLY,
        "audit_alert_seen": APPEND_ONLY,
        "audit_reconciliation_run": APPEND_ONLY,
        # a rejection is updated when another consumer rejects it too and when it is replayed
        "audit_rejection": Grant(("SELECT", "INSERT", "UPDATE")),
    },
    "referrals": {"referrals_history": APPEND_ONLY},
    "register": {"register_entry_history": APPEND_ONLY},
    "notifications": {},
    "gateway": {},
}
"""One declared privilege table per service: table -> :class:`Grant` (others get :data:`READ_WRITE`)."""


def declared(service: str) -> dict[str, Grant]:
    """The service's declaration with the common tables' (a service not listed has only those)."""
    return {**COMMON, **PRIVILEGES.get(service, {})}


def grant_for(service: str, table: str) -> Grant:
    return declared(service).get(table, READ_WRITE)


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def grant(owner: Engine, service: str, role: str) -> None:
    """Give ``role`` exactly ``service``'s declared privileges on every table of the owner's current
    schema (revoking whatever else it had there), and use of its sequences. Run as the owner."""
    with owner.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(f"isp-{service}:grants")})
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename"), {"schema": schema}
        ).scalars()
        r, s = _quote(conn, role), _quote(conn, schema)
        conn.execute(text(f"GRANT USAGE ON SCHEMA {s} TO {r}"))
        conn.execute(text(f"REVOKE CREATE ON SCHEMA {s} FROM {r}"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}"))  # column grants go with them
        conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}"))
        for table in list(tables):
            g, t = grant_for(service, table), f"{s}.{_quote(conn, table)}"
            conn.execute(text(f"GRANT {', '.join(g.privileges)} ON {t} TO {r}"))
            if g.update_columns and "UPDATE" not in g.privileges:
                columns = ", ".join(_quote(conn, c) for c in g.update_columns)
                conn.execute(text(f"GRANT UPDATE ({columns}) ON {t} TO {r}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}"))  # serial ids


_owners: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
"""Runtime engine -> the migration URL it was migrated with (for :func:`as_owner`)."""


def migrate(engine: Engine, service: str, migration_url: str = "") -> None:
    """Bring the service's database to head: as the owner of ``migration_url`` when given (on
    PostgreSQL), then grant the runtime role (``engine``'s user) its privileges; else with ``engine``.
    A database already at head (migrated before the service started: ``python -m
    isp_common.migrations upgrade``) is left as it is, and Alembic is not imported."""
    package = f"isp_{service}"
    if not migrations.has_migrations(package):  # a test's runtime may have no package of its own
        return
    if not migration_url or engine.dialect.name != "postgresql":
        if not migrations.at_head(engine, package):
            migrations.upgrade(engine, package)
        return
    owner = make_engine(migration_url)
    try:
        if not migrations.at_head(owner, package):
            migrations.upgrade(owner, package)
        role = engine.url.username
        if role and role != owner.url.username:  # never revoke the owner's own privileges
            grant(owner, service, role)
    finally:
        owner.dispose()
    _owners[engine] = migration_url


@contextmanager
def as_owner(engine: Engine) -> Iterator[Engine]:
    """An engine on the owner's URL if ``engine`` was migrated with one (:func:`migrate`), else
    ``engine``: for what only the owner may do at start (the audit service's triggers)."""
    url = _owners.get(engine)
    if url is None:
        yield engine
        return
    owner = make_engine(url)
    try:
        yield owner
    finally:
        owner.dispose()


def provision(admin_url: str, database: str, owner: str, runtime: str, password: str | None = None) -> tuple[str, str]:
    """What ``deploy/postgres/init.sql`` does for one service, from Python (tests, a new database):
    as an administrator, make the ``owner`` and ``runtime`` login roles, give ``owner`` the database
    ``database`` (so its public schema: PostgreSQL 15+) and let only these two connect to it.
    Returns (migration URL, runtime URL) on the server of ``admin_url``."""
    from sqlalchemy.engine import make_url

    admin = make_engine(admin_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            q = conn.dialect.identifier_preparer.quote_identifier
            secret = "" if password is None else " PASSWORD '" + password.replace("'", "''") + "'"
            for role in (owner, runtime):
                conn.execute(text(f"CREATE ROLE {q(role)} LOGIN{secret}"))
            conn.execute(text(f"ALTER DATABASE {q(database)} OWNER TO {q(owner)}"))
            conn.execute(text(f"REVOKE CONNECT ON DATABASE {q(database)} FROM PUBLIC"))
            conn.execute(text(f"GRANT CONNECT ON DATABASE {q(database)} TO {q(owner)}, {q(runtime)}"))
    finally:
        admin.dispose()
    url = make_url(admin_url).set(database=database, password=password)
    as_owner, as_runtime = (url.set(username=role).render_as_string(hide_password=False) for role in (owner, runtime))
    return as_owner, as_runtime
