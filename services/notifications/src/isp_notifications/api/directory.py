"""The partnership directory (CONTRACT §9): any member reads it; an admin adds or changes an
organisation (``isp directory add`` calls the PUT)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from isp_common import directory
from isp_common.deps import Caller, CallerDep, ClockDep, UowDep, require_roles
from isp_common.problems import problem_responses
from isp_common.strict import StrictQuery
from isp_schemas.directory import Organisation
from isp_schemas.people import ORG_ID_PATTERN
from pydantic import BaseModel

from .. import directory_commands as commands

router = APIRouter(
    prefix="/v1/directory", dependencies=[StrictQuery], tags=["directory"], responses=problem_responses(401)
)

Admin = Annotated[Caller, Depends(require_roles("admin"))]
OrgPath = Annotated[str, Path(pattern=ORG_ID_PATTERN, description="The organisation id.")]


class DirectoryPage(BaseModel):
    items: list[Organisation]


@router.get("", summary="Every organisation of the partnership")
def list_organisations(_caller: CallerDep, uow: UowDep) -> DirectoryPage:
    return DirectoryPage(items=directory.entries(uow.session))


@router.get("/{org}", summary="One organisation", responses=problem_responses(404))
def get_organisation(org: str, _caller: CallerDep, uow: UowDep) -> Organisation:
    return commands.get_organisation(uow, org)


@router.put("/{org}", summary="Add or change an organisation (admin)", responses=problem_responses(403, 422))
def put_organisation(
    org: OrgPath, body: commands.OrganisationChange, caller: Admin, uow: UowDep, clock: ClockDep
) -> Organisation:
    return commands.put_organisation(uow, org, body, by_org=caller.org, now=clock.now())
