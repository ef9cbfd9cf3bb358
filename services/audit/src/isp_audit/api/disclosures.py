"""``/v1/disclosures``: the disclosure records, for information-governance officers (CONTRACT §8)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from isp_common.deps import ClockDep, UowDep
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery

from .. import commands
from .deps import FiltersDep, IgCaller, Purpose
from .models import DisclosurePage, DisclosureRecordPublic, FhirAuditEvent

router = APIRouter(
    prefix="/v1/disclosures",
    dependencies=[StrictQuery],
    tags=["disclosures"],
    responses=problem_responses(400, 401, 403, 404, 422),
)


class FhirResponse(JSONResponse):
    media_type = "application/fhir+json"


@router.get("", summary="Disclosure records, newest first", response_model=DisclosurePage)
def list_disclosures(
    caller: IgCaller,
    filters: FiltersDep,
    uow: UowDep,
    clock: ClockDep,
    purpose: Purpose = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DisclosurePage:
    page = commands.search(uow, caller, filters, limit, cursor, purpose, clock.now())
    return DisclosurePage.model_validate(page)


@router.get(
    ".csv",
    summary="The same search as CSV, streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per record, newest first."}},
)
def export_csv(
    caller: IgCaller, filters: FiltersDep, uow: UowDep, clock: ClockDep, purpose: Purpose = None
) -> StreamingResponse:
    lines = commands.export_csv(uow, caller, filters, purpose, clock.now())
    headers = {"Content-Disposition": 'attachment; filename="disclosures.csv"'}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/{record_id}", summary="One disclosure record", response_model=DisclosureRecordPublic)
def get_disclosure(
    caller: IgCaller, record_id: str, uow: UowDep, clock: ClockDep, purpose: Purpose = None
) -> DisclosureRecordPublic:
    return DisclosureRecordPublic.model_validate(commands.get(uow, caller, record_id, purpose, clock.now()))


@router.get(
    "/{record_id}/fhir",
    summary="One disclosure record as a FHIR R4 AuditEvent (IHE BALP privacy disclosure)",
    response_model=FhirAuditEvent,
    response_class=FhirResponse,
)
def get_fhir(caller: IgCaller, record_id: str, uow: UowDep, clock: ClockDep, purpose: Purpose = None) -> FhirResponse:
    return FhirResponse(commands.get_fhir(uow, caller, record_id, purpose, clock.now()))
