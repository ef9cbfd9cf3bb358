"""Fixtures for the referrals service's tests: a real unit of work on in-memory SQLite (migrated
as in production), the due-date rules, and referrals made as a practitioner would make them.

The general helpers (NHS numbers, outbox events, tokens, a fixed clock) are isp_common.testing's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from isp_common.db import UnitOfWork
from isp_common.testing import migrated_unit_of_work, nhs_number, published_events, unique
from isp_common.workingdays import WorkingCalendar
from isp_referrals import commands
from isp_referrals.commands import Actor
from isp_referrals.domain import DueRules
from isp_referrals.tables import Referral
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralRequested

from .kit import record_decision

CSC, PROVIDER, NHS = "WSCC-CSC", "CGL-WSX", nhs_number(0)


@pytest.fixture
def uow() -> Iterator[UnitOfWork]:
    """A unit of work on its own migrated in-memory database; a test commits it between steps."""
    yield from migrated_unit_of_work("isp_referrals")


@pytest.fixture
def rules() -> DueRules:
    return DueRules(WorkingCalendar())


@pytest.fixture
def request_data() -> Callable[..., ReferralRequested]:
    """``request_data(**overrides)``: a referral from social care to treatment unless overridden."""

    def make(**overrides: Any) -> ReferralRequested:
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
        return ReferralRequested.model_validate({**fields, **overrides})

    return make


@pytest.fixture
def to_social_care(request_data: Callable[..., ReferralRequested]) -> Callable[..., ReferralRequested]:
    """``to_social_care(**overrides)``: a provider's referral to children's social care."""

    def make(**overrides: Any) -> ReferralRequested:
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
        return request_data(**{**base, **overrides})

    return make


@pytest.fixture
def make(uow: UnitOfWork, rules: DueRules, request_data: Callable[..., ReferralRequested]) -> Callable[..., Referral]:
    """``make(at, data=None, shared=True)``: a referral made over HTTP at ``at`` by its sender
    (committed), and unless ``shared=False`` shared in full with its receiver at once (the
    decision the notifications service would audit), so that the receiver may act on it."""

    def refer(at: datetime, data: ReferralRequested | None = None, shared: bool = True) -> Referral:
        data = data or request_data()
        actor = Actor("sw-1", CSC) if data.from_org == CSC else Actor("dap-1", PROVIDER)
        referral = commands.make_referral(uow, data, actor, at, rules)
        uow.commit()
        if shared:
            record_decision(uow, referral, at)
        return referral

    return refer


@pytest.fixture
def published(uow: UnitOfWork) -> Callable[..., list[CloudEvent]]:
    """``published(event_type=None)``: the events queued in the outbox, oldest first."""
    return partial(published_events, uow.session)
