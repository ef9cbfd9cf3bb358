"""The caller's alerts: list, replay after a gap, read one, acknowledge. Alerts for the designated
safeguarding lead (:data:`isp_notifications.domain.audience.DSL_ONLY`) exist only for role ``dsl``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from isp_common.deps import ClockDep, UowDep
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery
from isp_common.times import as_utc

from .. import commands, views
from ..domain import audience
from ..domain.errors import CursorWithReplay
from ..models import Acknowledged, AlertPage, AlertPublic, AlertStatus
from .deps import Member

router = APIRouter(prefix="/v1/alerts", dependencies=[StrictQuery], tags=["alerts"], responses=problem_responses(404))


@router.get("", summary="Your organisation's alerts; after= replays a subscription")
def list_alerts(
    caller: Member,
    uow: UowDep,
    status: AlertStatus | None = None,
    after: Annotated[int | None, Query(ge=0, description="Replay: alerts after this running count.")] = None,
    subscription_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200, description="A page's `next` (newest first).")] = None,
) -> AlertPage:
    hidden = audience.hidden_from(caller)
    if after is None and subscription_id is None:
        return views.alerts_for(uow.session, caller.org, status, limit, cursor, hidden)
    if cursor is not None:
        raise CursorWithReplay()
    return views.replay(uow.session, caller.org, subscription_id, after or 0, status, limit, hidden)


@router.get("/{alert_id}", summary="One alert")
def get_alert(alert_id: str, caller: Member, uow: UowDep) -> AlertPublic:
    return AlertPublic.of(views.own_alert(uow.session, caller.org, alert_id, audience.hidden_from(caller)))


@router.post("/{alert_id}/ack", summary="Acknowledge an alert (audited as received)")
def acknowledge(alert_id: str, caller: Member, uow: UowDep, clock: ClockDep) -> Acknowledged:
    at = commands.acknowledge(uow, caller, alert_id, clock.now())
    return Acknowledged(alert_id=alert_id, acknowledged_at=as_utc(at))
