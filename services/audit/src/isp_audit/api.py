"""HTTP adapter for information-governance officers (CONTRACT §8)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import JSONResponse, StreamingResponse
from isp_common.auth import Caller, require_roles
from isp_common.problems import Problem, problem_responses
from isp_common.runtime import ServiceRuntime
from sqlmodel import Session

from . import query
from .reconciliation import reconcile
from .service import AuditQueries

IgCaller = Annotated[Caller, Depends(require_roles("ig_officer", "partnership_ig"))]
PartnershipCaller = Annotated[Caller, Depends(require_roles("partnership_ig"))]
ORG_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,31}$"
Purpose = Annotated[str | None, Query(max_length=500, description="Why you are asking (recorded).")]


def filters_dependency(
    person: Annotated[str | None, Query(pattern=r"^\d{10}$", description="NHS number")] = None,
    org: Annotated[str | None, Query(pattern=ORG_PATTERN, description="Discloser or recipient")] = None,
    since: Annotated[str | None, Query(description="Date (Europe/London) or RFC 3339 time, inclusive")] = None,
    until: Annotated[str | None, Query(description="Date (whole day included) or RFC 3339 time, exclusive")] = None,
    decision: Annotated[Literal["shared", "withheld", "received"] | None, Query()] = None,
    basis: Annotated[str | None, Query(description=f"One of {', '.join(query.BASES)}")] = None,
) -> query.Filters:
    if basis is not None and basis not in query.BASES:
        raise Problem(422, "Request is not valid", f"basis must be one of {', '.join(query.BASES)}.")
    try:
        return query.Filters(
            person=person,
            org=org,
            since=query.bound(since, end=False),
            until=query.bound(until, end=True),
            decision=decision,
            basis=basis,
        )
    except ValueError as exc:
        raise Problem(422, "Request is not valid", f"since/until: {exc}") from None


FiltersDep = Annotated[query.Filters, Depends(filters_dependency)]


def install(runtime: ServiceRuntime, queries: AuditQueries) -> None:
    api = runtime.api
    errors = problem_responses(400, 401, 403, 404, 422)

    @api.get("/v1/disclosures", tags=["disclosures"], summary="Disclosure records, newest first", responses=errors)
    def list_disclosures(
        caller: IgCaller,
        filters: FiltersDep,
        purpose: Purpose = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        return queries.search(caller, filters, limit, cursor, purpose)

    @api.get(
        "/v1/disclosures.csv",
        tags=["disclosures"],
        summary="The same search as CSV, streamed",
        responses=errors,
        response_class=StreamingResponse,
    )
    def export_csv(caller: IgCaller, filters: FiltersDep, purpose: Purpose = None) -> StreamingResponse:
        lines = queries.csv(caller, filters, purpose)
        headers = {"Content-Disposition": 'attachment; filename="disclosures.csv"'}
        return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)

    @api.get("/v1/disclosures/{record_id}", tags=["disclosures"], summary="One disclosure record", responses=errors)
    def get_disclosure(caller: IgCaller, record_id: str, purpose: Purpose = None) -> dict[str, Any]:
        return queries.get(caller, record_id, purpose)

    @api.get(
        "/v1/disclosures/{record_id}/fhir",
        tags=["disclosures"],
        responses=errors,
        summary="One disclosure record as a FHIR R4 AuditEvent (IHE BALP privacy disclosure)",
    )
    def get_fhir(caller: IgCaller, record_id: str, purpose: Purpose = None) -> JSONResponse:
        return JSONResponse(queries.fhir(caller, record_id, purpose), media_type="application/fhir+json")

    @api.get(
        "/v1/verify",
        tags=["integrity"],
        summary="Recompute the hash chain and check the checkpoints",
        responses=problem_responses(401, 403),
    )
    def verify_chain(caller: IgCaller) -> dict[str, Any]:
        return queries.verify(caller).as_dict()

    @api.get(
        "/v1/reconciliation",
        tags=["integrity"],
        responses=problem_responses(401, 403),
        summary="Alerts delivered vs shared records: every share recorded once, every record a real alert",
    )
    def reconciliation(caller: PartnershipCaller) -> dict[str, Any]:
        queries.record_access(caller, "reconciliation", {}, None)
        with Session(runtime.engine) as session:
            report = reconcile(session, grace_seconds=runtime.settings.reconciliation_grace_seconds)
        return report.as_dict()
