"""``/v1/deadletters``: dead-letter repair for administrators (issue 14): list the rejections by
source topic, reason and time; show one (its payload only when asked, and that read is
recorded); replay one, or every unreplayed one a filter selects, to its source topic.

Each payload read and each replay is recorded in ``audit_access`` (who, what, when), the store
where the audit service already keeps who asked the trail what: a replay is an operator's
action on the partnership's data, not a disclosure decision, so it is not a chained record.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from isp_common.auth import Caller
from isp_common.deps import ClockDep, RuntimeDep, UowDep, require_roles
from isp_common.errors import DomainError, NotFound
from isp_common.problems import problem_responses
from isp_common.runtime import ServiceRuntime
from isp_common.strict import StrictQuery
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import rejections
from ..commands import record_access
from ..tables import Rejection
from .deps import Purpose
from .rejections import Cursor, Limit

router = APIRouter(
    prefix="/v1/deadletters",
    tags=["dead letters"],
    dependencies=[StrictQuery],
    responses=problem_responses(401, 403, 422),
)

AdminCaller = Annotated[Caller, Depends(require_roles("admin"))]


class BrokerUnavailable(DomainError):
    status = 503
    title = "Service Unavailable"


class DeadLetterSummary(BaseModel):
    """A rejected event as an administrator sees it, without its payload."""

    id: str
    time: datetime = Field(description="When it was first rejected (UTC).")
    topic: str = Field(description="The source topic it was read from.")
    partition: int | None
    offset: int | None
    type: str | None
    event_id: str | None
    org: str = Field(description="The organisation it belongs to (its source); `unknown` for unreadable bytes.")
    reason: str
    rejected_by: dict[str, str] = Field(description="Each service that rejected it, with its reason.")
    replay_of: str | None = Field(description="The rejection this is a failed replay of, if it is one.")
    replays: int = Field(description="How many times it has been replayed.")
    replayed_at: datetime | None
    replayed_by: str | None

    @classmethod
    def of(cls, row: Rejection) -> DeadLetterSummary:
        fields = row.model_dump(exclude={"seq", "origin", "at", "key", "value", "headers", "rejected_by"})
        return cls(**fields, time=row.at, rejected_by=rejections.rejected_by(row))


class Payload(BaseModel):
    """The original message: key and value as UTF-8 text where they are, else base64."""

    encoding: Literal["utf-8", "base64"] = Field(description="How `key`, `value` and the header values are given.")
    key: str | None
    value: str | None
    headers: list[tuple[str, str]]


class DeadLetterDetail(DeadLetterSummary):
    payload: Payload | None = Field(None, description="Only with `?include=payload` (the read is recorded).")


class DeadLetterPage(BaseModel):
    items: list[DeadLetterSummary]
    total: int
    next: str | None


class ReplayRequest(BaseModel):
    """One rejection by id, or every unreplayed rejection the filter selects (at least one field)."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=100, description="One rejection (replayed even if it was before).")
    topic: str | None = Field(None, max_length=200)
    reason: str | None = Field(None, max_length=500, description="A substring of the reason.")
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(100, ge=1, le=1000, description="At most this many, oldest first.")

    @model_validator(mode="after")
    def _one_selection(self) -> ReplayRequest:
        if self.id is not None and any((self.topic, self.reason, self.since, self.until)):
            raise ValueError("give either id or a filter (topic, reason, since, until), not both")
        if self.id is None and not any((self.topic, self.reason, self.since, self.until)):
            raise ValueError("give an id or at least one of topic, reason, since, until")
        return self


class ReplayResult(BaseModel):
    replayed: list[str] = Field(description="The ids of the rejections replayed, in order.")
    count: int


def _filters(
    topic: Annotated[str | None, Query(max_length=200, description="Source topic.")] = None,
    reason: Annotated[str | None, Query(max_length=500, description="A substring of the reason.")] = None,
    since: Annotated[datetime | None, Query(description="Rejected at or after (RFC 3339).")] = None,
    until: Annotated[datetime | None, Query(description="Rejected before (RFC 3339).")] = None,
) -> rejections.Filters:
    return rejections.Filters(topic=topic, reason=reason, since=since, until=until)


FiltersDep = Annotated[rejections.Filters, Depends(_filters)]


def _text_or_base64(value: bytes | None, encoding: str) -> str | None:
    if value is None:
        return None
    return value.decode() if encoding == "utf-8" else base64.b64encode(value).decode()


def payload_of(row: Rejection) -> Payload:
    headers = rejections.original_headers(row)
    try:
        for part in (row.key or b"", row.value or b"", *(v for _, v in headers)):
            part.decode()
        encoding: Literal["utf-8", "base64"] = "utf-8"
    except UnicodeDecodeError:
        encoding = "base64"
    return Payload(
        encoding=encoding,
        key=_text_or_base64(row.key, encoding),
        value=_text_or_base64(row.value, encoding),
        headers=[(k, _text_or_base64(v, encoding) or "") for k, v in headers],
    )


@router.get("", summary="Rejected events, oldest first (no payloads)", response_model=DeadLetterPage)
def list_deadletters(
    _caller: AdminCaller, filters: FiltersDep, uow: UowDep, after: Cursor = None, limit: Limit = 100
) -> DeadLetterPage:
    found = rejections.page(uow.session, filters, after, limit)
    return DeadLetterPage(items=[DeadLetterSummary.of(r) for r in found.items], total=found.total, next=found.next)


@router.get(
    "/{rejection_id}",
    summary="One rejected event; payload only when asked",
    response_model=DeadLetterDetail,
    responses=problem_responses(404),
)
def show_deadletter(
    caller: AdminCaller,
    rejection_id: str,
    uow: UowDep,
    clock: ClockDep,
    include: Annotated[Literal["payload"] | None, Query(description="`payload`: the original message too.")] = None,
    purpose: Purpose = None,
) -> DeadLetterDetail:
    row = rejections.by_id(uow.session, rejection_id)
    if row is None:
        raise NotFound("No rejection has that id.")
    detail = DeadLetterDetail(**DeadLetterSummary.of(row).model_dump())
    if include == "payload":
        detail.payload = payload_of(row)
        asked = {"id": row.id, "topic": row.topic, "event_id": row.event_id, "include": "payload"}
        record_access(uow, caller, "deadletter.payload", asked, purpose, clock.now(), 1)
    return detail


@router.post(
    "/replay",
    summary="Publish rejected events again to their source topics (each replay recorded)",
    response_model=ReplayResult,
    responses=problem_responses(404, 503),
)
async def replay_deadletters(
    caller: AdminCaller, body: ReplayRequest, runtime: RuntimeDep, clock: ClockDep
) -> ReplayResult:
    chosen = await asyncio.to_thread(_chosen, runtime, body)
    producer = runtime.producer
    if producer is None:
        raise BrokerUnavailable("The audit service is not connected to the broker.")
    replayed = []
    for row in chosen:
        replay = rejections.replay_of(row)
        await producer.send_and_wait(replay.topic, value=replay.value, key=replay.key, headers=replay.headers)
        await asyncio.to_thread(_mark, runtime, caller, row, replay, clock.now())
        replayed.append(row.id)
    return ReplayResult(replayed=replayed, count=len(replayed))


def _chosen(runtime: ServiceRuntime, body: ReplayRequest) -> list[Rejection]:
    with runtime.uow() as uow:
        if body.id is not None:
            row = rejections.by_id(uow.session, body.id)
            if row is None:
                raise NotFound("No rejection has that id.")
            rows = [row]
        else:
            filters = rejections.Filters(body.topic, body.reason, body.since, body.until, unreplayed=True)
            rows = rejections.page(uow.session, filters, None, body.limit).items
        uow.session.expunge_all()
        return rows


def _mark(runtime: ServiceRuntime, caller: Caller, row: Rejection, replay: rejections.Replay, now: datetime) -> None:
    with runtime.uow() as uow:
        rejections.mark_replayed(uow.session, row.id, caller.sub, now)
        asked = {"id": row.id, "topic": row.topic, "event_id": row.event_id, "replay_id": replay.replay_id}
        record_access(uow, caller, "deadletter.replay", asked, None, now, 1)
