"""Erasure in the database (the rule is :mod:`isp_audit.domain.retention`). Each run is
recorded in ``audit_erasure``, chained to the run before it, and each erased record names the run."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from . import guard
from .domain import chain
from .domain.retention import DEFAULT_RETENTION_DAYS, check_before, erased_values, erasure_cutoff, erasure_hash
from .tables import DisclosureRecord as R
from .tables import Erasure


def erasure_head(session: Session) -> tuple[int, str]:
    """(count, hash) of the erasure chain: (0, GENESIS) before the first erasure."""
    row = session.execute(
        select(col(Erasure.seq), col(Erasure.hash)).order_by(col(Erasure.seq).desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, chain.GENESIS)


def erase_before(
    session: Session, before: datetime, by: str, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS
) -> Erasure | None:
    """Erase personal fields of records shared before ``before`` (not yet erased); caller commits.

    Refuses (:class:`~isp_audit.domain.retention.PrematureErasure`) a ``before`` later than ``now``
    less ``retention_days``. Records are counted after the update, by the erasure they name, so a
    record arriving meanwhile cannot make the count differ from the records erased.
    """
    check_before(before, now, retention_days)
    erasure_id, at = str(uuid.uuid4()), chain.utc_text(now)
    erased = session.execute(
        update(R)
        .where(col(R.shared_at) < chain.utc_text(before), col(R.erased_at).is_(None))
        .values(**erased_values(erasure_id, at))
        .execution_options(synchronize_session=False, **guard.ERASURE)
    )
    if not getattr(erased, "rowcount", 0):
        return None
    count, first, last = session.execute(
        select(func.count(), func.min(R.seq), func.max(R.seq)).where(col(R.erasure_id) == erasure_id)
    ).one()
    last_seq, prev_hash = erasure_head(session)
    erasure = Erasure(
        id=erasure_id,
        seq=last_seq + 1,
        at=at,
        by=by,
        before=chain.utc_text(before),
        retention_days=retention_days,
        records=count,
        first_seq=first,
        last_seq=last,
        prev_hash=prev_hash,
        hash="",
    )
    erasure.hash = erasure_hash(prev_hash, erasure.model_dump())
    session.add(erasure)
    session.flush()
    return erasure


def erase_expired(session: Session, retention_days: int, by: str, now: datetime) -> Erasure | None:
    return erase_before(session, erasure_cutoff(now, retention_days), by, now, retention_days)
