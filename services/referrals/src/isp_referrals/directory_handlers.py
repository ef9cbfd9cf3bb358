"""The referrals service's copy of the partnership directory (CONTRACT §9): it starts from the
directory file (the runtime seeds it) and follows ``isp.directory.v1``, where the notifications
service publishes every change made over its API. Referral rules read it through
:mod:`isp_common.directory`."""

from __future__ import annotations

from collections.abc import Mapping

from isp_common import directory
from isp_common.consumer import Handler
from isp_common.db import UnitOfWork
from isp_schemas.directory import OrganisationUpdated
from isp_schemas.envelope import CloudEvent


def organisation_updated(uow: UnitOfWork, event: CloudEvent, data: OrganisationUpdated) -> None:
    """Keep the entry as the event gives it: the whole entry, so the latest event wins."""
    directory.put(uow.session, data, event.time)


HANDLERS: Mapping[str, Handler] = {OrganisationUpdated.event_type: organisation_updated}
"""The handlers of ``isp.directory.v1``, by event type."""
