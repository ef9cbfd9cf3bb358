"""The referrals tests' own builders: the disclosure decisions the notifications service would audit
about a referral, fed to this service's audit handler (:func:`isp_referrals.shares.disclosure_recorded`);
the provider's appointments; a referral walked to ``active``.

Everything else (clock, tokens, NHS numbers, outbox events) comes from :mod:`isp_common.testing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.runtime import ServiceRuntime
from isp_common.testing import nhs_number, unique
from isp_referrals import commands, handlers, shares
from isp_referrals.commands import Actor
from isp_referrals.domain import DueRules
from isp_referrals.tables import Referral
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from isp_schemas.treatment import AppointmentBooked

PROVIDER, NHS = "CGL-WSX", nhs_number(0)
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


def book(
    uow: UnitOfWork,
    ref: str,
    scheduled_for: datetime,
    appointment_id: str = "apt-1",
    kind: str = "assessment",
    booked_at: datetime | None = None,
) -> None:
    """The provider books an appointment answering referral ``ref`` (consumed and committed)."""
    data = AppointmentBooked(
        appointment_id=appointment_id,
        person={"nhs_number": NHS},
        scheduled_for=scheduled_for,
        kind=kind,
        referral_id=ref,
    )
    event = CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data, time=booked_at or scheduled_for)
    handlers.appointment_booked(uow, event, data)
    uow.commit()


def make_active(uow: UnitOfWork, rules: DueRules, ref: str, actor: Actor, accepted_at: datetime) -> None:
    """The receiver accepts at ``accepted_at``, allocates two days later, opens the workbook and does
    the joint visit the day after, and starts active work the day after that (committed)."""
    day = timedelta(days=1)
    commands.accept(uow, ref, actor, accepted_at, rules=rules)
    commands.allocate(uow, ref, actor, "dap-7", accepted_at + 2 * day, rules=rules)
    commands.book_joint_visit(uow, ref, actor, accepted_at + 3 * day, accepted_at + 2 * day)
    commands.open_workbook(uow, ref, actor, accepted_at + 3 * day)
    commands.record_joint_visit(uow, ref, actor, accepted_at + 3 * day + timedelta(hours=2))
    commands.activate(uow, ref, actor, accepted_at + 4 * day, rules=rules)
    uow.commit()
