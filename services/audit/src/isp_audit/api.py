"""HTTP adapter for information-governance officers (CONTRACT §8)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from isp_common.auth import Caller, require_roles
from isp_common.runtime import ServiceRuntime
from sqlmodel import Session, select

from .tables import DisclosureRecord

IgCaller = Annotated[Caller, Depends(require_roles("ig_officer", "partnership_ig"))]


def install(runtime: ServiceRuntime) -> None:
    @runtime.api.get("/v1/disclosures", tags=["disclosures"], summary="Disclosure records, newest first")
    def list_disclosures(
        caller: IgCaller,
        person: Annotated[str | None, Query(description="NHS number")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        with Session(runtime.engine) as session:
            stmt = select(DisclosureRecord).order_by(DisclosureRecord.seq.desc()).limit(limit)
            if person:
                stmt = stmt.where(DisclosureRecord.person == person)
            if not caller.has_role("partnership_ig"):
                stmt = stmt.where(
                    (DisclosureRecord.discloser == caller.org) | (DisclosureRecord.recipient == caller.org)
                )
            items = [r.model_dump(mode="json") for r in session.exec(stmt)]
        return {"items": items, "next_cursor": None}
