"""The referrals API's own dependencies: its context, the callers it serves, and shared parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from isp_common.deps import Caller, RuntimeDep, require_roles
from isp_common.problems import problem_responses

from ..commands import Actor
from ..context import Referrals
from ..domain import DueRules


def context_of(runtime: RuntimeDep) -> Referrals:
    context = runtime.context
    assert isinstance(context, Referrals)
    return context


def practitioner(caller: Annotated[Caller, Depends(require_roles("social_care", "provider"))]) -> Actor:
    """The calling practitioner (social care or provider) as the actor of a command."""
    return Actor(sub=caller.sub, org=caller.org, roles=caller.roles)


def rules_of(referrals: Annotated[Referrals, Depends(context_of)]) -> DueRules:
    return referrals.rules


RulesDep = Annotated[DueRules, Depends(rules_of)]
Practitioner = Annotated[Actor, Depends(practitioner)]
Reader = Annotated[Caller, Depends(require_roles("social_care", "provider", "dsl", "admin"))]
ReferralId = Annotated[str, Path(description="The referral id.")]
ERRORS = problem_responses(400, 401, 403, 404, 409, 422)
