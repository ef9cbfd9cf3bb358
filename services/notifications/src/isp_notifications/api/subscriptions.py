"""Webhook subscriptions, their secrets and their delivery log. Subscribing and rotating a secret
need role ``provider``, ``social_care`` or ``dsl`` (:mod:`isp_notifications.domain.audience`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from isp_common.deps import Caller, ClockDep, UowDep, require_roles
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery

from .. import commands, views
from ..domain.audience import SUBSCRIBERS
from ..models import (
    DeliveryAttemptPublic,
    DeliveryLog,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionPublic,
)
from .deps import ContextDep, Member

router = APIRouter(
    prefix="/v1/subscriptions", dependencies=[StrictQuery], tags=["subscriptions"], responses=problem_responses(404)
)

Subscriber = Annotated[Caller, Depends(require_roles(*SUBSCRIBERS))]


@router.post("", status_code=201, summary="Subscribe a webhook", responses=problem_responses(403, 409, 422))
def create_subscription(
    body: SubscriptionCreate, caller: Subscriber, uow: UowDep, context: ContextDep, clock: ClockDep
) -> SubscriptionCreated:
    box = context.delivery.secrets
    sub, secret = commands.subscribe(uow, caller, body, context.settings, box, clock.now())
    return SubscriptionCreated.of(sub, secret)


@router.post(
    "/{subscription_id}/secret",
    summary="Rotate the signing secret (the old one signs too for a while)",
    responses=problem_responses(403, 404),
)
def rotate_secret(
    subscription_id: str, caller: Subscriber, uow: UowDep, context: ContextDep, clock: ClockDep
) -> SecretRotated:
    box, overlap = context.delivery.secrets, context.settings.webhook_secret_overlap
    secret, until = commands.rotate_secret(uow, caller, subscription_id, box, overlap, clock.now())
    return SecretRotated(id=subscription_id, secret=secret, previous_valid_until=until)


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
