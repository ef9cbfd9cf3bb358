"""Making, listing and reading referrals."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from isp_common.deps import ClockDep, UowDep
from isp_common.strict import StrictQuery

from .. import commands, domain
from ..models import ReferralCreate, ReferralList, ReferralState, ReferralView
from ..tables import Referral
from ..views import read_referral, referrals_of
from .deps import ERRORS, Practitioner, Reader, ReferralId, RulesDep

router = APIRouter(prefix="/v1/referrals", dependencies=[StrictQuery], tags=["referrals"])

StatusQuery = Annotated[ReferralState | None, Query(description="Only referrals in this state.")]
DueBeforeQuery = Annotated[
    date | None, Query(description="Only referrals with an open due date strictly before this date.")
]
RoleQuery = Annotated[
    Literal["sent", "received"] | None, Query(description="sent (you referred) or received; both if absent.")
]
LimitQuery = Annotated[int, Query(ge=1, le=500, description="At most this many.")]


@router.post(
    "",
    summary="Make a referral (either direction)",
    status_code=201,
    response_model=ReferralView,
    responses={200: {"description": "The same referral was already made (idempotent retry)."}, **ERRORS},
)
def create_referral(
    body: ReferralCreate, actor: Practitioner, response: Response, uow: UowDep, clock: ClockDep, rules: RulesDep
) -> ReferralView:
    """Make a referral to treatment (from social care: a priority referral) or to children's
    social care (with a threshold). ``from_org`` must be the caller's organisation. It is
    validated exactly as a ``uk.isp.referral.requested.v1`` event, and published as one."""
    now = clock.now()
    referral, made = commands.apply(uow, commands.refer, body.as_request(), actor, now, rules=rules)
    if made:
        response.headers["Location"] = f"/v1/referrals/{referral.id}"
    else:
        response.status_code = 200
    return read_referral(uow, referral, actor.org, now)  # the sender's own: nothing to audit


@router.get(
    "",
    summary="Your organisation's referrals, sent or received",
    response_model=ReferralList,
    responses=ERRORS,
)
def list_referrals(
    caller: Reader,
    uow: UowDep,
    clock: ClockDep,
    status: StatusQuery = None,
    due_before: DueBeforeQuery = None,
    role: RoleQuery = None,
    limit: LimitQuery = 100,
) -> ReferralList:
    """Referrals the organisation made, in full, and those made to it that a disclosure decision
    has shared with it, showing what was shared (each such read is audited)."""
    now = clock.now()
    found = referrals_of(uow.session, caller.org, state=status, due_before=due_before, role=role, limit=limit)
    items = []
    for referral in found:
        try:
            items.append(read_referral(uow, referral, caller.org, now))
        except domain.ReferralNotFound:
            continue  # shared without its core category: nothing of it may be shown
    uow.commit()
    return ReferralList(items=items)


@router.get(
    "/{referral_id}",
    summary="A referral with its state, due dates and history",
    response_model=ReferralView,
    responses=ERRORS,
)
def get_referral(referral_id: ReferralId, caller: Reader, uow: UowDep, clock: ClockDep) -> ReferralView:
    """The referring organisation sees it in full. The receiving organisation sees it once a
    disclosure decision has shared it (404 until then, as for an unknown id), and then only what
    was shared; each of its reads is audited."""
    referral = uow.session.get(Referral, referral_id)
    if referral is None:
        raise domain.ReferralNotFound(referral_id)
    view = read_referral(uow, referral, caller.org, clock.now())
    uow.commit()
    return view
