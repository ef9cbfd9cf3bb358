"""The Annotated dependencies every router uses, on a real ServiceRuntime app: runtime, unit of
work, clock and caller all come from the runtime the app was built with."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from isp_common.clock import FixedClock
from isp_common.deps import Caller, CallerDep, ClockDep, RuntimeDep, UowDep, require_roles
from isp_common.errors import Conflict
from isp_common.runtime import ServiceRuntime
from isp_common.testing import auth_headers, outbox_events
from isp_schemas import topics
from isp_schemas.consent import ConsentGiven
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from pydantic import BaseModel

DslDep = Annotated[Caller, Depends(require_roles("dsl"))]


class About(BaseModel):
    service: str
    now: datetime


class Queued(BaseModel):
    event_id: str


class Who(BaseModel):
    org: str
    roles: list[str]


router = APIRouter()


@router.get("/about")
def about(runtime: RuntimeDep) -> About:
    return About(service=runtime.name, now=runtime.clock.now())


@router.get("/now")
def now(clock: ClockDep) -> About:
    return About(service="clock", now=clock.now())


@router.post("/consents")
def record_consent(uow: UowDep, clock: ClockDep, outcome: str = "commit") -> Queued:
    data = ConsentGiven.model_validate(EXAMPLES[ConsentGiven.event_type])
    event = CloudEvent.create(type=data.event_type, source_org=data.recorded_by, data=data, time=clock.now())
    uow.publish(event, topics.CONSENT)
    if outcome == "refuse":
        raise Conflict("Refused after queueing: nothing may leave.")
    if outcome == "commit":
        uow.commit()
    return Queued(event_id=event.id)


@router.get("/me")
def me(caller: CallerDep) -> Who:
    return Who(org=caller.org, roles=sorted(caller.roles))


@router.get("/dsl-only")
def dsl_only(caller: DslDep) -> Who:
    return Who(org=caller.org, roles=sorted(caller.roles))


@pytest.fixture
def client(runtime: ServiceRuntime) -> TestClient:
    runtime.api.include_router(router)
    return TestClient(runtime.api)


def test_runtime_dep_is_the_runtime_the_app_was_built_with(client: TestClient, clock: FixedClock) -> None:
    body = client.get("/about").json()
    assert body["service"] == "demo" and datetime.fromisoformat(body["now"]) == clock.now()


def test_clock_dep_is_the_runtimes_clock_so_a_test_moves_time(client: TestClient, clock: FixedClock) -> None:
    first = datetime.fromisoformat(client.get("/now").json()["now"])
    clock.advance(hours=3)
    assert datetime.fromisoformat(client.get("/now").json()["now"]) == first + timedelta(hours=3) == clock.now()


def test_uow_dep_keeps_what_the_command_committed(client: TestClient, runtime: ServiceRuntime) -> None:
    queued = client.post("/consents").json()
    assert [e["id"] for e in outbox_events(runtime.engine, topics.CONSENT)] == [queued["event_id"]]


@pytest.mark.parametrize("outcome", ["leave-uncommitted", "refuse"])
def test_uow_dep_rolls_back_what_the_command_did_not_commit(
    client: TestClient, runtime: ServiceRuntime, outcome: str
) -> None:
    response = client.post("/consents", params={"outcome": outcome})
    assert response.status_code == (409 if outcome == "refuse" else 200)
    assert outbox_events(runtime.engine) == []


def test_caller_dep_names_the_caller_of_a_valid_token(client: TestClient, runtime: ServiceRuntime) -> None:
    headers = auth_headers(runtime.settings.resolved_key_dir, "WSCC-CSC", "social_care", "dsl")
    assert client.get("/me", headers=headers).json() == {"org": "WSCC-CSC", "roles": ["dsl", "social_care"]}
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401


def test_a_role_alias_refuses_callers_without_the_role(client: TestClient, runtime: ServiceRuntime) -> None:
    key_dir = runtime.settings.resolved_key_dir
    refused = client.get("/dsl-only", headers=auth_headers(key_dir, "CGL-WSX", "provider"))
    assert refused.status_code == 403 and refused.json()["detail"] == "This needs the role dsl."
    assert client.get("/dsl-only", headers=auth_headers(key_dir, "CGL-WSX", "dsl")).json()["org"] == "CGL-WSX"


def test_many_requests_at_once_never_starve_the_connection_pool(tmp_path) -> None:
    """More requests in flight than request threads: each still gets its unit of work.

    With a bounded pool, route bodies waiting for a connection held every request thread, while
    the connections were held by finished requests waiting for a thread to validate their
    responses before closing their unit of work: the service stalled until the pool timed out."""
    import asyncio

    import anyio.to_thread
    import httpx
    from isp_common.db import make_engine
    from isp_common.settings import ServiceSettings
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    small = ServiceRuntime(ServiceSettings(var_dir=tmp_path), title="pool", engine=engine)
    pool_router = APIRouter()

    @pool_router.get("/read")
    def read(uow: UowDep) -> Queued:
        uow.session.connection().execute(text("SELECT 1"))
        return Queued(event_id="read")

    small.api.include_router(pool_router)

    async def burst() -> list[int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 4
        transport = httpx.ASGITransport(app=small.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://pool", timeout=20) as client:
            answers = await asyncio.gather(*(client.get("/read") for _ in range(60)))
        return [a.status_code for a in answers]

    assert asyncio.run(burst()) == [200] * 60
