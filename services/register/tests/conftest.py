"""Fixtures for the register's unit tests: a real unit of work on in-memory SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import isp_register.tables  # noqa: F401 - registers the tables
import pytest
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.tables import OutboxMessage
from isp_register.handlers import open_entry
from isp_register.models import EntryOpen
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import make_nhs_number
from sqlalchemy.engine import Engine
from sqlmodel import select

KEY = b"test-partnership-key"


@pytest.fixture
def engine() -> Engine:
    engine = make_engine("sqlite://")
    create_schema(engine)
    return engine


@pytest.fixture
def uow(engine) -> Iterator[UnitOfWork]:
    with UnitOfWork(engine) as uow:
        yield uow


class Register:
    """The register's commands and outbox, as the unit tests drive and read them."""

    key = KEY

    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    @staticmethod
    def nhs(n: int) -> str:
        """A valid NHS number for each small ``n``."""
        stem = 940000000 + n * 7
        while (number := make_nhs_number(str(stem))) is None:
            stem += 1
        return number

    def open(self, org: str, number: str, now: datetime, category: str = "child_concern", **extra):
        command = EntryOpen(person={"nhs_number": number}, category=category, risk=extra.pop("risk", "high"), **extra)
        entry = open_entry(self.uow, org=org, by=f"dsl@{org.lower()}", command=command, now=now, partnership_key=KEY)
        self.uow.commit()
        return entry

    def published(self, event_type: str | None = None) -> list[CloudEvent]:
        rows = self.uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        events = [CloudEvent.from_json_bytes(row.value) for row in rows]
        return [e for e in events if event_type is None or e.type == event_type]

    def outbox_bytes(self) -> list[bytes]:
        return [row.value for row in self.uow.session.exec(select(OutboxMessage)).all()]


@pytest.fixture
def reg(uow) -> Register:
    return Register(uow)
