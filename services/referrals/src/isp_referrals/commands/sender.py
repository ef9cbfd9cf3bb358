"""The sending organisation's commands: make a referral, amend it while it is still requested,
or cancel it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from isp_common import directory
from isp_common.db import UnitOfWork
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralAmended, ReferralCancelled, ReferralRequested
from pydantic import ValidationError

from .. import domain, intake, journal
from ..domain import DueRules
from ..tables import Referral
from .steps import Actor, _step, load, progress_of


def refer(
    uow: UnitOfWork, data: ReferralRequested, actor: Actor, now: datetime, *, rules: DueRules
) -> tuple[Referral, bool]:
    """A referral asked for over HTTP by a practitioner of ``from_org`` whose role fits its
    organisation's side (:func:`~isp_referrals.domain.role_refusal`). Returns the referral and
    whether it is new: the same referral sent again under its id is answered with the stored one."""
    if data.from_org != actor.org:
        raise domain.NotYourReferral("from_org must be your own organisation.")
    refused = domain.role_refusal(directory.kind_of(uow.session, actor.org), actor.roles)
    if refused is not None:
        raise domain.RoleRefused(refused)
    existing = uow.session.get(Referral, data.referral_id)
    if existing is not None and intake.same_request(existing, data):
        return existing, False
    return make_referral(uow, data, actor, now, rules), True


def make_referral(uow: UnitOfWork, data: ReferralRequested, actor: Actor, now: datetime, rules: DueRules) -> Referral:
    """A referral made over HTTP: stored, and published through the outbox as the same
    ``uk.isp.referral.requested.v1`` a partner system would publish (source = from_org)."""
    event = CloudEvent.create(
        type=ReferralRequested.event_type,
        source_org=data.from_org,
        data=data,
        subject=data.person.nhs_number,
        time=now,
    )
    referral = intake.record_request(
        uow, data, source_org=actor.org, at=now, by=actor.sub, channel="api", event_id=event.id, rules=rules
    )
    uow.publish(event, topics.REFERRALS)
    return referral


def amend(
    uow: UnitOfWork, referral_id: str, actor: Actor, changes: dict[str, Any], now: datetime, *, rules: DueRules
) -> Referral:
    """The sender changes the referral while it is still requested; the result must still be
    a valid referral (the same validation as a new one)."""
    referral = load(uow, referral_id, "amend", actor)
    domain.transition(progress_of(referral), "amend")
    current = ReferralRequested.model_validate(intake.request_fields(referral)).model_dump(mode="json")
    proposed = {**current, **{k: v for k, v in changes.items() if k in domain.AMENDABLE_FIELDS}}
    try:
        amended = ReferralRequested.model_validate(proposed)
    except ValidationError as exc:
        raise domain.InvalidCommand("; ".join(e["msg"] for e in exc.errors())) from None
    refused = domain.threshold_refusal(amended.direction, amended.threshold)
    if refused is not None:
        raise domain.ReferralRefused(*refused)
    after = amended.model_dump(mode="json")
    changed = [k for k in domain.AMENDABLE_FIELDS if after[k] != current[k]]
    if not changed:
        raise domain.InvalidCommand("nothing to change")
    deadline_before = domain.response_kind(referral.direction, referral.threshold)
    intake.apply_request_fields(referral, amended, rules)
    if domain.response_kind(referral.direction, referral.threshold) != deadline_before:
        intake.schedule_response(uow, referral, rules, since=now)
    named = {k: getattr(amended, k) for k in changed if k in ReferralAmended.model_fields}
    other = {k: after[k] for k in changed if k not in ReferralAmended.model_fields}
    _step(
        uow,
        referral,
        "amend",
        actor,
        now,
        None,
        ReferralAmended,
        {"changed": changed},
        changed=changed,
        changes=other,
        **named,
    )
    return referral


def cancel(uow: UnitOfWork, referral_id: str, actor: Actor, reason: str | None, now: datetime) -> Referral:
    referral = load(uow, referral_id, "cancel", actor)
    _step(uow, referral, "cancel", actor, now, None, ReferralCancelled, {"reason": reason}, reason=reason)
    referral.reason = reason
    journal.waive_open_dues(uow, referral.id, now)  # the receiver owes no answer to a withdrawn referral
    return referral
