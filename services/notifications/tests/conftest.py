"""Fixtures for the notifications service's tests: a unit of work on a migrated in-memory
SQLite database (handlers and rules), and the service itself as ``bootstrap.build`` makes it,
with an in-memory engine, a fixed clock and a fake HTTP client (delivery loop and API).

The general helpers (NHS numbers, outbox events, tokens, the fixed clock, the fake HTTP
client) are isp_common.testing's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from isp_common.db import UnitOfWork, make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FakeHttpClient, FixedClock, migrated_unit_of_work
from isp_notifications.bootstrap import build
from isp_notifications.settings import Settings
from sqlalchemy.engine import Engine


@pytest.fixture
def uow() -> Iterator[UnitOfWork]:
    """A unit of work on its own migrated in-memory database; a test commits it between steps."""
    yield from migrated_unit_of_work("isp_notifications")


@pytest.fixture
def clock() -> FixedClock:
    """Tuesday 10 March 2026, noon (GMT)."""
    return FixedClock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))


@pytest.fixture
def make_runtime(tmp_path: Path, clock: FixedClock) -> Callable[..., ServiceRuntime]:
    """``make_runtime(http_client=None, engine=None, **settings)``: the service, on its own in-memory
    database unless given an engine, posting webhooks through ``http_client`` (default: all 200)."""

    def make(
        http_client: httpx.AsyncClient | None = None, engine: Engine | None = None, **settings: Any
    ) -> ServiceRuntime:
        return build(
            Settings(var_dir=tmp_path, **settings),
            engine=engine or make_engine("sqlite://"),
            clock=clock,
            http_client=http_client or FakeHttpClient(),
        )

    return make
