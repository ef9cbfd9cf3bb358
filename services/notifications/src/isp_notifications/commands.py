"""What the HTTP API asks the service to do, each taking a unit of work first and committing it.

Every command acts for the caller's own organisation; refusals are domain errors
(:mod:`.domain.errors`, or ``isp_common.errors`` ``NotFound``/``Forbidden`` for another
organisation's things), answered as problem+json by the runtime.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from isp_common.auth import Caller
from isp_common.db import UnitOfWork
from isp_common.errors import Forbidden, NotFound
from isp_common.times import as_utc
from isp_schemas.alerts import EVENTS as ALERT_MODELS
from sqlalchemy import func
from sqlmodel import col, select

from . import disclosure, redecision, views
from .delivery import urls, webhooks
from .delivery.sealing import SecretBox
from .domain import audience
from .domain.conferences import Response
from .domain.errors import NoLongerOpen, NotInvited, NotWithheld, ReasonRequired, UnknownAlertTypes
from .handlers.timed import TimedHandler
from .models import InformingCreate, InformingPublic, ReleaseRequest, SubscriptionCreate
from .settings import Settings
from .tables import AlertRecord, InformingStatement, InvitationRecord, Subscription, WithheldShare

ALERT_TYPES = frozenset(m.event_type for m in ALERT_MODELS)

# -- subscriptions ----------------------------------------------------------------------------


def subscribe(
    uow: UnitOfWork, caller: Caller, body: SubscriptionCreate, settings: Settings, box: SecretBox, now: datetime
) -> tuple[Subscription, str]:
    """A webhook subscription for the caller's organisation (:mod:`.domain.audience` says who may
    subscribe to what, and how many), and its new signing secret, kept only sealed."""
    if not caller.has_role(*audience.SUBSCRIBERS):
        raise Forbidden(f"Subscribing a webhook needs one of the roles {', '.join(audience.SUBSCRIBERS)}.")
    unknown = sorted(set(body.types) - ALERT_TYPES - {audience.ALL})
    if unknown:
        raise UnknownAlertTypes(unknown)
    types = audience.subscribed_types(caller, body.types, ALERT_TYPES)
    urls.check_webhook_url(body.url, settings.environment)
    active = uow.session.exec(
        select(func.count()).where(Subscription.org == caller.org, col(Subscription.active).is_(True))
    ).one()
    if active >= settings.max_subscriptions_per_org:
        raise audience.SubscriptionCap(settings.max_subscriptions_per_org)
    secret = webhooks.new_secret()
    sub = Subscription(
        id=str(uuid.uuid4()),
        org=caller.org,
        url=body.url,
        types=types,
        secret_sealed=box.seal(secret),
        created_by=caller.sub,
        created_at=now,
    )
    uow.session.add(sub)
    uow.commit()
    return sub, secret


def rotate_secret(
    uow: UnitOfWork, caller: Caller, subscription_id: str, box: SecretBox, overlap: float, now: datetime
) -> tuple[str, datetime]:
    """A new signing secret for the organisation's subscription; the current one keeps signing
    beside it for ``overlap`` seconds (one rotation at a time: the secret before it stops at once)."""
    if not caller.has_role(*audience.SUBSCRIBERS):
        raise Forbidden(f"Rotating a webhook secret needs one of the roles {', '.join(audience.SUBSCRIBERS)}.")
    sub = views.own_subscription(uow.session, caller.org, subscription_id)
    secret, until = webhooks.new_secret(), now + timedelta(seconds=overlap)
    sub.previous_secret_sealed, sub.previous_secret_until = sub.secret_sealed, until
    sub.secret_sealed = box.seal(secret)
    uow.session.add(sub)
    uow.commit()
    return secret, until


def unsubscribe(uow: UnitOfWork, caller: Caller, subscription_id: str) -> None:
    sub = views.own_subscription(uow.session, caller.org, subscription_id)
    sub.active = False
    uow.session.add(sub)
    uow.commit()


# -- alerts -----------------------------------------------------------------------------------


def acknowledge(uow: UnitOfWork, caller: Caller, alert_id: str, now: datetime) -> datetime:
    """The recipient has the alert: mark it (once), and record the receiving end of an audited share.
    Returns when it was first acknowledged."""
    alert = views.own_alert(uow.session, caller.org, alert_id, audience.hidden_from(caller))
    if alert.acknowledged_at is not None:
        return alert.acknowledged_at
    alert.acknowledged_at, alert.acknowledged_by = now, caller.sub
    if alert.status in ("pending", "failed"):  # acknowledged: it evidently arrived
        alert.status, alert.delivered_at = "delivered", alert.delivered_at or now
    uow.session.add(alert)
    if alert.audited:
        disclosure.record_receipt(uow, alert, now)
    uow.commit()
    return now


# -- conferences ------------------------------------------------------------------------------


def _invitation(uow: UnitOfWork, conference_id: str, invitee: str) -> InvitationRecord:
    invitation = uow.session.get(InvitationRecord, (conference_id, invitee))
    if invitation is None or not invitation.sent:
        raise NotInvited(conference_id)
    return invitation


def answer_invitation(
    uow: UnitOfWork, caller: Caller, conference_id: str, response: Response, now: datetime
) -> InvitationRecord:
    invitation = _invitation(uow, conference_id, caller.org)
    invitation.response, invitation.responded_at = response, now
    uow.session.add(invitation)
    uow.commit()
    return invitation


def submit_report(uow: UnitOfWork, caller: Caller, conference_id: str, now: datetime) -> InvitationRecord:
    invitation = _invitation(uow, conference_id, caller.org)
    invitation.report_received_at = invitation.report_received_at or now
    uow.session.add(invitation)
    uow.commit()
    return invitation


# -- telling the service user -----------------------------------------------------------------


def record_informing(uow: UnitOfWork, caller: Caller, body: InformingCreate, now: datetime) -> InformingPublic:
    """The sender's statement about telling the service user: about one share (``alert_id``),
    recorded on that share, or the default later statutory shares about the person carry."""
    if not body.informed and not body.reason:
        raise ReasonRequired()
    if body.alert_id is not None:
        return InformingPublic.of_share(_inform_of_share(uow, caller, body))
    row = uow.session.get(InformingStatement, (caller.org, body.nhs_number)) or InformingStatement(
        org=caller.org, nhs_number=body.nhs_number, informed=body.informed, recorded_at=now
    )
    row.informed, row.reason = body.informed, None if body.informed else body.reason
    row.recorded_at, row.recorded_by = now, caller.sub
    uow.session.add(row)
    uow.commit()
    return InformingPublic.of(row)


def _inform_of_share(uow: UnitOfWork, caller: Caller, body: InformingCreate) -> AlertRecord:
    alert = uow.session.get(AlertRecord, body.alert_id) if body.alert_id else None
    if alert is None or alert.sender != caller.org or not alert.audited or alert.nhs_number != body.nhs_number:
        raise NotFound(f"Your organisation sent no share {body.alert_id} about that person.")
    alert.service_user_informed = body.informed
    alert.not_informed_reason = None if body.informed else body.reason
    uow.session.add(alert)
    uow.commit()
    return alert


# -- withheld shares: a designated safeguarding lead's judgement (CONTRACT §6 v1.1) ------------


def release(
    uow: UnitOfWork,
    caller: Caller,
    alert_id: str,
    body: ReleaseRequest,
    deciders: Mapping[str, TimedHandler],
    partnership_ig_org: str,
    now: datetime,
) -> WithheldShare:
    """Release the caller's organisation's withheld share on professional judgement: it is sent
    on that basis, audited ``shared`` superseding the withheld record, the sender's DSL told
    (``disclosure_released``) and the partnership IG organisation too (``judgement_release``)."""
    withheld = uow.session.get(WithheldShare, alert_id)
    if withheld is None or withheld.sender != caller.org:
        raise NotWithheld(alert_id)
    if withheld.state != "open" or (as_utc(withheld.open_until) or now) <= now:
        raise NoLongerOpen(alert_id, withheld.state if withheld.state != "open" else "past its deadline")
    if not withheld.recipient:
        raise NoLongerOpen(alert_id, "no recipient is known yet")
    judgement = disclosure.Judgement(
        by=caller.sub,
        reason=body.reason,
        service_user_informed=body.service_user_informed,
        not_informed_reason=None if body.service_user_informed else body.not_informed_reason,
        partnership_ig_org=partnership_ig_org,
    )
    with disclosure.releasing(alert_id, judgement):
        redecision.rerun(uow, withheld.source_event_id, now, deciders)
    uow.session.refresh(withheld)
    if withheld.state != "released":
        raise NoLongerOpen(alert_id, "its causing event is no longer kept")
    uow.commit()
    return withheld


def withheld_open(uow: UnitOfWork, caller: Caller, now: datetime) -> list[WithheldShare]:
    """The caller's organisation's withheld shares still open to a decision, soonest to close first."""
    return list(
        uow.session.exec(
            select(WithheldShare)
            .where(
                WithheldShare.sender == caller.org,
                WithheldShare.state == "open",
                col(WithheldShare.open_until) > now,
            )
            .order_by(col(WithheldShare.open_until))
        ).all()
    )
