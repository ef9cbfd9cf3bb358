"""Erasure after the retention period: the personal fields and the salt go, the chain stays.

The chain covers a salted commitment to the personal fields (see :mod:`.chain`), so it still
verifies after erasure; without the salt the commitment cannot be reversed by trying every NHS
number. Everything else about a record is kept for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .chain import OPTIONAL_PERSONAL_FIELDS, PERSONAL_FIELDS
from .records import PUBLIC_FIELDS

RETENTION_POLICY = "retention-policy"
"""Who authorised an erasure the nightly run makes (recorded with the erasure)."""
ERASED_COLUMNS = (*PERSONAL_FIELDS, *OPTIONAL_PERSONAL_FIELDS, "personal_salt")
"""The columns erasure sets to NULL."""
KEPT_COLUMNS = tuple(name for name in PUBLIC_FIELDS if name not in (*ERASED_COLUMNS, "erased_at"))
"""The columns no change may touch."""


def erasure_cutoff(now: datetime, retention_days: int) -> datetime:
    """Records shared before this are past retention."""
    return now - timedelta(days=retention_days)


def erased_values(erasure_id: str, at: str) -> dict[str, Any]:
    """The new values of an erased record's changing columns."""
    return {**dict.fromkeys(ERASED_COLUMNS), "erased_at": at, "erasure_id": erasure_id}
