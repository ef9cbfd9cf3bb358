"""The search page, its CSV download, and one record's page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from isp_common.deps import Caller, ClockDep, UowDep
from isp_common.errors import DomainError
from isp_common.pages import PageCallerDep, PageSet, PageSetDep

from .. import commands, query
from ..domain.search import BASES, DECISIONS, scope_of
from .search_form import FIELDS, SearchForm, read_search_form

router = APIRouter(prefix="/ig", include_in_schema=False)
PAGE_SIZE = 50


def search_page(
    request: Request, page_set: PageSet, caller: Caller, form: SearchForm, status: int = 200, **context: object
) -> HTMLResponse:
    return page_set.render(
        request,
        "search.html",
        422 if form.errors else status,
        caller=caller,
        form=form.values,
        errors=form.errors,
        bases=BASES,
        decisions=DECISIONS,
        **context,
    )


def refused(request: Request, page_set: PageSet, caller: Caller, form: SearchForm, error: DomainError) -> HTMLResponse:
    """The search page, what was typed kept, saying what was refused, with the refusal's status."""
    return search_page(request, page_set, caller, form, error.status, refused=error.detail or error.title)


def _start(request: Request) -> int:
    text = request.query_params.get("start", "1")
    return int(text) if text.isdigit() and int(text) > 0 else 1


@router.get("/", response_class=HTMLResponse)
def search(request: Request, caller: PageCallerDep, page_set: PageSetDep, uow: UowDep, clock: ClockDep) -> Response:
    cursor = request.query_params.get("cursor")
    if not any(k in request.query_params for k in FIELDS) and cursor is None:
        return search_page(request, page_set, caller, SearchForm({}))  # the first visit: nothing asked yet
    form = read_search_form(request.query_params)
    if form.filters is None:
        return search_page(request, page_set, caller, form)
    purpose = form.values.get("purpose")
    try:
        result = commands.search(uow, caller, form.filters, PAGE_SIZE, cursor, purpose, clock.now())
    except DomainError as error:
        return refused(request, page_set, caller, form, error)
    # the count is part of the same recorded search (commands.search records the access)
    total = query.count(uow.session.connection(), form.filters, scope_org=scope_of(caller.org, caller.roles))
    start = _start(request) if cursor else 1
    return search_page(
        request,
        page_set,
        caller,
        form,
        result=result,
        total=total,
        start=start,
        query_string=urlencode(form.values),
    )


@router.get("/disclosures.csv")
def export(request: Request, caller: PageCallerDep, page_set: PageSetDep, uow: UowDep, clock: ClockDep) -> Response:
    form = read_search_form(request.query_params)
    if form.filters is None:
        return search_page(request, page_set, caller, form)
    try:
        lines = commands.export_csv(uow, caller, form.filters, form.values.get("purpose"), clock.now())
    except DomainError as error:
        return refused(request, page_set, caller, form, error)
    headers = {"Content-Disposition": 'attachment; filename="disclosures.csv"'}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/disclosures/{record_id}", response_class=HTMLResponse)
def record(
    request: Request, record_id: str, caller: PageCallerDep, page_set: PageSetDep, uow: UowDep, clock: ClockDep
) -> Response:
    try:
        found = commands.get(uow, caller, record_id, None, clock.now())
    except DomainError as error:
        return page_set.render(
            request, "refused.html", error.status, caller=caller, title=error.title, detail=error.detail
        )
    return page_set.render(request, "record.html", caller=caller, r=found)
