"""The verify page: recompute the chain on request."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from isp_common.deps import ClockDep, UowDep
from isp_common.pages import FormDep, PageCallerDep, PageSetDep

from .. import commands
from ..api.deps import AuditDep

router = APIRouter(prefix="/ig", include_in_schema=False)


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request, caller: PageCallerDep, page_set: PageSetDep) -> HTMLResponse:
    return page_set.render(request, "verify.html", caller=caller, verdict=None)


@router.post("/verify", response_class=HTMLResponse)
def verify(
    request: Request,
    caller: PageCallerDep,
    page_set: PageSetDep,
    _form: FormDep,
    uow: UowDep,
    clock: ClockDep,
    audit: AuditDep,
) -> HTMLResponse:
    verdict = commands.verify_chain(uow, caller, audit, clock.now())
    return page_set.render(request, "verify.html", caller=caller, verdict=verdict.as_dict())
