"""Taking a referral in: the one path for a referral made over HTTP (:func:`commands.make_referral`)
and one published on ``isp.referrals.v1`` (:func:`handlers.referral_requested`), so both are
validated alike and end alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from isp_common import directory
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas.referrals import ReferralRequested

from . import domain, journal
from .domain import DueRules
from .tables import Referral


def record_request(
    uow: UnitOfWork,
    data: ReferralRequested,
    *,
    source_org: str,
    at: datetime,
    by: str | None,
    channel: str,
    event_id: str,
    rules: DueRules,
    known_new: bool = False,
) -> Referral:
    """Store a new referral in state ``requested``, with the receiver's response deadline if it has one.

    The referring organisation is the one that sends it: ``from_org`` must be the publisher
    (Kafka) or the caller's organisation (HTTP). A threshold of social care's duties goes only
    on a referral to social care. Both organisations must be in the partnership directory, the
    sender of a kind that may refer in this direction and the receiver of the kind the direction
    needs. Raises NotYourReferral, ReferralRefused, OrganisationRefused or DuplicateReferral
    (not looked for again when the caller says it ``known_new``: it has just found no referral
    under that id in this unit of work).
    """
    if source_org != data.from_org:
        raise domain.NotYourReferral("from_org must be the referring organisation itself")
    refused = domain.threshold_refusal(data.direction, data.threshold)
    if refused is not None:
        raise domain.ReferralRefused(*refused)
    kinds = directory.kinds_of(uow.session, (data.from_org, data.to_org))
    refusal = domain.party_refusal(data.direction, kinds.get(data.from_org), kinds.get(data.to_org))
    if refusal is not None:
        raise domain.OrganisationRefused(*refusal)
    if not known_new and uow.session.get(Referral, data.referral_id) is not None:
        raise domain.DuplicateReferral()
    referral = Referral(
        id=data.referral_id,
        direction=data.direction,
        from_org=data.from_org,
        to_org=data.to_org,
        nhs_number=data.person.nhs_number,
        person=data.person.model_dump(mode="json", exclude_none=True),
        rag=data.rag,
        priority=data.priority,
        channel=channel,
        source_event_id=event_id,
        requested_at=journal.to_utc(at),
        last_changed_at=journal.to_utc(at),
    )
    apply_request_fields(referral, data, rules)
    uow.session.add(referral)
    schedule_response(uow, referral, rules, since=at, new=True)
    journal.record(
        uow,
        referral,
        "request",
        at=at,
        by=by,
        org=source_org,
        from_state=None,
        details={"channel": channel, "threshold": data.threshold, "rag": data.rag, "emergency": referral.emergency},
        event_id=event_id,
    )
    return referral


def apply_request_fields(referral: Referral, data: ReferralRequested, rules: DueRules) -> None:
    """Set what the sender says (and may amend until accepted); an emergency is not held for the
    weekly allocation meeting, any other referral waits for the first one after it was made."""
    referral.children = [c.model_dump(mode="json", exclude_none=True) for c in data.children]
    referral.threshold = data.threshold
    referral.rag = data.rag
    referral.consent_id = data.consent_id
    referral.summary = data.summary
    referral.parent_agreed = data.parent_agreed
    referral.concerns = list(data.concerns)
    referral.background = data.history
    referral.known_to_treatment = data.known_to_treatment
    referral.emergency = domain.is_emergency(data.threshold)
    if referral.emergency:
        referral.allocation_meeting_on = None
    elif referral.allocation_meeting_on is None:
        referral.allocation_meeting_on = rules.allocation_meeting_on(london_date(as_utc(referral.requested_at)))


def schedule_response(
    uow: UnitOfWork, referral: Referral, rules: DueRules, *, since: datetime, new: bool = False
) -> None:
    """Set the receiver's response deadline (:mod:`isp_referrals.domain.responses`), counted from
    ``since``: when the referral was made (``new``: it has no due dates yet, and nothing is read,
    so a new referral is not written before its transaction commits), or amended to a threshold
    with another deadline. One not yet raised is moved (or waived when none applies any more);
    one already raised stays."""
    due_at = rules.response_due(referral.direction, referral.threshold, since, referral.allocation_meeting_on)
    rows = [] if new else journal.dues_of(uow, referral.id, "response")
    row = next((r for r in rows if r.met_on is None and r.overdue_raised_at is None), None)
    if due_at is None:
        if row is not None and row.waived_at is None:
            row.waived_at = journal.to_utc(since)
            uow.session.add(row)
        return
    if row is None:
        if not rows:
            journal.add_due(uow, referral, "response", london_date(due_at), referral.to_org, due_at=due_at)
        return
    row.due_at, row.due_on, row.waived_at = journal.to_utc(due_at), london_date(due_at), None
    uow.session.add(row)


def same_request(referral: Referral, data: ReferralRequested) -> bool:
    """True when ``data`` is the referral already stored under its id (a harmless retry)."""
    stored = ReferralRequested.model_validate(request_fields(referral)).model_dump(mode="json")
    return stored == data.model_dump(mode="json")


def request_fields(referral: Referral) -> dict[str, Any]:
    """The referral as the fields of its requested event (as amended since)."""
    return {
        "referral_id": referral.id,
        "direction": referral.direction,
        "from_org": referral.from_org,
        "to_org": referral.to_org,
        "person": referral.person,
        "children": referral.children,
        "threshold": referral.threshold,
        "rag": referral.rag,
        "consent_id": referral.consent_id,
        "summary": referral.summary,
        "parent_agreed": referral.parent_agreed,
        "concerns": referral.concerns,
        "history": referral.background,
        "known_to_treatment": referral.known_to_treatment,
    }
