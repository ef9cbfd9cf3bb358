"""The DSL's weekly review: ``/v1/register/worklist`` and ``/v1/register/weekly-reviews``."""

from __future__ import annotations

from fastapi import APIRouter
from isp_common.deps import ClockDep, UowDep
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery

from .. import commands, views
from ..models import WeeklyReviewCreate, WeeklyReviewList, WeeklyReviewPublic, WorklistPublic
from .deps import Dsl

router = APIRouter(
    prefix="/v1/register", dependencies=[StrictQuery], tags=["register"], responses=problem_responses(401, 403, 422)
)


@router.get("/worklist", response_model=WorklistPublic, summary="The DSL's weekly worklist for your organisation")
def worklist(caller: Dsl, uow: UowDep, clock: ClockDep) -> WorklistPublic:
    work = commands.worklist(uow, caller.org, clock.now())
    return views.worklist_view(work, commands.seen_by(uow, caller.org, work.matches))


@router.post(
    "/weekly-reviews",
    status_code=201,
    response_model=WeeklyReviewPublic,
    summary="Record the DSL's weekly review of the register",
)
def record_weekly_review(
    caller: Dsl, uow: UowDep, clock: ClockDep, body: WeeklyReviewCreate | None = None
) -> WeeklyReviewPublic:
    notes = body.notes if body else ""
    review = commands.record_weekly_review(uow, org=caller.org, by=caller.sub, notes=notes, now=clock.now())
    uow.commit()
    return views.weekly_review_view(review)


@router.get(
    "/weekly-reviews", response_model=WeeklyReviewList, summary="Your organisation's weekly reviews, newest first"
)
def list_weekly_reviews(caller: Dsl, uow: UowDep) -> WeeklyReviewList:
    return WeeklyReviewList(
        items=[views.weekly_review_view(r) for r in commands.weekly_reviews(uow, caller.org)],
        missed=[views.missed_week_view(m) for m in commands.missed_weeks(uow, caller.org)],
    )
