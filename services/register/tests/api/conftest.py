"""In-process API and page tests: the runtime as bootstrap builds it, on in-memory SQLite with a
fixed clock (no broker: the TestClient runs no lifespan)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FixedClock, auth_headers, bearer, published_events
from isp_register import handlers
from isp_register.bootstrap import build
from isp_register.settings import Settings
from isp_schemas import topics
from isp_schemas.registry import parse_event

ORG = "CGL-WSX"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 31, 11, tzinfo=UTC))


@pytest.fixture
def app(tmp_path, clock) -> ServiceRuntime:
    settings = Settings(var_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", partnership_key="k")
    return build(settings, engine=make_engine("sqlite://"), clock=clock)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app.api)


@pytest.fixture
def auth(app) -> Callable[..., dict[str, str]]:
    """``auth(org=ORG, *roles)``: a DSL's (or ``roles``') Authorization header for ``org``."""

    def headers(org: str = ORG, *roles: str) -> dict[str, str]:
        return auth_headers(app.settings.resolved_key_dir, org, *(roles or ("dsl",)), sub=f"dsl@{org.lower()}")

    return headers


@pytest.fixture
def token(app) -> str:
    """A bearer token of CGL-WSX's DSL, as pasted on the sign-in page."""
    return bearer(app.settings.resolved_key_dir, ORG, "dsl", sub="dsl@cgl-wsx")


@pytest.fixture
def consume(app) -> Callable[[], None]:
    """Feed the register events in the outbox through the register's own handlers, once each (what
    the consumer of ``isp.register.v1`` does with a broker): cross-area matches appear."""
    seen: set[str] = set()

    def run() -> None:
        with app.uow() as uow:
            for event in published_events(uow.session):
                handler = handlers.HANDLERS_BY_TOPIC[topics.REGISTER].get(event.type)
                if handler is not None and event.id not in seen:
                    seen.add(event.id)
                    _, data = parse_event(event.to_json_bytes())
                    handler(uow, event, data)
            uow.commit()

    return run
