"""The partnership directory's commands (CONTRACT §9): an admin adds or changes an organisation.

The notifications service holds the partnership's directory: the entry and its
``uk.isp.directory.organisation.updated.v1`` event (on ``isp.directory.v1``, keyed by the
organisation id, for the other services' copies) commit in one unit of work. Its replicas share
one database, so it does not consume the topic itself. Reads go through :mod:`isp_common.directory`.
"""

from __future__ import annotations

from datetime import datetime

from isp_common import directory
from isp_common.db import UnitOfWork
from isp_common.errors import NotFound, Unprocessable
from isp_schemas import topics
from isp_schemas.directory import Organisation, OrganisationUpdated
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import OrgId
from pydantic import Field


class OrganisationChange(Organisation):
    """An organisation's entry as an admin sends it: ``id`` may be left out (the path names the
    organisation); if given it must be the same."""

    id: OrgId | None = Field(  # type: ignore[assignment]  # optional here only: the path names the organisation
        default=None, description="The organisation id; if given, the same as the path's."
    )


class OrganisationIdMismatch(Unprocessable):
    """The body names another organisation than the path."""

    title = "Request is not valid"


class UnknownOrganisation(NotFound):
    pass


def get_organisation(uow: UnitOfWork, org_id: str) -> Organisation:
    found = directory.organisation(uow.session, org_id)
    if found is None:
        raise UnknownOrganisation(f"{org_id} is not in the partnership directory.")
    return found


def put_organisation(
    uow: UnitOfWork, org_id: str, change: OrganisationChange, *, by_org: str, now: datetime
) -> Organisation:
    """Write ``org_id``'s entry and publish it (committed here). ``by_org``, the admin's
    organisation, is the event's source."""
    if change.id is not None and change.id != org_id:
        raise OrganisationIdMismatch(
            "The body's id is not the organisation in the path.",
            errors=[{"loc": ["body", "id"], "msg": f"must be {org_id} (the path's organisation) or left out"}],
        )
    org = Organisation.model_validate({**change.model_dump(), "id": org_id})
    directory.put(uow.session, org, now)
    data = OrganisationUpdated.model_validate(org.model_dump())
    event = CloudEvent.create(type=data.event_type, source_org=by_org, data=data, time=now)
    uow.publish(event, topics.DIRECTORY, key=org_id)
    uow.commit()
    return org
