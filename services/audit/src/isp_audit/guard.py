"""``audit_disclosure`` refuses UPDATE and DELETE, in the database and in the application.

The one change allowed is erasure after the retention period: the personal fields and the
salt become NULL and ``erased_at``/``erasure_id`` are set, every other column unchanged.
The database triggers are created at startup, idempotently (SQLite and PostgreSQL). They
stop mistakes and casual edits; someone who can drop a trigger is caught by ``verify``.
"""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .tables import DISCLOSURE_TABLE, DisclosureRecord

KEPT = (
    "seq",
    "id",
    "recorded_at",
    "shared_at",
    "decision",
    "discloser",
    "recipient",
    "purpose",
    "data_categories",
    "lawful_basis",
    "service_user_informed",
    "source_event_id",
    "alert_id",
    "alert_type",
    "channel",
    "trace_id",
    "personal_commitment",
    "prev_hash",
    "hash",
)
ERASED = ("person", "children", "not_informed_reason", "reason", "personal_salt")
REFUSAL = "audit_disclosure is append-only: only erasure of personal fields is allowed"


def _erasure_shape(unchanged: str) -> str:
    erased = " AND ".join(f"NEW.{c} IS NULL" for c in ERASED)
    return f"{unchanged} AND {erased} AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL"


_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS audit_disclosure_no_delete BEFORE DELETE ON {DISCLOSURE_TABLE}
    BEGIN SELECT RAISE(ABORT, 'audit_disclosure is append-only'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_disclosure_erase_only BEFORE UPDATE ON {DISCLOSURE_TABLE}
    WHEN NOT ({_erasure_shape(" AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEPT))})
    BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END""",
]

_PG_UNCHANGED = f"({', '.join('NEW.' + c for c in KEPT)}) IS NOT DISTINCT FROM ({', '.join('OLD.' + c for c in KEPT)})"
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
    f"DROP TRIGGER IF EXISTS audit_disclosure_append_only ON {DISCLOSURE_TABLE}",
    f"""CREATE TRIGGER audit_disclosure_append_only BEFORE UPDATE OR DELETE ON {DISCLOSURE_TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_disclosure_append_only()""",
    f"DROP TRIGGER IF EXISTS audit_disclosure_no_truncate ON {DISCLOSURE_TABLE}",
    f"""CREATE TRIGGER audit_disclosure_no_truncate BEFORE TRUNCATE ON {DISCLOSURE_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_disclosure_append_only()""",
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


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context, _instances) -> None:
    """The application layer: the ORM never updates or deletes a disclosure record."""
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, DisclosureRecord) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyViolation(f"disclosure record {obj.seq} is append-only")
