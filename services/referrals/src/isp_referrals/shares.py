"""Disclosure decisions about referrals, heard on ``isp.audit.v1``, and the audit of each read the
receiving organisation makes under them (:mod:`isp_referrals.domain.sharing` says what it may see).

The notifications service decides whether a referral may go to its receiver and publishes the
decision's audit record (``uk.isp.audit.disclosure.v1``, ``alert_type`` referral_received,
``source_event_id`` the referral's ``requested`` event). :func:`disclosure_recorded` keeps the
latest per referral and recipient: a ``shared`` record (a first share, or a release of a
withheld one, with ``supersedes``) replaces a ``withheld`` one; a ``withheld`` one never replaces
a share, so records read in any order end in the same state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from isp_common import telemetry
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_schemas import topics
from isp_schemas.audit import DisclosureRecorded, disclosure_record_id
from isp_schemas.envelope import CloudEvent
from sqlmodel import Session

from . import journal
from .domain import READ_AUDIT_TYPE, ReceiverScope, receiver_scope
from .domain.sharing import REFERRAL_RECEIVED
from .tables import Referral, ReferralShare

DECISIONS = ("shared", "withheld")


def is_referral_decision(_event: CloudEvent, data: DisclosureRecorded) -> bool:
    """Whether a disclosure record is a decision about a referral. Records about other alerts (this
    service's own read audits among them), acknowledgements (``received``) and records naming no
    event are not: the consumer skips them unchecked (:class:`isp_common.consumer.Guarded`)."""
    return data.alert_type == REFERRAL_RECEIVED and data.decision in DECISIONS and bool(data.source_event_id)


def not_a_referral_decision(data: Any) -> bool:
    """What :func:`is_referral_decision` refuses, told from a record's raw data before it is
    validated: most records on the audit topic are about other alerts (a DNA alert's among them),
    and are skipped without being validated (:class:`isp_common.consumer.Guarded`)."""
    return not isinstance(data, dict) or data.get("alert_type") != REFERRAL_RECEIVED


def disclosure_recorded(uow: UnitOfWork, event: CloudEvent, data: DisclosureRecorded) -> None:
    """Keep a referral decision for its recipient (others are ignored: :func:`is_referral_decision`)."""
    if not is_referral_decision(event, data):
        return
    assert data.source_event_id is not None
    decided_at = journal.to_utc(data.shared_at)
    fields: dict[str, Any] = {
        "decision": data.decision,
        "data_categories": list(data.data_categories),
        "lawful_basis": data.lawful_basis.model_dump(mode="json") if data.lawful_basis is not None else None,
        "purpose": data.purpose,
        "alert_id": data.alert_id,
        "audit_record_id": disclosure_record_id(data.alert_id, data.recipient, data.decision),
        "decided_at": decided_at,
    }
    share = uow.session.get(ReferralShare, (data.source_event_id, data.recipient))
    if share is None:
        share = ReferralShare(source_event_id=data.source_event_id, recipient=data.recipient, **fields)
    elif _replaces(data.decision, decided_at, share):
        for name, value in fields.items():
            setattr(share, name, value)
    else:
        return
    uow.session.add(share)


def _replaces(decision: str, decided_at: datetime, current: ReferralShare) -> bool:
    if decision != current.decision:
        return decision == "shared"
    return decided_at >= as_utc(current.decided_at)


def share_of(session: Session, referral: Referral) -> ReferralShare | None:
    """The latest decision about ``referral`` for its receiving organisation, if one was heard."""
    if referral.source_event_id is None:
        return None
    return session.get(ReferralShare, (referral.source_event_id, referral.to_org))


def receiver_scope_of(session: Session, referral: Referral) -> ReceiverScope | None:
    """What the receiving organisation may see of ``referral``; None: nothing yet."""
    share = share_of(session, referral)
    return None if share is None else receiver_scope(share.decision, share.data_categories)


def audit_read(
    uow: UnitOfWork,
    referral: Referral,
    categories: list[str],
    children: list[dict[str, Any]],
    now: datetime,
) -> None:
    """Queue the audit record of the receiving organisation's read of ``referral``: shared over
    the API, on the basis of the recorded decision, of the ``categories`` shown (a fresh alert
    id per read, so every read is its own record)."""
    share = share_of(uow.session, referral)
    if share is None or share.lawful_basis is None:  # pragma: no cover - reads are only shown under a share
        raise RuntimeError("a receiver's read needs a recorded share")
    record = DisclosureRecorded.model_validate(
        {
            "alert_id": str(uuid.uuid4()),
            "alert_type": READ_AUDIT_TYPE,
            "decision": "shared",
            "discloser": referral.from_org,
            "recipient": referral.to_org,
            "person": referral.nhs_number,
            "children": children,
            "purpose": share.purpose,
            "data_categories": categories,
            "lawful_basis": share.lawful_basis,
            "source_event_id": referral.source_event_id,
            "channel": "api",
            "trace_id": telemetry.current_trace_id(),
            "shared_at": now,
        }
    )
    event = CloudEvent.create(
        type=DisclosureRecorded.event_type, source_org=referral.from_org, data=record, subject=referral.nhs_number
    )
    uow.publish(event, topics.AUDIT, key=referral.nhs_number)
