"""``/v1/register/entries``: one organisation's register entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from isp_common.clock import Clock
from isp_common.db import UnitOfWork
from isp_common.deps import Caller, ClockDep, UowDep
from isp_common.problems import problem_responses
from isp_common.workingdays import london_date
from isp_schemas.register import RegisterCategory

from .. import commands, views
from ..models import EntryClose, EntryDetail, EntryList, EntryOpen, EntryReview, EntryUpdate
from ..tables import RegisterEntry
from .deps import Dsl, RegisterDep

router = APIRouter(prefix="/v1/register/entries", tags=["register"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    status_code=201,
    response_model=EntryDetail,
    summary="Put a person on your organisation's register",
    responses=problem_responses(409),
)
def open_entry(
    caller: Dsl, uow: UowDep, clock: ClockDep, register: RegisterDep, body: EntryOpen, response: Response
) -> EntryDetail:
    now = clock.now()
    entry = commands.open_entry(
        uow, org=caller.org, by=caller.sub, command=body, now=now, partnership_key=register.partnership_key
    )
    uow.commit()
    response.headers["Location"] = f"/v1/register/entries/{entry.id}"
    return commands.entry_detail(uow, entry, london_date(now))


@router.get("", response_model=EntryList, summary="Your organisation's register entries")
def list_entries(
    caller: Dsl,
    uow: UowDep,
    clock: ClockDep,
    status: Literal["open", "closed", "all"] = "open",
    review_overdue: bool | None = None,
    category: RegisterCategory | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> EntryList:
    today = london_date(clock.now())
    which = commands.EntryFilter(status=status, review_overdue=review_overdue, category=category, limit=limit)
    return EntryList(
        items=[views.entry_summary(e, today) for e in commands.list_entries(uow, caller.org, which, today)]
    )


@router.get(
    "/{entry_id}",
    response_model=EntryDetail,
    summary="An entry with its full history",
    responses=problem_responses(404),
)
def get_entry(entry_id: str, caller: Dsl, uow: UowDep, clock: ClockDep) -> EntryDetail:
    entry = commands.own_entry(uow, caller.org, entry_id)
    return commands.entry_detail(uow, entry, london_date(clock.now()))


def _change(
    uow: UnitOfWork, caller: Caller, clock: Clock, entry_id: str, action: Callable[..., RegisterEntry], command: Any
) -> EntryDetail:
    """Run ``action`` (a command on one entry) on the caller's entry, commit, and show the entry."""
    now = clock.now()
    entry = commands.own_entry(uow, caller.org, entry_id)
    action(uow, entry, by=caller.sub, command=command, now=now)
    uow.commit()
    return commands.entry_detail(uow, entry, london_date(now))


@router.post(
    "/{entry_id}/reviews",
    status_code=201,
    response_model=EntryDetail,
    summary="Record a review; the next is due a month on",
    responses=problem_responses(404, 409),
)
def review_entry(entry_id: str, caller: Dsl, uow: UowDep, clock: ClockDep, body: EntryReview) -> EntryDetail:
    return _change(uow, caller, clock, entry_id, commands.review_entry, body)


@router.patch(
    "/{entry_id}",
    response_model=EntryDetail,
    summary="Change an entry's details",
    responses=problem_responses(404, 409),
)
def update_entry(entry_id: str, caller: Dsl, uow: UowDep, clock: ClockDep, body: EntryUpdate) -> EntryDetail:
    return _change(uow, caller, clock, entry_id, commands.update_entry, body)


@router.post(
    "/{entry_id}/close",
    response_model=EntryDetail,
    summary="Close an entry",
    responses=problem_responses(404, 409),
)
def close_entry(
    entry_id: str, caller: Dsl, uow: UowDep, clock: ClockDep, body: EntryClose | None = None
) -> EntryDetail:
    return _change(uow, caller, clock, entry_id, commands.close_entry, body or EntryClose())
