"""Withheld shares open to a decision, and a designated safeguarding lead's release of one on
professional judgement (CONTRACT §6 v1.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from isp_common.deps import Caller, ClockDep, UowDep, require_roles
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery

from .. import commands
from ..models import ReleaseRequest, WithheldPage, WithheldPublic
from .deps import ContextDep

router = APIRouter(
    prefix="/v1/withheld", dependencies=[StrictQuery], tags=["withheld"], responses=problem_responses(404)
)

Dsl = Annotated[Caller, Depends(require_roles("dsl"))]


@router.get("", summary="Your organisation's withheld alerts still open to a decision")
def list_withheld(caller: Dsl, uow: UowDep, clock: ClockDep) -> WithheldPage:
    return WithheldPage(items=[WithheldPublic.of(row) for row in commands.withheld_open(uow, caller, clock.now())])


@router.post("/{alert_id}/release", summary="Release a withheld alert on professional judgement")
def release(
    alert_id: str, body: ReleaseRequest, caller: Dsl, uow: UowDep, clock: ClockDep, context: ContextDep
) -> WithheldPublic:
    """Sends the alert with basis ``professional_judgement``, audited; the partnership IG
    organisation is told at once."""
    row = commands.release(
        uow, caller, alert_id, body, context.deciders, context.settings.partnership_ig_org, clock.now()
    )
    return WithheldPublic.of(row)
