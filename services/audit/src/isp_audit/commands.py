"""What information-governance officers ask, for both the API and the pages; each takes a unit
of work first.

Every question is recorded in ``audit_access`` (who, what, when, the purpose they gave) and
committed before it is answered, refusals included. ``ig_officer`` sees records where its
organisation is discloser or recipient; ``partnership_ig`` sees all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from isp_common import telemetry
from isp_common.auth import Caller
from isp_common.db import UnitOfWork
from sqlalchemy.engine import Engine

from . import checkpoints, fhir, query
from .context import Audit
from .domain.errors import NotYourRecord, RecordNotFound
from .domain.export import CSV_COLUMNS, csv_cell
from .domain.reconciliation import Report
from .domain.search import Filters, scope_of, visible_to
from .reconciliation import reconcile
from .tables import AccessRecord
from .verify import Verdict, merge, stored_checkpoints, verify


def record_access(
    uow: UnitOfWork,
    caller: Caller,
    action: str,
    asked: dict[str, Any],
    purpose: str | None,
    now: datetime,
    results: int | None = None,
) -> None:
    """Note who asked what and why, and commit it."""
    uow.session.add(
        AccessRecord(
            at=now,
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
    uow.commit()


def search(
    uow: UnitOfWork,
    caller: Caller,
    filters: Filters,
    limit: int,
    cursor: str | None,
    purpose: str | None,
    now: datetime,
) -> dict[str, Any]:
    """One page of the records the caller may see, newest first: ``{"items", "next_cursor"}``."""
    scope = scope_of(caller.org, caller.roles)
    items, next_cursor = query.search(uow.session.connection(), filters, scope_org=scope, limit=limit, cursor=cursor)
    asked = {**filters.as_dict(), "limit": limit, "cursor": cursor}
    record_access(uow, caller, "search", asked, purpose, now, len(items))
    return {"items": items, "next_cursor": next_cursor}


def get(
    uow: UnitOfWork, caller: Caller, record_id: str, purpose: str | None, now: datetime, action: str = "read"
) -> dict[str, Any]:
    """One record, if the caller may see it."""
    scope = scope_of(caller.org, caller.roles)
    record = query.get(uow.session.connection(), record_id)
    record_access(uow, caller, action, {"id": record_id}, purpose, now, int(record is not None))
    if record is None:
        raise RecordNotFound("There is no disclosure record with that id.")
    if not visible_to(record, scope):
        raise NotYourRecord("This record is not your organisation's.")
    return record


def get_fhir(uow: UnitOfWork, caller: Caller, record_id: str, purpose: str | None, now: datetime) -> dict[str, Any]:
    """One record as a FHIR R4 AuditEvent."""
    return fhir.audit_event(get(uow, caller, record_id, purpose, now, action="read_fhir"))


def export_csv(uow: UnitOfWork, caller: Caller, filters: Filters, purpose: str | None, now: datetime) -> Iterator[str]:
    """Record the export, then stream it a page at a time (on its own connection)."""
    scope = scope_of(caller.org, caller.roles)
    record_access(uow, caller, "export_csv", filters.as_dict(), purpose, now)
    return csv_lines(uow.engine, filters, scope)


def csv_lines(engine: Engine, filters: Filters, scope: str | None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with engine.connect() as conn:
        for n, record in enumerate(query.iterate(conn, filters, scope_org=scope), start=1):
            writer.writerow([csv_cell(record.get(c)) for c in CSV_COLUMNS])
            if n % 200 == 0:
                yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    out = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return out


def verify_chain(uow: UnitOfWork, caller: Caller, audit: Audit, now: datetime) -> Verdict:
    """``GET /v1/verify``: :func:`verify_trail`, the asking recorded."""
    record_access(uow, caller, "verify", {}, None, now)
    return verify_trail(uow.engine, audit)


def verify_trail(engine: Engine, audit: Audit) -> Verdict:
    """Recompute the chain and check it against every checkpoint (stored and in the file), erasures
    judged by the deployment's retention (timed and counted by :func:`verify`)."""
    trusted = checkpoints.load_public_key(audit.public_key_file) if audit.public_key_file.exists() else None
    found = merge(stored_checkpoints(engine), checkpoints.read_file(audit.checkpoint_file))
    return verify(engine, found, trusted, min_retention_days=audit.nightly.retention_days)


def reconciliation_report(uow: UnitOfWork, caller: Caller, audit: Audit, now: datetime) -> Report:
    """Alerts delivered vs shared records, as of ``now``."""
    record_access(uow, caller, "reconciliation", {}, None, now)
    return reconcile(uow.session, now, audit.grace_seconds)
