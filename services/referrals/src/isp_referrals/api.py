"""HTTP adapter for referrals (grows with issue 4)."""

from __future__ import annotations

from typing import Any

from isp_common.auth import CurrentCaller
from isp_common.problems import Problem
from isp_common.runtime import ServiceRuntime
from sqlmodel import Session

from .tables import Referral


def install(runtime: ServiceRuntime) -> None:
    @runtime.api.get("/v1/referrals/{referral_id}", tags=["referrals"], summary="A referral with its state")
    def get_referral(referral_id: str, caller: CurrentCaller) -> dict[str, Any]:
        with Session(runtime.engine) as session:
            referral = session.get(Referral, referral_id)
        if referral is None:
            raise Problem(404, "Not Found", f"No referral {referral_id}.")
        if caller.org not in (referral.from_org, referral.to_org):
            raise Problem(403, "Forbidden", "This is not your organisation's referral.")
        return referral.model_dump(mode="json")
