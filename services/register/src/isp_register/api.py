"""HTTP adapter for the safeguarding register (CONTRACT §7): validate -> handler -> view.

Every route needs role ``dsl``; the organisation is the caller's (from the token), and an
entry of another organisation answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from isp_common.auth import Caller, ensure_own_org, require_roles
from isp_common.db import UnitOfWork
from isp_common.problems import Problem, problem_responses
from isp_common.runtime import ServiceRuntime
from isp_common.workingdays import london_date
from isp_schemas.register import RegisterCategory
from sqlalchemy import or_
from sqlmodel import select

from . import domain, handlers, reviews, views
from .models import EntryClose, EntryOpen, EntryReview, EntryUpdate, WeeklyReviewCreate
from .tables import RegisterCrossAreaMatch, RegisterEntry

Clock = Callable[[], datetime]
Dsl = Annotated[Caller, Depends(require_roles("dsl"))]


def system_clock() -> datetime:
    return datetime.now(UTC)


def own_entry(uow: UnitOfWork, caller: Caller, entry_id: str) -> RegisterEntry:
    entry = uow.session.get(RegisterEntry, entry_id)
    if entry is None:
        raise Problem(404, "Not Found", f"No register entry {entry_id}.")
    ensure_own_org(caller, entry.org)
    return entry


def entry_matches(uow: UnitOfWork, entry_id: str) -> list[RegisterCrossAreaMatch]:
    stmt = select(RegisterCrossAreaMatch).where(
        or_(RegisterCrossAreaMatch.entry_id == entry_id, RegisterCrossAreaMatch.other_entry_id == entry_id)
    )
    return list(uow.session.exec(stmt))


def detail(uow: UnitOfWork, entry: RegisterEntry, now: datetime) -> dict[str, Any]:
    return views.entry_detail(entry, handlers.history(uow, entry.id), entry_matches(uow, entry.id), london_date(now))


def as_problem(exc: domain.RuleBroken) -> Problem:
    if isinstance(exc, domain.InvalidDate):
        return Problem(422, "Request is not valid", str(exc))
    return Problem(409, "Conflict", str(exc))


def install(runtime: ServiceRuntime, clock: Clock = system_clock) -> None:
    router = APIRouter(prefix="/v1/register", tags=["register"], responses=problem_responses(401, 403, 422))
    key = runtime.settings.partnership_key.encode()

    @router.post("/entries", status_code=201, summary="Put a person on your organisation's register")
    def open_entry(body: EntryOpen, caller: Dsl) -> JSONResponse:
        now = clock()
        with runtime.uow() as uow:
            try:
                entry = handlers.open_entry(
                    uow, org=caller.org, by=caller.sub, command=body, now=now, partnership_key=key
                )
            except domain.RuleBroken as exc:
                raise as_problem(exc) from None
            uow.commit()
            body_out = detail(uow, entry, now)
        return JSONResponse(body_out, status_code=201, headers={"Location": f"/v1/register/entries/{body_out['id']}"})

    @router.get("/entries", summary="Your organisation's register entries")
    def list_entries(
        caller: Dsl,
        status: Literal["open", "closed", "all"] = "open",
        review_overdue: bool | None = None,
        category: RegisterCategory | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> dict[str, Any]:
        today = london_date(clock())
        stmt = select(RegisterEntry).where(RegisterEntry.org == caller.org)
        if status != "all":
            stmt = stmt.where(RegisterEntry.status == status)
        if category is not None:
            stmt = stmt.where(RegisterEntry.category == category)
        if review_overdue is not None:
            overdue = (RegisterEntry.status == "open") & (RegisterEntry.review_due < today)
            stmt = stmt.where(overdue if review_overdue else ~overdue)
        stmt = stmt.order_by(RegisterEntry.review_due, RegisterEntry.id).limit(limit)
        with runtime.uow() as uow:
            return {"items": [views.entry_summary(e, today) for e in uow.session.exec(stmt)]}

    @router.get("/entries/{entry_id}", summary="An entry with its full history", responses=problem_responses(404))
    def get_entry(entry_id: str, caller: Dsl) -> dict[str, Any]:
        with runtime.uow() as uow:
            return detail(uow, own_entry(uow, caller, entry_id), clock())

    def act(entry_id: str, caller: Caller, action: Callable[..., RegisterEntry], command: Any) -> dict[str, Any]:
        now = clock()
        with runtime.uow() as uow:
            entry = own_entry(uow, caller, entry_id)
            try:
                action(uow, entry, by=caller.sub, command=command, now=now)
            except domain.RuleBroken as exc:
                raise as_problem(exc) from None
            uow.commit()
            return detail(uow, entry, now)

    @router.post(
        "/entries/{entry_id}/reviews",
        status_code=201,
        summary="Record a review; the next is due a month on",
        responses=problem_responses(404, 409),
    )
    def review_entry(entry_id: str, body: EntryReview, caller: Dsl) -> dict[str, Any]:
        return act(entry_id, caller, handlers.review_entry, body)

    @router.patch("/entries/{entry_id}", summary="Change an entry's details", responses=problem_responses(404, 409))
    def update_entry(entry_id: str, body: EntryUpdate, caller: Dsl) -> dict[str, Any]:
        return act(entry_id, caller, handlers.update_entry, body)

    @router.post("/entries/{entry_id}/close", summary="Close an entry", responses=problem_responses(404, 409))
    def close_entry(entry_id: str, caller: Dsl, body: EntryClose | None = None) -> dict[str, Any]:
        return act(entry_id, caller, handlers.close_entry, body or EntryClose())

    @router.get("/worklist", summary="The DSL's weekly worklist for your organisation")
    def worklist(caller: Dsl) -> dict[str, Any]:
        with runtime.uow() as uow:
            return views.worklist_view(reviews.worklist(uow, caller.org, clock()))

    @router.post("/weekly-reviews", status_code=201, summary="Record the DSL's weekly review of the register")
    def record_weekly_review(caller: Dsl, body: WeeklyReviewCreate | None = None) -> dict[str, Any]:
        with runtime.uow() as uow:
            notes = body.notes if body else ""
            review = reviews.record_weekly_review(uow, org=caller.org, by=caller.sub, notes=notes, now=clock())
            uow.commit()
            return views.weekly_review_view(review)

    @router.get("/weekly-reviews", summary="Your organisation's weekly reviews, newest first")
    def list_weekly_reviews(caller: Dsl) -> dict[str, Any]:
        with runtime.uow() as uow:
            return {
                "items": [views.weekly_review_view(r) for r in reviews.weekly_reviews(uow, caller.org)],
                "missed": [views.missed_week_view(m) for m in reviews.missed_weeks(uow, caller.org)],
            }

    runtime.api.include_router(router)
