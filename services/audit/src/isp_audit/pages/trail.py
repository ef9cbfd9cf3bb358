"""The search page, its CSV download, and one record's page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from isp_common.deps import Caller, ClockDep, UowDep
from isp_common.errors import DomainError
from isp_common.pages import PageCallerDep, PageSet, PageSetDep

from .. import commands
from ..domain.search import BASES, filters_from_form

router = APIRouter(prefix="/ig", include_in_schema=False)
FORM_FIELDS = ("person", "org", "since", "until", "basis", "decision", "purpose")
PAGE_SIZE = 50


def search_form(request: Request) -> dict[str, str]:
    """The search fields the query string fills in (blank ones left out)."""
    return {k: v.strip() for k in FORM_FIELDS if (v := request.query_params.get(k, "")).strip()}


def refused(request: Request, page_set: PageSet, caller: Caller, error: DomainError) -> HTMLResponse:
    """The search page with what was refused, answered with the refusal's status."""
    return page_set.render(
        request,
        "search.html",
        error.status,
        caller=caller,
        form={},
        result=None,
        bases=BASES,
        error=error.detail or error.title,
    )


@router.get("/", response_class=HTMLResponse)
def search(request: Request, caller: PageCallerDep, page_set: PageSetDep, uow: UowDep, clock: ClockDep) -> Response:
    form = search_form(request)
    cursor = request.query_params.get("cursor")
    result = None
    try:
        if any(k != "purpose" for k in form) or cursor is not None:
            filters = filters_from_form(form)
            result = commands.search(uow, caller, filters, PAGE_SIZE, cursor, form.get("purpose"), clock.now())
    except DomainError as error:
        return refused(request, page_set, caller, error)
    return page_set.render(
        request,
        "search.html",
        caller=caller,
        form=form,
        result=result,
        bases=BASES,
        query_string=urlencode(form),
    )


@router.get("/disclosures.csv")
def export(request: Request, caller: PageCallerDep, page_set: PageSetDep, uow: UowDep, clock: ClockDep) -> Response:
    form = search_form(request)
    try:
        lines = commands.export_csv(uow, caller, filters_from_form(form), form.get("purpose"), clock.now())
    except DomainError as error:
        return refused(request, page_set, caller, error)
    headers = {"Content-Disposition": 'attachment; filename="disclosures.csv"'}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/disclosures/{record_id}", response_class=HTMLResponse)
def record(
    request: Request, record_id: str, caller: PageCallerDep, page_set: PageSetDep, uow: UowDep, clock: ClockDep
) -> Response:
    try:
        found = commands.get(uow, caller, record_id, None, clock.now())
    except DomainError as error:
        return refused(request, page_set, caller, error)
    return page_set.render(request, "record.html", caller=caller, r=found)
