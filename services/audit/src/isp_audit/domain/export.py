"""The CSV export's columns, and what a cell may hold."""

from __future__ import annotations

import json
from typing import Any

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


def csv_cell(value: Any) -> str:
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
