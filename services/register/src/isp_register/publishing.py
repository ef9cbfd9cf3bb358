"""What the register publishes on ``isp.register.v1``, through the outbox of the unit of work.

Events carry the ``person_key`` (HMAC of the NHS number) as their subject, never the number:
only the owning organisation's row holds it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.register import RegisterEvent

from .tables import RegisterEntry


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def about_entry(entry: RegisterEntry) -> dict[str, Any]:
    """The fields every event about an entry starts with: the entry, its organisation, the
    person's key (never the NHS number) and the category."""
    return {"entry_id": entry.id, "org": entry.org, "person_key": entry.person_key, "category": entry.category}


def publish(uow: UnitOfWork, data: RegisterEvent, org: str, subject: str, at: datetime | None = None) -> None:
    uow.publish(
        CloudEvent.create(type=data.event_type, source_org=org, data=data, subject=subject, time=at), topics.REGISTER
    )
