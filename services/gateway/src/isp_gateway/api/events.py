"""``POST /v1/events`` (CONTRACT §10): partners without a Kafka client publish here.

The body is read only after the token has been checked (FastAPI resolves the caller first), and
never beyond the 1 MiB limit (the runtime's BodyLimit)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from isp_common.deps import Caller, RuntimeDep, require_roles
from isp_common.problems import Problem, problem_responses
from pydantic import BaseModel, Field

from .. import commands
from ..context import Gateway
from ..domain import events

router = APIRouter(prefix="/v1/events", tags=["events"], responses=problem_responses(401, 403))

Publisher = Annotated[Caller, Depends(require_roles("provider", "social_care", "dsl", "admin"))]


class Accepted(BaseModel):
    ids: list[str] = Field(description="The ids of the events published, in request order.")
    signed_for: str = Field(description="The organisation the gateway signed them for (the token's).")


class PartnerTypes(BaseModel):
    items: dict[str, str] = Field(description="Each event type partners publish, with the topic it goes to.")


def _gateway(runtime: RuntimeDep) -> Gateway:
    gateway: Gateway = runtime.context
    return gateway


@router.post(
    "",
    status_code=202,
    summary="Publish one CloudEvent or a batch, signed on your organisation's behalf",
    responses=problem_responses(413, 415, 422, 429, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                events.SINGLE: {"schema": {"type": "object", "description": "One CloudEvent (structured mode)."}},
                events.BATCH: {
                    "schema": {"type": "array", "maxItems": 500, "items": {"type": "object"}},
                    "example": [],
                },
            },
        }
    },
)
async def publish(request: Request, caller: Publisher, runtime: RuntimeDep) -> JSONResponse:
    gateway = _gateway(runtime)
    body = await request.body()
    try:
        outgoing = events.accept(body, request.headers.get("content-type", ""), caller.org, gateway.max_batch)
    except events.RequestRefused as refused:
        raise Problem(
            refused.status, detail=refused.detail, errors=[refusal.as_error() for refusal in refused.refusals]
        ) from None
    try:
        commands.admit(gateway, caller.org, len(outgoing))
    except commands.TooManyEvents as limited:
        raise Problem(
            429,
            detail=limited.detail,
            type=limited.problem_type,
            headers={"Retry-After": str(max(1, math.ceil(min(limited.retry_after, 3600))))},
        ) from None
    if runtime.producer is None:
        raise commands.BrokerUnavailable("the gateway is starting; try again shortly")
    ids = await commands.publish(runtime.producer, gateway, caller.org, outgoing)
    return JSONResponse(Accepted(ids=ids, signed_for=caller.org).model_dump(), status_code=202)


@router.get("/types", summary="The event types partners publish, and their topics")
def partner_types(_caller: Publisher) -> Any:
    return PartnerTypes(items=dict(events.partner_types()))
