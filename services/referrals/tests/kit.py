"""The referrals tests' own builders: the disclosure decisions the notifications service would audit
about a referral, fed to this service's audit handler (:func:`isp_referrals.shares.disclosure_recorded`).

Everything else (clock, tokens, NHS numbers, outbox events) comes from :mod:`isp_common.testing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.runtime import ServiceRuntime
from isp_common.testing import unique
from isp_referrals import shares
from isp_referrals.tables import Referral
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent

REFERRAL_RECEIVED = "uk.isp.alert.referral_received.v1"
CONSENT = {"kind": "consent", "consent_id": "con-1"}
SHARED_IN_FULL = ("referral", "risk")


def decision_about(
    referral: Referral,
    at: datetime,
    *,
    decision: str = "shared",
    categories: Iterable[str] = SHARED_IN_FULL,
    **overrides: Any,
) -> tuple[CloudEvent, DisclosureRecorded]:
    """The audit record of the notifications service's decision to share ``referral`` with its
    receiver (or withhold it), as published on ``isp.audit.v1``."""
    shared = decision == "shared"
    fields: dict[str, Any] = {
        "alert_id": unique("alert-"),
        "alert_type": REFERRAL_RECEIVED,
        "decision": decision,
        "discloser": referral.from_org,
        "recipient": referral.to_org,
        "person": referral.nhs_number,
        "purpose": "safeguarding",
        "data_categories": list(categories) if shared else [],
        "lawful_basis": CONSENT if shared else None,
        "reason": None if shared else "no consent recorded; no statutory ground",
        "source_event_id": referral.source_event_id,
        "channel": "kafka",
        "shared_at": at,
        **overrides,
    }
    data = DisclosureRecorded.model_validate(fields)
    event = CloudEvent.create(
        type=DisclosureRecorded.event_type, source_org=referral.from_org, data=data, subject=referral.nhs_number
    )
    return event, data


def record_decision(uow: UnitOfWork, referral: Referral, at: datetime, **kwargs: Any) -> DisclosureRecorded:
    """Feed the decision to the audit handler, as the consumer would, and commit."""
    event, data = decision_about(referral, at, **kwargs)
    shares.disclosure_recorded(uow, event, data)
    uow.commit()
    return data


def share_in(runtime: ServiceRuntime, referral_id: str, **kwargs: Any) -> DisclosureRecorded:
    """In a built runtime: the receiver of ``referral_id`` is given the decision (shared in full
    by default) at the runtime's clock."""
    with runtime.uow() as uow:
        referral = uow.session.get(Referral, referral_id)
        assert referral is not None, referral_id
        return record_decision(uow, referral, runtime.clock.now(), **kwargs)
