"""Invitees' answers to conference invitations, and their written reports."""

from __future__ import annotations

from fastapi import APIRouter
from isp_common.deps import ClockDep, UowDep
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery

from .. import commands
from ..models import ConferenceAnswer, InvitationPublic
from .deps import Member

router = APIRouter(
    prefix="/v1/conferences", dependencies=[StrictQuery], tags=["conferences"], responses=problem_responses(404)
)


@router.post("/{conference_id}/responses", summary="Answer an invitation")
def answer_invitation(
    conference_id: str, body: ConferenceAnswer, caller: Member, uow: UowDep, clock: ClockDep
) -> InvitationPublic:
    invitation = commands.answer_invitation(uow, caller, conference_id, body.response, clock.now())
    return InvitationPublic.of(invitation)


@router.post("/{conference_id}/report", summary="Record your written report")
def submit_report(conference_id: str, caller: Member, uow: UowDep, clock: ClockDep) -> InvitationPublic:
    return InvitationPublic.of(commands.submit_report(uow, caller, conference_id, clock.now()))
