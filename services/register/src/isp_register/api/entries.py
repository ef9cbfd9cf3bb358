"""``/v1/register/entries``: one organisation's register entries."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from isp_common.clock import Clock
from isp_common.db import UnitOfWork
from isp_common.deps import Caller, ClockDep, UowDep
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery
from isp_common.workingdays import london_date

from .. import commands, views
from ..models import (
    EntryClose,
    EntryDetail,
    EntryList,
    EntryOpen,
    EntryQuery,
    EntryReview,
    EntryUpdate,
    MatchContact,
)
from .deps import Dsl, RegisterDep

router = APIRouter(
    prefix="/v1/register/entries",
    dependencies=[StrictQuery],
    tags=["register"],
    responses=problem_responses(401, 403, 422),
)


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


@router.get(
    "",
    response_model=EntryList,
    summary="Your organisation's register entries: searched, filtered and paged",
    description=(
        "Open entries by review due soonest, then closed ones. `q` is an NHS number (spaces allowed; an "
        "invalid one is refused with 422 naming `q`) or words of the client's name. `total` counts every "
        "entry the query matches; pass `next` as `cursor` for the following page."
    ),
)
def list_entries(caller: Dsl, uow: UowDep, clock: ClockDep, query: Annotated[EntryQuery, Query()]) -> EntryList:
    today = london_date(clock.now())
    found = commands.list_entries(uow, caller.org, query, today)
    return EntryList(
        items=[views.entry_list_item(e, today, e.id in found.matched) for e in found.entries],
        total=found.total,
        next=found.next,
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
    uow: UnitOfWork, caller: Caller, clock: Clock, entry_id: str, action: Callable[..., object], command: Any
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
    if body is None:  # no body at all: name the field that is missing, as an empty reason does
        raise RequestValidationError([{"loc": ("body", "reason"), "msg": "Field required", "type": "missing"}])
    return _change(uow, caller, clock, entry_id, commands.close_entry, body)


@router.post(
    "/{entry_id}/matches/{match_id}/contacts",
    status_code=201,
    response_model=EntryDetail,
    summary="Record that you contacted the other organisation about a cross-area match",
    responses=problem_responses(404),
)
def record_match_contact(
    entry_id: str, match_id: str, caller: Dsl, uow: UowDep, clock: ClockDep, body: MatchContact
) -> EntryDetail:
    return _change(uow, caller, clock, entry_id, partial(commands.record_contact, match_id=match_id), body)
