"""Consents (``isp.consent.v1``): keep them; a withdrawal also stops what was queued under the
consent but not yet sent (a consent withdrawn at 10:00 stops every share decided after 10:00)."""

from __future__ import annotations

from datetime import datetime

from isp_common.db import UnitOfWork
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent

from .. import facts, withdrawal


def consent_given(uow: UnitOfWork, event: CloudEvent, data: ConsentGiven) -> None:
    facts.record_consent(uow, data)


def consent_withdrawn(uow: UnitOfWork, event: CloudEvent, data: ConsentWithdrawn, now: datetime) -> None:
    """Record the withdrawal and stop what was queued under the consent but not yet sent."""
    if facts.record_withdrawal(uow, event, data) is not None:
        withdrawal.stop_queued_under(uow, data.consent_id, data.person.nhs_number, now)
