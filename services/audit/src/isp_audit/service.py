"""What information-governance officers can ask, for both the API and the page.

Every question is recorded in ``audit_access`` (who, what, when, the purpose they gave)
before it is answered. ``ig_officer`` sees records where its organisation is discloser or
recipient; ``partnership_ig`` sees all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from isp_common import telemetry
from isp_common.auth import Caller
from isp_common.problems import Problem
from sqlalchemy.engine import Engine
from sqlmodel import Session

from . import checkpoints, fhir, query
from .config import Settings
from .tables import AccessRecord
from .verify import Verdict, merge, stored_checkpoints, verify

CSV_COLUMNS = (
    "seq",
    "id",
    "recorded_at",
    "shared_at",
    "decision",
    "discloser",
    "recipient",
    "person",
    "children",
    "purpose",
    "data_categories",
    "lawful_basis",
    "service_user_informed",
    "not_informed_reason",
    "source_event_id",
    "alert_id",
    "alert_type",
    "channel",
    "trace_id",
    "reason",
    "erased_at",
    "hash",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def scope_of(caller: Caller) -> str | None:
    """The organisation a caller is limited to (None: the whole partnership)."""
    if caller.has_role("partnership_ig"):
        return None
    if caller.has_role("ig_officer"):
        return caller.org
    raise Problem(403, "Forbidden", "This needs the role ig_officer or partnership_ig.")


class AuditQueries:
    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings

    def record_access(
        self, caller: Caller, action: str, asked: dict[str, Any], purpose: str | None, results: int | None = None
    ) -> None:
        with Session(self.engine) as session:
            session.add(
                AccessRecord(
                    sub=caller.sub,
                    org=caller.org,
                    roles=",".join(sorted(caller.roles)),
                    action=action,
                    query=json.dumps(asked, sort_keys=True),
                    purpose=purpose,
                    results=results,
                    trace_id=telemetry.current_trace_id(),
                )
            )
            session.commit()

    def search(
        self, caller: Caller, filters: query.Filters, limit: int, cursor: str | None, purpose: str | None
    ) -> dict[str, Any]:
        scope = scope_of(caller)
        try:
            with self.engine.connect() as conn:
                items, next_cursor = query.search(conn, filters, scope_org=scope, limit=limit, cursor=cursor)
        except query.BadCursor as exc:
            raise Problem(400, "Bad cursor", str(exc)) from None
        self.record_access(
            caller, "search", {**filters.as_dict(), "limit": limit, "cursor": cursor}, purpose, len(items)
        )
        return {"items": items, "next_cursor": next_cursor}

    def get(self, caller: Caller, record_id: str, purpose: str | None, action: str = "read") -> dict[str, Any]:
        scope = scope_of(caller)
        with self.engine.connect() as conn:
            record = query.get(conn, record_id)
        self.record_access(caller, action, {"id": record_id}, purpose, int(record is not None))
        if record is None:
            raise Problem(404, "Not Found", "There is no disclosure record with that id.")
        if not query.visible_to(record, scope):
            raise Problem(403, "Forbidden", "This record is not your organisation's.")
        return record

    def fhir(self, caller: Caller, record_id: str, purpose: str | None) -> dict[str, Any]:
        return fhir.audit_event(self.get(caller, record_id, purpose, action="read_fhir"))

    def csv(self, caller: Caller, filters: query.Filters, purpose: str | None) -> Iterator[str]:
        """Record the export, then stream it a page at a time."""
        scope = scope_of(caller)
        self.record_access(caller, "export_csv", filters.as_dict(), purpose)
        return self._csv_lines(filters, scope)

    def _csv_lines(self, filters: query.Filters, scope: str | None) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        with self.engine.connect() as conn:
            for n, record in enumerate(query.iterate(conn, filters, scope_org=scope), start=1):
                writer.writerow([_cell(record.get(c)) for c in CSV_COLUMNS])
                if n % 200 == 0:
                    yield _drain(buffer)
        yield _drain(buffer)

    def verify(self, caller: Caller | None = None) -> Verdict:
        if caller is not None:
            self.record_access(caller, "verify", {}, None)
        public_key = self.settings.resolved_checkpoint_key_dir / checkpoints.PUBLIC_KEY_FILE
        trusted = checkpoints.load_public_key(public_key) if public_key.exists() else None
        cps = merge(stored_checkpoints(self.engine), checkpoints.read_file(self.settings.checkpoint_file))
        return verify(self.engine, cps, trusted)


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _drain(buffer: io.StringIO) -> str:
    out = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return out
