"""The audit tests' own builders: disclosure events and audit databases with a chain in them.

Everything else (clock, tokens, NHS numbers, outbox events) comes from :mod:`isp_common.testing`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from isp_audit import guard
from isp_audit.domain import chain
from isp_audit.domain.retention import DEFAULT_RETENTION_DAYS
from isp_audit.handlers import append_disclosure
from isp_audit.retention import erase_before
from isp_audit.tables import DisclosureRecord, Erasure
from isp_audit.verify import verify
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.testing import nhs_number, unique
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.examples import EXAMPLES
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

STRING_BODY_FIELDS = tuple(
    name
    for name in chain.BODY_FIELDS
    if name not in ("data_categories", "lawful_basis", "seq", "service_user_informed")
)
"""The chained body's text fields, in canonical order (for the canonical-bytes property tests)."""
START = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
NOW = START + timedelta(days=1)
LATER = START + timedelta(days=DEFAULT_RETENTION_DAYS + 1)
"""A day past the default retention period: records shared on START's day may be erased."""
NHS = nhs_number(0)
OTHER_NHS = nhs_number(1)


def disclosure(**overrides: Any) -> DisclosureRecorded:
    data = {**EXAMPLES[DisclosureRecorded.event_type], "alert_id": unique("alert-"), **overrides}
    return DisclosureRecorded.model_validate(data)


def audit_engine(url: str = "sqlite://") -> Engine:
    """An empty audit database, guarded as the service guards its own."""
    engine = make_engine(url)
    create_schema(engine)
    guard.protect(engine)
    return engine


def engine_with(n: int, url: str = "sqlite://", start: datetime = START) -> Engine:
    """An audit database holding a chain of ``n`` records, shared an hour apart from ``start``."""
    engine = audit_engine(url)
    with UnitOfWork(engine) as uow:
        for i in range(n):
            person = NHS if i % 2 == 0 else OTHER_NHS
            discloser, recipient = ("CGL-WSX", "WSCC-CSC") if i % 3 else ("WSCC-CSC", "CGL-WSX")
            shared_at = start + timedelta(hours=i)
            share = disclosure(person=person, discloser=discloser, recipient=recipient, shared_at=shared_at)
            append_disclosure(uow, share, now=shared_at + timedelta(seconds=1))
        uow.commit()
    return engine


def record(engine: Engine, share: DisclosureRecorded, now: datetime) -> None:
    """Append one share to ``engine``'s chain and commit."""
    with UnitOfWork(engine) as uow:
        append_disclosure(uow, share, now)
        uow.commit()


def erase_and_check(engine: Engine) -> None:
    """Erase the first three records of a chain of six or more, and check the result."""
    with Session(engine, expire_on_commit=False) as session:
        erasure = erase_before(session, START + timedelta(hours=3), by="retention-policy", now=LATER)
        session.commit()
    assert erasure is not None
    assert erasure.records == 3 and (erasure.first_seq, erasure.last_seq) == (1, 3)
    with Session(engine) as session:
        rows = session.exec(select(DisclosureRecord).order_by(DisclosureRecord.seq)).all()
        assert session.get(Erasure, erasure.id) is not None
    assert all(r.person is None and r.children is None and r.personal_salt is None for r in rows[:3])
    assert all(r.erasure_id == erasure.id for r in rows[:3]) and rows[3].person is not None
    assert verify(engine, [], None).ok
