"""``/v1/rejections``: an organisation's own events that the partnership's services rejected
(issue 13): when, on which topic, which type and event id, and why; never the payload, never
another organisation's. One item per event, however many services rejected it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from isp_common.deps import CallerDep, UowDep
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery
from pydantic import BaseModel, Field

from .. import rejections
from ..tables import Rejection

router = APIRouter(
    prefix="/v1/rejections", tags=["rejections"], dependencies=[StrictQuery], responses=problem_responses(401, 422)
)

Cursor = Annotated[
    str | None, Query(pattern=r"^\d{1,18}$", description="The `next` of the previous page: items after it.")
]
Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items.")]


class RejectionPublic(BaseModel):
    """An event that was rejected (dead-lettered), as its own organisation sees it."""

    id: str = Field(description="The rejection's id.")
    time: datetime = Field(description="When it was first rejected (UTC).")
    topic: str = Field(description="The topic it was published to.")
    type: str | None = Field(description="Its CloudEvents type, when it could be read.")
    event_id: str | None = Field(description="Its CloudEvents id, when it could be read.")
    reason: str = Field(description="Why it was rejected (the first service's reason; never personal data).")

    @classmethod
    def of(cls, row: Rejection) -> RejectionPublic:
        return cls(id=row.id, time=row.at, topic=row.topic, type=row.type, event_id=row.event_id, reason=row.reason)


class RejectionPage(BaseModel):
    items: list[RejectionPublic]
    total: int = Field(description="How many rejections the organisation has in all.")
    next: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


@router.get("", summary="Your organisation's rejected events, oldest first", response_model=RejectionPage)
def list_rejections(caller: CallerDep, uow: UowDep, after: Cursor = None, limit: Limit = 100) -> RejectionPage:
    found = rejections.page(uow.session, rejections.Filters(org=caller.org), after, limit)
    return RejectionPage(items=[RejectionPublic.of(r) for r in found.items], total=found.total, next=found.next)
