"""Strict input for query strings (issue 13): a query parameter no route declares is refused.

Request bodies are strict through their models (:class:`isp_schemas.StrictModel`, ``extra="forbid"``).
Query parameters are declared one by one, partly in shared dependencies (the audit search filters),
where FastAPI's query models cannot see them all; so one dependency, :data:`StrictQuery`, compares
the query string with what the matched route and its dependencies declare, and answers the same 422
problem+json an unknown body field gets: ``errors[].loc`` is ``["query", "<name>"]``. A mistyped
filter (``?persn=`` for ``?person=``) must not quietly widen a search to everything.

Use it on a router: ``APIRouter(..., dependencies=[StrictQuery])``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

UNKNOWN_PARAMETER = "Extra inputs are not permitted"
"""pydantic's words for an unknown body field, so both read alike."""


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter name ``dependant`` and its sub-dependencies declare (a query model's fields too)."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(info.alias or name for name, info in model.model_fields.items())
            else:
                names.add(field.alias)
        pending.extend(current.dependencies)
    return frozenset(names)


async def refuse_unknown_query(request: Request) -> None:
    """Raise a validation error naming each query parameter the matched route does not declare."""
    route: Any = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if not isinstance(dependant, Dependant):
        return
    known = declared_query_names(dependant)  # a walk over a handful of dependants, not worth a cache
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in known]
    if unknown:
        raise RequestValidationError(
            [{"type": "extra_forbidden", "loc": ("query", name), "msg": UNKNOWN_PARAMETER} for name in unknown]
        )


StrictQuery = Depends(refuse_unknown_query)
"""The router dependency that refuses unknown query parameters."""
