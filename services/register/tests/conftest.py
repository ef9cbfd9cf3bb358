"""The register's unit-test fixtures: a unit of work on in-memory SQLite (migrated as in
production), an entry opener, and the outbox read back as CloudEvents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from isp_common.db import UnitOfWork
from isp_common.testing import migrated_unit_of_work, published_events
from isp_register import commands
from isp_register.models import EntryOpen
from isp_register.tables import RegisterEntry
from isp_schemas.envelope import CloudEvent

KEY = b"test-partnership-key"


@pytest.fixture
def uow() -> Iterator[UnitOfWork]:
    """A unit of work on its own migrated in-memory database; a test commits it between steps."""
    yield from migrated_unit_of_work("isp_register")


@pytest.fixture
def partnership_key() -> bytes:
    return KEY


@pytest.fixture
def open_entry(uow: UnitOfWork) -> Callable[..., RegisterEntry]:
    """``open_entry(org, nhs_number, now, category="child_concern", risk="high", **fields)``, committed."""

    def open_(org: str, number: str, now: datetime, category: str = "child_concern", **extra: Any) -> RegisterEntry:
        command = EntryOpen.model_validate(
            {"person": {"nhs_number": number}, "category": category, "risk": extra.pop("risk", "high"), **extra}
        )
        by = f"dsl@{org.lower()}"
        entry = commands.open_entry(uow, org=org, by=by, command=command, now=now, partnership_key=KEY)
        uow.commit()
        return entry

    return open_


@pytest.fixture
def published(uow: UnitOfWork) -> Callable[..., list[CloudEvent]]:
    """``published(event_type=None)``: the CloudEvents in the outbox, oldest first."""
    return partial(published_events, uow.session)
