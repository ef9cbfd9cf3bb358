"""Building disclosure events and audit databases: for tests and the benchmark smoke test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from isp_common.db import create_schema, make_engine
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.examples import EXAMPLES
from sqlmodel import Session

from isp_audit import guard
from isp_audit.handlers import append_disclosure

START = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
NHS = "9434765919"
OTHER_NHS = "9434765870"


def disclosure(**overrides) -> DisclosureRecorded:
    data = {**EXAMPLES[DisclosureRecorded.event_type], "alert_id": f"alert-{uuid.uuid4().hex[:10]}", **overrides}
    return DisclosureRecorded.model_validate(data)


def engine_with(n: int, url: str = "sqlite://", start: datetime = START):
    engine = make_engine(url)
    create_schema(engine)
    guard.install_triggers(engine)
    with Session(engine) as session:
        for i in range(n):
            person = NHS if i % 2 == 0 else OTHER_NHS
            discloser, recipient = ("CGL-WSX", "WSCC-CSC") if i % 3 else ("WSCC-CSC", "CGL-WSX")
            shared_at = start + timedelta(hours=i)
            append_disclosure(
                session,
                disclosure(person=person, discloser=discloser, recipient=recipient, shared_at=shared_at),
                now=shared_at + timedelta(seconds=1),
            )
            session.flush()
        session.commit()
    return engine
