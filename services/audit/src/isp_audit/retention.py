"""Erasure after the retention period: personal fields (and the salt) go, integrity stays.

The chain covers a salted commitment to the personal fields, so ``verify`` still passes after
erasure; dropping the salt makes the commitment useless for guessing who it was. Each run is
recorded in ``audit_erasure`` and each erased record names the run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import chain
from .tables import DisclosureRecord as R
from .tables import Erasure


def erase_before(session: Session, before: datetime, by: str, now: datetime | None = None) -> Erasure | None:
    """Erase personal fields of records shared before ``before`` (not yet erased); caller commits."""
    now = now or datetime.now(UTC)
    cutoff = chain.utc_text(before)
    due = (R.shared_at < cutoff, R.erased_at.is_(None))
    count, first, last = session.execute(select(func.count(), func.min(R.seq), func.max(R.seq)).where(*due)).one()
    if not count:
        return None
    erasure = Erasure(
        id=str(uuid.uuid4()),
        at=chain.utc_text(now),
        by=by,
        before=cutoff,
        records=count,
        first_seq=first,
        last_seq=last,
    )
    session.add(erasure)
    session.execute(
        update(R)
        .where(*due)
        .values(
            person=None,
            children=None,
            not_informed_reason=None,
            reason=None,
            personal_salt=None,
            erased_at=erasure.at,
            erasure_id=erasure.id,
        )
        .execution_options(synchronize_session=False)
    )
    return erasure


def erase_expired(session: Session, retention_days: int, by: str, now: datetime | None = None) -> Erasure | None:
    now = now or datetime.now(UTC)
    return erase_before(session, now - timedelta(days=retention_days), by, now)
