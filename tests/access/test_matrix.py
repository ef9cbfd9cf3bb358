"""Route × role × organisation: every route of every service, called with no token, and as every
role from another organisation and from the owning one, against the declared rules of
:mod:`.rules` (in process, no broker; about a minute).

- no token: 401 (a page redirects to its sign-in page); public routes answer without one;
- a role the rule does not allow: 403 (a page redirects to its sign-in page);
- an allowed role: neither 401 nor 403 (a 404, 409 or 422 after the check is fine), never a 5xx;
- another organisation on a resource of the owning one (``OWNER``, ``SENDER``, ``RECEIVER``):
  403 or 404; on its own collections (``MINE``): served, without the owner's people in it.

The calls that act run after every refusal has been tried (the refusals test comes first), so a
cancel or a delete cannot make a later refusal pass for want of the resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from isp_common.auth import ROLES
from starlette.routing import Mount

from .conftest import OTHER, World
from .rules import ALL, KNOWN_GAPS, MINE, MOUNT, RULES, Rule

CASES = [(service, method, path) for service, table in RULES.items() for (method, path) in table if method != MOUNT]
COUNTS: dict[str, int] = {"routes": 0, "calls": 0}


def _params(guarded_only: bool = False) -> Iterator[Any]:
    for service, method, path in CASES:
        if guarded_only and RULES[service][method, path].public:
            continue  # a public route has no roles to try
        marks = []
        if reason := KNOWN_GAPS.get((service, method, path)):
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        yield pytest.param(service, method, path, marks=marks, id=f"{service} {method} {path}")


def _declared_routes(world: World) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(world.runtime.api.routes):
        original = route.original_route
        if isinstance(original, Mount) or isinstance(getattr(route, "starlette_route", None), Mount):
            found.add((MOUNT, route.path))
            continue
        found.update((method, route.path) for method in route.methods or () if method != "HEAD")
    return found


@pytest.mark.parametrize("service", list(RULES))
def test_every_route_of_the_app_has_a_declared_rule_and_no_rule_is_stale(worlds, service):
    routes = _declared_routes(worlds[service])
    declared = set(RULES[service])
    assert sorted(routes - declared) == [], f"{service}: routes without an access rule in tests/access/rules.py"
    assert sorted(declared - routes) == [], f"{service}: rules for routes the app does not have"


def _signed_out(response: Any) -> bool:
    return response.status_code == 303 and response.headers.get("location", "").endswith("/login")


def _refused(rule: Rule, response: Any) -> bool:
    return response.status_code == 403 or (rule.page and _signed_out(response))


def _served(rule: Rule, response: Any) -> bool:
    return response.status_code not in (401, 403) and response.status_code < 500 and not _signed_out(response)


def _leaks(world: World, response: Any) -> list[str]:
    text = response.text
    return [s for s in sorted(world.secrets) if s in text or f"{s[:3]} {s[3:6]} {s[6:]}" in text]


def _check(world: World, method: str, path: str, rule: Rule, who: tuple[str, str] | None, want: str) -> str | None:
    """Call, count, and say what is wrong (None when the answer is the one ``want``ed); ``want`` is
    "public", "signed out", "refused", "not found", "served" or "served, own data only"."""
    response = world.call(method, path, rule, who)
    COUNTS["calls"] += 1
    status, label = response.status_code, f"{who or 'no token'}: {response.status_code} {response.text[:160]!r}"
    if want == "public":  # a sign-in page may well answer 401 to a bad sign-in
        ok = status < 500 if rule.page else status not in (401, 403)
    elif want == "signed out":
        ok = _signed_out(response) if rule.page else status == 401
    elif want == "refused":
        ok = _refused(rule, response)
    elif want == "not found":
        ok = status in (403, 404)
    else:
        ok = _served(rule, response)
    if ok and want in ("served, own data only", "not found") and (leaked := _leaks(world, response)):
        return f"{label}: shows the owner's people {leaked}"
    return None if ok else f"{label}: wanted {want}"


@pytest.mark.parametrize(("service", "method", "path"), list(_params()))
def test_without_a_token_or_from_another_organisation(worlds, service, method, path):
    world, rule = worlds[service], RULES[service][method, path]
    COUNTS["routes"] += 1
    if rule.public:
        assert _check(world, method, path, rule, None, "public") is None
        return
    wrong = [_check(world, method, path, rule, None, "signed out")]
    for role in ROLES:
        scope = rule.roles.get(role)
        want = {None: "refused", ALL: "served", MINE: "served, own data only"}.get(scope, "not found")
        wrong.append(_check(world, method, path, rule, (OTHER, role), want))
    failures = [w for w in wrong if w]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("service", "method", "path"), list(_params(guarded_only=True)))
def test_in_the_owning_organisation(worlds, service, method, path):
    world, rule = worlds[service], RULES[service][method, path]
    wrong = []
    for role in ROLES:
        scope = rule.roles.get(role)
        org = world.owner(path, scope or MINE)
        wrong.append(_check(world, method, path, rule, (org, role), "refused" if scope is None else "served"))
    failures = [w for w in wrong if w]
    assert not failures, "\n".join(failures)


def test_the_matrix_size(worlds, capsys):
    """Runs last in this module: how many routes, roles and organisation cases were tried."""
    routes = len(CASES)
    public = sum(1 for service, method, path in CASES if RULES[service][method, path].public)
    guarded = routes - public
    size = guarded * len(ROLES) * 2 + guarded + public
    with capsys.disabled():
        print(
            f"\naccess matrix: {routes} routes ({guarded} guarded, {public} public) x {len(ROLES)} roles x "
            f"(no token, own organisation, other organisation) = {size} cases; {COUNTS['calls']} calls made"
        )
    assert COUNTS["calls"] <= size  # all of them when the whole module runs
