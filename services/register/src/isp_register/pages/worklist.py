"""The DSL's weekly worklist page, and recording the weekly review from it."""

from __future__ import annotations

from fastapi import APIRouter, Response
from isp_common.pages import FormDep, PageSetDep

from .. import commands, views
from ..models import WeeklyReviewCreate
from .page import PREFIX, DslPageDep

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/")
def home(pages: PageSetDep) -> Response:
    return pages.redirect("/worklist")


@router.get("/worklist")
def worklist_page(page: DslPageDep, recorded: str | None = None) -> Response:
    found = commands.worklist(page.uow, page.caller.org, page.clock.now())
    work = views.worklist_view(found, commands.seen_by(page.uow, page.caller.org, found.matches))
    return page.render("worklist.html", work=work.model_dump(mode="json"), recorded=recorded)


@router.post("/weekly-reviews")
def weekly_review(page: DslPageDep, form: FormDep) -> Response:
    command = WeeklyReviewCreate(notes=form.get("notes", "")[:20000])
    org, by = page.caller.org, page.caller.sub
    commands.record_weekly_review(page.uow, org=org, by=by, notes=command.notes, now=page.clock.now())
    page.uow.commit()
    return page.redirect("/worklist?recorded=1")
