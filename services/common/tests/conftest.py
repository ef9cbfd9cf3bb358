"""A small service runtime of no particular service, for testing the foundations every service builds on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from isp_common.clock import FixedClock
from isp_common.db import create_schema, make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.settings import ServiceSettings

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(service_name="demo", var_dir=tmp_path, handler_retry_delay=0.0)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def runtime(settings: ServiceSettings, clock: FixedClock) -> ServiceRuntime:
    """A runtime on an in-memory database with the outbox and inbox tables (``isp_demo`` has no migrations)."""
    engine = make_engine("sqlite://")
    create_schema(engine)
    return ServiceRuntime(settings, title="demo", engine=engine, clock=clock)
