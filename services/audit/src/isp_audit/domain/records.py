"""Building chained rows, and reading them back as the public record (CONTRACT §8)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from . import chain

PUBLIC_FIELDS = (
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
    "personal_commitment",
    "erased_at",
    "prev_hash",
    "hash",
)
"""A record's fields as the API shows them, in the order the CSV export and the append-only
guard list them (:data:`isp_audit.domain.export.CSV_COLUMNS`,
:data:`isp_audit.domain.retention.KEPT_COLUMNS`)."""


def record_id(alert_id: str, recipient: str, decision: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"disclosure/{alert_id}/{recipient}/{decision}"))


def build_row(seq: int, prev_hash: str, values: dict[str, Any], recorded_at: str, salt: str) -> dict[str, Any]:
    """The column values of record ``seq`` chained after ``prev_hash`` (reference encoder).

    ``values`` holds decoded values: lists and dicts for the JSON fields, times as UTC text.
    """
    personal = {name: values.get(name) for name in chain.PERSONAL_FIELDS}
    personal["children"] = list(personal["children"] or [])
    body = {name: values.get(name) for name in chain.BODY_FIELDS}
    body.update(seq=seq, recorded_at=recorded_at, personal_commitment=chain.personal_commitment(salt, personal))
    row = {
        **body,
        "data_categories": chain.canonical_text(body["data_categories"]),
        "lawful_basis": None if body["lawful_basis"] is None else chain.canonical_text(body["lawful_basis"]),
        "person": personal["person"],
        "children": chain.canonical_text(personal["children"]),
        "not_informed_reason": personal["not_informed_reason"],
        "reason": personal["reason"],
        "personal_salt": salt,
        "prev_hash": prev_hash,
        "hash": chain.record_hash(prev_hash, body),
    }
    return row


def public(row: Any) -> dict[str, Any]:
    """A stored row (ORM object or mapping) as the API shows it."""
    get = row.__getitem__ if isinstance(row, dict) else lambda name: getattr(row, name)
    out = {name: get(name) for name in PUBLIC_FIELDS}
    out["data_categories"] = json.loads(out["data_categories"])
    out["lawful_basis"] = json.loads(out["lawful_basis"]) if out["lawful_basis"] else None
    out["children"] = json.loads(out["children"]) if out["children"] is not None else None
    if out["service_user_informed"] is not None:
        out["service_user_informed"] = bool(out["service_user_informed"])
    return out
