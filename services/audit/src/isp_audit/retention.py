"""Erasure in the database (the rule is :mod:`isp_audit.domain.retention`). Each run is
recorded in ``audit_erasure`` and each erased record names the run."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from . import guard
from .domain import chain
from .domain.retention import erased_values, erasure_cutoff
from .tables import DisclosureRecord as R
from .tables import Erasure


def erase_before(session: Session, before: datetime, by: str, now: datetime) -> Erasure | None:
    """Erase personal fields of records shared before ``before`` (not yet erased); caller commits."""
    cutoff = chain.utc_text(before)
    due = (col(R.shared_at) < cutoff, col(R.erased_at).is_(None))
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
        .values(**erased_values(erasure.id, erasure.at))
        .execution_options(synchronize_session=False, **guard.ERASURE)
    )
    return erasure


def erase_expired(session: Session, retention_days: int, by: str, now: datetime) -> Erasure | None:
    return erase_before(session, erasure_cutoff(now, retention_days), by, now)
