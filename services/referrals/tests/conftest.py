"""Fixtures for the referrals service's unit tests: a real unit of work on in-memory SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.tables import OutboxMessage
from isp_common.testing import unique
from isp_common.workingdays import WorkingCalendar
from isp_referrals import handlers
from isp_referrals.commands import Actor
from isp_referrals.domain import DueRules
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralRequested
from sqlmodel import select

CSC = "WSCC-CSC"
PROVIDER = "CGL-WSX"
NHS = "9434765919"
SOCIAL_WORKER = Actor(sub="sw-1", org=CSC)
PRACTITIONER = Actor(sub="dap-1", org=PROVIDER)


@pytest.fixture
def engine():
    engine = make_engine("sqlite://")
    create_schema(engine)
    return engine


@pytest.fixture
def uow(engine) -> Iterator[UnitOfWork]:
    with UnitOfWork(engine) as unit:
        yield unit


@pytest.fixture
def rules() -> DueRules:
    return DueRules(WorkingCalendar())


def request_data(**overrides: Any) -> ReferralRequested:
    """A referral from social care to treatment unless overridden."""
    fields: dict[str, Any] = {
        "referral_id": unique("ref-"),
        "direction": "to_treatment",
        "from_org": CSC,
        "to_org": PROVIDER,
        "person": {"nhs_number": NHS, "given_name": "Sam"},
        "children": [{"local_id": "C-1"}],
        "rag": "amber",
        "summary": "Parent misusing alcohol; child on a CIN plan",
        "consent_id": "con-1",
        "parent_agreed": True,
        "concerns": ["alcohol", "neglect"],
        "history": "Known to CSC since 2023",
        "known_to_treatment": False,
    }
    fields.update(overrides)
    return ReferralRequested.model_validate(fields)


def to_social_care(**overrides: Any) -> ReferralRequested:
    base: dict[str, Any] = {
        "direction": "to_social_care",
        "from_org": PROVIDER,
        "to_org": CSC,
        "threshold": "child_in_need_s17",
        "consent_id": None,
        "parent_agreed": None,
        "concerns": [],
        "history": None,
        "known_to_treatment": None,
    }
    base.update(overrides)
    return request_data(**base)


def make(uow: UnitOfWork, rules: DueRules, at: datetime, data: ReferralRequested | None = None):
    """A referral made over HTTP at ``at`` (committed)."""
    data = data or request_data()
    actor = SOCIAL_WORKER if data.from_org == CSC else PRACTITIONER
    referral = handlers.make_referral(uow, data, actor, at, rules)
    uow.commit()
    return referral


def published(uow: UnitOfWork, event_type: str | None = None) -> list[CloudEvent]:
    rows = uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    events = [CloudEvent.from_json_bytes(r.value) for r in rows]
    return [e for e in events if event_type is None or e.type == event_type]


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


class Kit:
    """The helpers above, as a fixture (test modules cannot import conftest)."""

    CSC = CSC
    PROVIDER = PROVIDER
    NHS = NHS
    SOCIAL_WORKER = SOCIAL_WORKER
    PRACTITIONER = PRACTITIONER
    request_data = staticmethod(request_data)
    to_social_care = staticmethod(to_social_care)
    make = staticmethod(make)
    published = staticmethod(published)
    at = staticmethod(at)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
