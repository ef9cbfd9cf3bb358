"""Consents (``isp.consent.v1``): keep them; a consent given decides the person's open withheld
shares again; a withdrawal also stops what was queued under the consent but not yet sent (a
consent withdrawn at 10:00 stops every share decided after 10:00); a refusal is kept and shown
in withheld notices until a later consent supersedes it."""

from __future__ import annotations

from datetime import datetime

from isp_common.db import UnitOfWork
from isp_schemas.consent import ConsentGiven, ConsentRefused, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent

from .. import facts, withdrawal
from .timed import FactHandler


def consent_given(uow: UnitOfWork, event: CloudEvent, data: ConsentGiven, now: datetime) -> set[str]:
    facts.record_consent(uow, data)
    return {data.person.nhs_number}


def consent_withdrawn(uow: UnitOfWork, event: CloudEvent, data: ConsentWithdrawn, now: datetime) -> set[str]:
    """Record the withdrawal (kept if the consent has not arrived yet) and stop what was queued
    under the consent but not yet sent; what was stopped is decided again at once (another basis,
    a statutory ground already known, may hold for it)."""
    recorded = facts.record_withdrawal(uow, event, data) is not None
    if recorded and withdrawal.stop_queued_under(uow, data.consent_id, data.person.nhs_number, now):
        return {data.person.nhs_number}
    return set()


def consent_refused(uow: UnitOfWork, event: CloudEvent, data: ConsentRefused, now: datetime) -> set[str]:
    facts.record_refusal(uow, event, data)
    return set()


FACTS: dict[str, FactHandler] = {
    ConsentGiven.event_type: consent_given,
    ConsentWithdrawn.event_type: consent_withdrawn,
    ConsentRefused.event_type: consent_refused,
}
