"""The commands that move a referral through its life, one route each under ``/v1/referrals/{id}``.

A command not allowed now is refused 409 with the commands that are, and the request for each
(``allowed_requests``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Concatenate, ParamSpec

from fastapi import APIRouter
from isp_common.db import UnitOfWork
from isp_common.deps import ClockDep, UowDep
from isp_common.strict import StrictQuery

from .. import commands
from ..commands import Actor
from ..domain import IllegalTransition
from ..models import (
    AcceptBody,
    ActivateBody,
    AllocateBody,
    AmendBody,
    CancelBody,
    CloseBody,
    DeclineBody,
    JointVisitBody,
    ReferralView,
    Stamped,
    SummaryBody,
)
from ..tables import Referral
from ..views import read_referral
from .deps import ERRORS, Practitioner, ReferralId, RulesDep

PATHS: dict[str, str] = {
    "amend": "/amend",
    "cancel": "/cancel",
    "accept": "/accept",
    "decline": "/decline",
    "allocate": "/allocate",
    "book_joint_visit": "/joint-visit",
    "record_joint_visit": "/joint-visit/done",
    "open_workbook": "/workbook",
    "activate": "/activate",
    "record_summary": "/summaries",
    "close": "/close",
}
"""Each command's endpoint under ``/v1/referrals/{id}``."""

router = APIRouter(
    prefix="/v1/referrals/{referral_id}",
    dependencies=[StrictQuery],
    tags=["referral transitions"],
    responses=ERRORS,
)
P = ParamSpec("P")


def _move(
    uow: UnitOfWork,
    now: datetime,
    referral_id: str,
    command: Callable[Concatenate[UnitOfWork, str, Actor, P], Referral],
    actor: Actor,
    *args: P.args,
    **kwargs: P.kwargs,
) -> ReferralView:
    """Run ``command`` on the referral; answer with the referral as it now is, as the actor's
    organisation may see it (a receiver's read audited), all committed together."""

    def step(unit: UnitOfWork) -> ReferralView:
        referral = command(unit, referral_id, actor, *args, **kwargs)
        unit.session.flush()
        return read_referral(unit, referral, actor.org, now)

    try:
        return commands.apply(uow, step)
    except IllegalTransition as refused:
        raise refused.with_requests([f"POST /v1/referrals/{referral_id}{PATHS[c]}" for c in refused.allowed]) from None


def _at(body: Stamped | None) -> datetime | None:
    return body.at if body is not None else None


@router.patch("", summary="Same as POST .../amend", response_model=ReferralView)
@router.post(
    PATHS["amend"], summary="The sender amends the referral (until it is accepted)", response_model=ReferralView
)
def amend(
    referral_id: ReferralId, body: AmendBody, actor: Practitioner, uow: UowDep, clock: ClockDep, rules: RulesDep
) -> ReferralView:
    changes = body.model_dump(mode="json", exclude_unset=True)
    now = clock.now()
    return _move(uow, now, referral_id, commands.amend, actor, changes, now, rules=rules)


@router.post(
    PATHS["cancel"], summary="The sender withdraws the referral (until it is accepted)", response_model=ReferralView
)
def cancel(
    referral_id: ReferralId, actor: Practitioner, uow: UowDep, clock: ClockDep, body: CancelBody | None = None
) -> ReferralView:
    reason = body.reason if body else None
    now = clock.now()
    return _move(uow, now, referral_id, commands.cancel, actor, reason, now)


@router.post(PATHS["accept"], summary="The receiver accepts the referral after triage", response_model=ReferralView)
def accept(
    referral_id: ReferralId,
    actor: Practitioner,
    uow: UowDep,
    clock: ClockDep,
    rules: RulesDep,
    body: AcceptBody | None = None,
) -> ReferralView:
    rag, now = (body.rag if body else None), clock.now()
    return _move(uow, now, referral_id, commands.accept, actor, now, rules=rules, rag=rag, at=_at(body))


@router.post(PATHS["decline"], summary="The receiver declines the referral, saying why", response_model=ReferralView)
def decline(
    referral_id: ReferralId, body: DeclineBody, actor: Practitioner, uow: UowDep, clock: ClockDep
) -> ReferralView:
    now = clock.now()
    return _move(uow, now, referral_id, commands.decline, actor, body.reason, now, at=_at(body))


@router.post(
    PATHS["allocate"],
    summary="Allocate to a practitioner: joint visit due in 3 working days, workbook in 2",
    response_model=ReferralView,
)
def allocate(
    referral_id: ReferralId, body: AllocateBody, actor: Practitioner, uow: UowDep, clock: ClockDep, rules: RulesDep
) -> ReferralView:
    now = clock.now()
    return _move(uow, now, referral_id, commands.allocate, actor, body.practitioner, now, rules=rules, at=_at(body))


@router.post(
    PATHS["book_joint_visit"],
    summary="Book (or rebook) the initial joint visit with the social worker",
    response_model=ReferralView,
)
def book_joint_visit(
    referral_id: ReferralId, body: JointVisitBody, actor: Practitioner, uow: UowDep, clock: ClockDep
) -> ReferralView:
    now = clock.now()
    return _move(uow, now, referral_id, commands.book_joint_visit, actor, body.scheduled_for, now)


@router.post(
    PATHS["record_joint_visit"], summary="Record that the initial joint visit took place", response_model=ReferralView
)
def joint_visit_done(
    referral_id: ReferralId, actor: Practitioner, uow: UowDep, clock: ClockDep, body: Stamped | None = None
) -> ReferralView:
    now = clock.now()
    return _move(uow, now, referral_id, commands.record_joint_visit, actor, now, at=_at(body))


@router.post(
    PATHS["open_workbook"], summary="Record that the family's workbook was opened", response_model=ReferralView
)
def open_workbook(
    referral_id: ReferralId, actor: Practitioner, uow: UowDep, clock: ClockDep, body: Stamped | None = None
) -> ReferralView:
    now = clock.now()
    return _move(uow, now, referral_id, commands.open_workbook, actor, now, at=_at(body))


@router.post(
    PATHS["activate"],
    summary="Active work begins (joint visit done, workbook open): monthly summaries due",
    response_model=ReferralView,
)
def activate(
    referral_id: ReferralId,
    actor: Practitioner,
    uow: UowDep,
    clock: ClockDep,
    rules: RulesDep,
    body: ActivateBody | None = None,
) -> ReferralView:
    episode_id, now = (body.episode_id if body else None), clock.now()
    return _move(uow, now, referral_id, commands.activate, actor, now, rules=rules, episode_id=episode_id, at=_at(body))


@router.post(
    PATHS["record_summary"],
    summary="Record the monthly summary (due before group supervision)",
    response_model=ReferralView,
)
def record_summary(
    referral_id: ReferralId,
    actor: Practitioner,
    uow: UowDep,
    clock: ClockDep,
    rules: RulesDep,
    body: SummaryBody | None = None,
) -> ReferralView:
    period, now = (body.period if body else None), clock.now()
    return _move(uow, now, referral_id, commands.record_summary, actor, now, rules=rules, period=period, at=_at(body))


@router.post(PATHS["close"], summary="Close the referral with its outcome", response_model=ReferralView)
def close(referral_id: ReferralId, body: CloseBody, actor: Practitioner, uow: UowDep, clock: ClockDep) -> ReferralView:
    now = clock.now()
    return _move(uow, now, referral_id, commands.close, actor, body.outcome, now, reason=body.reason, at=_at(body))
