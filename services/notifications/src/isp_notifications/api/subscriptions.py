"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from isp_common.deps import ClockDep, UowDep
from isp_common.strict import StrictQuery

from .. import commands, views
from ..models import (
    DeliveryAttemptPublic,
    DeliveryLog,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionPublic,
)
from .deps import ContextDep, Member

router = APIRouter(prefix="/v1/subscriptions", dependencies=[StrictQuery], tags=["subscriptions"])


@router.post("", status_code=201, summary="Subscribe a webhook")
def create_subscription(
    body: SubscriptionCreate, caller: Member, uow: UowDep, context: ContextDep, clock: ClockDep
) -> SubscriptionCreated:
    sub = commands.subscribe(uow, caller, body, context.settings.environment, clock.now())
    return SubscriptionCreated.of(sub)


@router.get("", summary="Your organisation's subscriptions")
def list_subscriptions(caller: Member, uow: UowDep) -> SubscriptionList:
    return SubscriptionList(items=[SubscriptionPublic.of(s) for s in views.subscriptions_of(uow.session, caller.org)])


@router.delete("/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: str, caller: Member, uow: UowDep) -> None:
    commands.unsubscribe(uow, caller, subscription_id)


@router.get("/{subscription_id}/attempts", summary="The delivery log")
def delivery_log(
    subscription_id: str, caller: Member, uow: UowDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> DeliveryLog:
    rows = views.delivery_log(uow.session, caller.org, subscription_id, limit)
    return DeliveryLog(items=[DeliveryAttemptPublic.of(r) for r in rows])
