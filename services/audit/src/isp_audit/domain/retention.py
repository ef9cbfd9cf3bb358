"""Erasure after the retention period: the personal fields and the salt go, the chain stays.

The chain covers a salted commitment to the personal fields (see :mod:`.chain`), so it still
verifies after erasure; without the salt the commitment cannot be reversed by trying every NHS
number. Everything else about a record is kept for good.

Only records past retention may be erased: an erasure's ``before`` is no later than its ``at``
less the ``retention_days`` it applied (recorded with it), and verification refuses a
``retention_days`` below the configured one (:func:`erasure_problem`).

Erasures are a hash chain of their own, built as the records' is (:mod:`.chain`):
``hash = SHA-256(prev_hash || JCS(fields))`` with ``fields`` every column in
:data:`ERASURE_FIELDS` (``first_seq``/``last_seq`` are never null: an erasure of nothing is not
recorded) and ``prev_hash`` the previous erasure's hash (``"0" * 64`` before erasure 1). Signed
checkpoints carry the erasure chain's head, so a deleted or rewritten erasure is caught.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import chain
from .chain import OPTIONAL_PERSONAL_FIELDS, PERSONAL_FIELDS
from .records import PUBLIC_FIELDS

RETENTION_POLICY = "retention-policy"
"""Who authorised an erasure the nightly run makes (recorded with the erasure)."""
ERASED_COLUMNS = (*PERSONAL_FIELDS, *OPTIONAL_PERSONAL_FIELDS, "personal_salt")
"""The columns erasure sets to NULL."""
KEPT_COLUMNS = tuple(name for name in PUBLIC_FIELDS if name not in (*ERASED_COLUMNS, "erased_at"))
"""The columns no change may touch."""


DEFAULT_RETENTION_DAYS = 8 * 365
"""Eight years: the audit settings' default, and verification's floor unless told otherwise."""
ERASURE_FIELDS = ("at", "before", "by", "first_seq", "id", "last_seq", "records", "retention_days", "seq")
"""An erasure's chained fields, in canonical (sorted) key order."""


class PrematureErasure(ValueError):
    """An erasure of records not yet past the retention period."""


def erasure_cutoff(now: datetime, retention_days: int) -> datetime:
    """Records shared before this are past retention."""
    return now - timedelta(days=retention_days)


def erased_values(erasure_id: str, at: str) -> dict[str, Any]:
    """The new values of an erased record's changing columns."""
    return {**dict.fromkeys(ERASED_COLUMNS), "erased_at": at, "erasure_id": erasure_id}


def check_before(before: datetime, now: datetime, retention_days: int) -> None:
    """Refuse (:class:`PrematureErasure`, one line) a ``before`` later than ``now`` less ``retention_days``."""
    cutoff = erasure_cutoff(now, retention_days)
    if retention_days < 1 or before > cutoff:
        raise PrematureErasure(
            f"refused: {chain.utc_text(before)} is within the retention period of {retention_days} days; only "
            f"records shared before {chain.utc_text(cutoff)} may be erased"
        )


def erasure_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256(prev_hash || JCS(fields)) over the :data:`ERASURE_FIELDS` of one erasure."""
    return chain.record_hash(prev_hash, {name: fields[name] for name in ERASURE_FIELDS})


def erasure_problem(fields: dict[str, Any], min_retention_days: int) -> str | None:
    """Why an erasure's own fields show it was not past retention (None: they do not)."""
    days = fields["retention_days"]
    if not isinstance(days, int) or days < min_retention_days:
        return f"applied a retention of {days} days, below {min_retention_days}"
    try:
        premature = chain.parse_utc_text(fields["before"]) > erasure_cutoff(chain.parse_utc_text(fields["at"]), days)
    except (TypeError, ValueError):
        return "has a time that cannot be read"
    return "erased records within the retention period" if premature else None
