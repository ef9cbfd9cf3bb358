"""The IG API's own dependencies: the audit context, the callers it admits, the search filters."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query
from isp_common.deps import Caller, RuntimeDep, require_roles

from ..context import Audit
from ..domain.search import BASES, Filters, filters_from_query

ORG_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,31}$"


def context_of(runtime: RuntimeDep) -> Audit:
    audit = runtime.context
    assert isinstance(audit, Audit)
    return audit


AuditDep = Annotated[Audit, Depends(context_of)]
IgCaller = Annotated[Caller, Depends(require_roles("ig_officer", "partnership_ig"))]
PartnershipCaller = Annotated[Caller, Depends(require_roles("partnership_ig"))]
Purpose = Annotated[str | None, Query(max_length=500, description="Why you are asking (recorded).")]


def search_filters(
    person: Annotated[str | None, Query(pattern=r"^\d{10}$", description="NHS number")] = None,
    org: Annotated[str | None, Query(pattern=ORG_PATTERN, description="Discloser or recipient")] = None,
    since: Annotated[str | None, Query(description="Date (Europe/London) or RFC 3339 time, inclusive")] = None,
    until: Annotated[str | None, Query(description="Date (whole day included) or RFC 3339 time, exclusive")] = None,
    decision: Annotated[Literal["shared", "withheld", "received"] | None, Query()] = None,
    basis: Annotated[str | None, Query(description=f"One of {', '.join(BASES)}")] = None,
) -> Filters:
    return filters_from_query(person=person, org=org, since=since, until=until, decision=decision, basis=basis)


FiltersDep = Annotated[Filters, Depends(search_filters)]
