"""``audit_disclosure`` refuses UPDATE and DELETE, in the database and in the application.

The one change allowed is erasure after the retention period: the personal fields and the
salt become NULL and ``erased_at``/``erasure_id`` are set, every other column unchanged.
``audit_erasure`` (the chained record of each erasure) refuses every UPDATE and DELETE.
The database triggers are created at startup, idempotently (SQLite and PostgreSQL). They
stop mistakes and casual edits; someone who can drop a trigger is caught by ``verify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from isp_common import pgroles
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Delete, Update

from .domain.retention import ERASED_COLUMNS as ERASED
from .domain.retention import KEPT_COLUMNS as KEPT
from .tables import DISCLOSURE_TABLE, Erasure

REFUSAL = "audit_disclosure is append-only: only erasure of personal fields is allowed"
ERASURE_TABLE = Erasure.__tablename__
ERASURE = {"audit_erasure": True}
"""Execution options that mark a statement as the erasure (:func:`isp_audit.retention.erase_before`)."""


def _erasure_shape(unchanged: str) -> str:
    erased = " AND ".join(f"NEW.{c} IS NULL" for c in ERASED)
    return f"{unchanged} AND {erased} AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL"


_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS audit_disclosure_no_delete BEFORE DELETE ON {DISCLOSURE_TABLE}
    BEGIN SELECT RAISE(ABORT, 'audit_disclosure is append-only'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_disclosure_erase_only BEFORE UPDATE ON {DISCLOSURE_TABLE}
    WHEN NOT ({_erasure_shape(" AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEPT))})
    BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END""",
    *(
        f"""CREATE TRIGGER IF NOT EXISTS audit_erasure_no_{op.lower()} BEFORE {op} ON {ERASURE_TABLE}
    BEGIN SELECT RAISE(ABORT, '{ERASURE_TABLE} is append-only'); END"""
        for op in ("UPDATE", "DELETE")
    ),
]

_PG_UNCHANGED = f"({', '.join('NEW.' + c for c in KEPT)}) IS NOT DISTINCT FROM ({', '.join('OLD.' + c for c in KEPT)})"


def _pg_triggers(table: str, function: str) -> list[str]:
    """``function`` before every row's UPDATE or DELETE of ``table``, and before its TRUNCATE."""
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}()""",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {function}()""",
    ]


_PG = [
    f"""CREATE OR REPLACE FUNCTION audit_disclosure_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'audit_disclosure is append-only (%)', TG_OP;
      END IF;
      IF NOT ({_erasure_shape(_PG_UNCHANGED)}) THEN
        RAISE EXCEPTION '{REFUSAL}';
      END IF;
      RETURN NEW;
    END $$""",
    *_pg_triggers(DISCLOSURE_TABLE, "audit_disclosure_append_only"),
    """CREATE OR REPLACE FUNCTION audit_erasure_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_erasure is append-only (%)', TG_OP;
    END $$""",
    *_pg_triggers(ERASURE_TABLE, "audit_erasure_append_only"),
]


def install_triggers(engine: Engine) -> None:
    """Create the append-only triggers if they are not there (safe to run at every start)."""
    statements = {"sqlite": _SQLITE, "postgresql": _PG}.get(engine.dialect.name, [])
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))  # replicas starting together
        for statement in statements:
            conn.execute(text(statement))


class AppendOnlyViolation(RuntimeError):
    pass


_PG_TRIGGERS = [f"{t}_{kind}" for t in (DISCLOSURE_TABLE, ERASURE_TABLE) for kind in ("append_only", "no_truncate")]


def _may_install(engine: Engine) -> bool:
    """Whether this engine's role may (re)create the triggers: anywhere but on PostgreSQL, and there the
    tables' owner (or before the tables exist); a least-privileged runtime role may not."""
    if engine.dialect.name != "postgresql":
        return True
    with engine.connect() as conn:
        owns = conn.execute(
            text("SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass(:t)"),
            {"t": DISCLOSURE_TABLE},
        ).scalar()
    return owns is None or bool(owns)


def _installed(engine: Engine) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname = ANY(:names)"),
            {"names": _PG_TRIGGERS},
        ).scalar()
    return found == len(_PG_TRIGGERS)


def protect(engine: Engine) -> None:
    """Guard the audit engine: the append-only triggers in its database, and the refusal below
    on its connections (this engine only: other engines in the process are left alone). The triggers
    are installed as the database owner when the service migrated as one (:func:`isp_common.pgroles.migrate`):
    its runtime role may not create or drop them."""
    with pgroles.as_owner(engine) as owner:
        if _may_install(owner):
            install_triggers(owner)
        elif not _installed(owner):  # a runtime role (e.g. ``isp audit erase``) on a database never started
            raise AppendOnlyViolation("the append-only triggers are missing and only the database owner may add them")
    if not event.contains(engine, "before_execute", _refuse_changes):
        event.listen(engine, "before_execute", _refuse_changes)


def _refuse_changes(
    _conn: Connection,
    statement: Any,
    _multiparams: Any,
    _params: Mapping[str, Any],
    execution_options: Mapping[str, Any],
) -> None:
    """The application layer: no ORM or Core UPDATE or DELETE of a disclosure record, except the
    erasure, which says so in its execution options, and none of an erasure row. (Raw SQL text is
    the database triggers' job.)"""
    table = getattr(statement, "table", None) if isinstance(statement, Update | Delete) else None
    name = getattr(table, "name", None)
    if name not in (DISCLOSURE_TABLE, ERASURE_TABLE):
        return
    options = {**statement.get_execution_options(), **execution_options}
    if name == DISCLOSURE_TABLE and isinstance(statement, Update) and options.get("audit_erasure"):
        return
    raise AppendOnlyViolation(f"{name} is append-only: {type(statement).__name__.upper()} refused")
