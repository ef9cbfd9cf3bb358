"""The CSV export's columns, and what a cell may hold."""

from __future__ import annotations

import json
from typing import Any

from .records import PUBLIC_FIELDS

CSV_COLUMNS = tuple(name for name in PUBLIC_FIELDS if name not in ("personal_commitment", "prev_hash"))
"""The public record without the chain's internals (the commitment and the link)."""
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
