"""Schemathesis (v4) against every service's OpenAPI document, in process: each documented
operation gets a bounded, derandomised set of generated requests (the generate phase only),
authenticated as a role its rule in :mod:`.rules` allows, from the organisation that owns the
resource it names. Checks: no 5xx, and every response documented (status code) and conforming to
its own schema. Known findings are xfail(strict=True) with what was found."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from .conftest import World
from .rules import MOUNT, RULES

EXAMPLES_PER_OPERATION = 10
SCHEMA_GAPS: dict[tuple[str, str, str], str] = {}
NOT_READY = {("GET", "/readyz")}
"""A 503 is what these answer in process (no broker): documented, it is no server error."""
COUNTS: dict[str, int] = {"operations": 0, "cases": 0}


def _operations() -> Iterator[Any]:
    for service, table in RULES.items():
        for method, path in table:
            if (
                method == MOUNT
                or path == "/openapi.json"
                or path.startswith(("/docs", "/redoc", "/register", "/ig", "/schemas"))
            ):
                continue  # not in the OpenAPI document (pages, documentation)
            marks = []
            if reason := SCHEMA_GAPS.get((service, method, path)):
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            yield pytest.param(service, method, path, marks=marks, id=f"{service} {method} {path}")


def _without_lifespan(app: Any) -> Any:
    """The app with its lifespan (broker, consumers, loops) answered as started, never run."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    return asgi


SCHEMAS: dict[str, Any] = {}


def _schema(world: World) -> Any:
    if world.name not in SCHEMAS:
        SCHEMAS[world.name] = schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan(world.runtime.api))
    return SCHEMAS[world.name]


@pytest.mark.parametrize(("service", "method", "path"), list(_operations()))
def test_the_operation_keeps_to_its_own_schema(worlds, service, method, path):
    world, rule = worlds[service], RULES[service][method, path]
    operation = _schema(world)[path][method]
    headers: dict[str, str] = {}
    if not rule.public:
        role, scope = next(iter(rule.roles.items()))
        headers["authorization"] = f"Bearer {world.token(world.owner(path, scope), role)}"
    checks = [response_schema_conformance, status_code_conformance]
    if (method, path) not in NOT_READY:
        checks.append(not_a_server_error)
    COUNTS["operations"] += 1

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        phases=[Phase.explicit, Phase.generate],
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def generated(case: Any) -> None:
        COUNTS["cases"] += 1
        case.call_and_validate(headers=headers, checks=checks)

    generated()


def test_the_schemathesis_case_count(capsys):
    with capsys.disabled():
        print(f"\nschemathesis: {COUNTS['cases']} generated cases over {COUNTS['operations']} operations")
    assert COUNTS["operations"] == 0 or COUNTS["cases"] >= COUNTS["operations"]
