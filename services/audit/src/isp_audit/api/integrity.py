"""``/v1/verify`` and ``/v1/reconciliation``: is the trail whole, and does it match what was sent."""

from __future__ import annotations

import math
import time

from fastapi import APIRouter
from isp_common.deps import ClockDep, UowDep
from isp_common.problems import Problem, problem_responses
from isp_common.strict import StrictQuery

from .. import commands
from .deps import AuditDep, IgCaller, PartnershipCaller
from .models import ReconciliationReport, VerdictPublic

router = APIRouter(prefix="/v1", dependencies=[StrictQuery], tags=["integrity"], responses=problem_responses(401, 403))


@router.get(
    "/verify",
    summary="Recompute the hash chain and check the checkpoints (a few times a minute per organisation)",
    response_model=VerdictPublic,
    responses=problem_responses(429),
)
def verify_chain(caller: IgCaller, uow: UowDep, clock: ClockDep, audit: AuditDep) -> VerdictPublic:
    wait = audit.verify_limit.take(caller.org, 1, time.monotonic())
    if wait is not None:
        raise Problem(
            429,
            detail="the whole chain was verified for your organisation moments ago; ask again shortly",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    verdict = commands.verify_chain(uow, caller, audit, clock.now())
    return VerdictPublic.model_validate(verdict.as_dict())


@router.get(
    "/reconciliation",
    summary="Alerts delivered vs shared records: every share recorded once, every record a real alert",
    response_model=ReconciliationReport,
)
def reconciliation(caller: PartnershipCaller, uow: UowDep, clock: ClockDep, audit: AuditDep) -> ReconciliationReport:
    report = commands.reconciliation_report(uow, caller, audit, clock.now())
    return ReconciliationReport.model_validate(report.as_dict())
