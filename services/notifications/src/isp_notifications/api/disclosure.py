"""Consents as this service holds them, and senders' statements about telling the service user."""

from __future__ import annotations

from fastapi import APIRouter
from isp_common.deps import ClockDep, UowDep
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery
from isp_common.workingdays import london_date

from .. import commands, views
from ..models import ConsentPublic, InformingCreate, InformingPublic
from .deps import Member

router = APIRouter(dependencies=[StrictQuery], tags=["disclosure"], responses=problem_responses(404))


@router.get("/v1/consents/{consent_id}", summary="A consent as this service holds it")
def get_consent(consent_id: str, caller: Member, uow: UowDep, clock: ClockDep) -> ConsentPublic:
    """For the organisation that recorded the consent: has the partnership received it, and is it
    in force? (A share decided before its consent arrived is withheld, so a recorder can check.)"""
    return views.consent_for_recorder(uow.session, caller.org, consent_id, london_date(clock.now()))


@router.post(
    "/v1/informing",
    status_code=201,
    summary="Say whether the service user was told of a share (or of statutory shares), and if not why",
)
def record_informing(body: InformingCreate, caller: Member, uow: UowDep, clock: ClockDep) -> InformingPublic:
    return commands.record_informing(uow, caller, body, clock.now())
