"""HTTP adapter: alerts and acknowledgements, webhook subscriptions and their delivery log,
conference answers, and senders' statements about telling the service user (CONTRACT §5, §6).

Every route is for the caller's own organisation; errors are problem+json.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response
from isp_common.auth import Caller, require_roles
from isp_common.problems import Problem
from isp_common.runtime import ServiceRuntime
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas.alerts import EVENTS as ALERT_MODELS
from isp_schemas.people import NhsNumber
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from . import disclosure
from .alerts import conferences
from .config import Settings
from .delivery import urls, webhooks
from .tables import (
    AlertRecord,
    ConsentRecord,
    Delivery,
    DeliveryAttempt,
    InformingStatement,
    Subscription,
)

ALERT_TYPES = frozenset(m.event_type for m in ALERT_MODELS)
Member = Annotated[Caller, Depends(require_roles("social_care", "provider", "dsl", "admin"))]
AlertStatus = Literal["pending", "delivered", "failed", "withheld"]


class SubscriptionCreate(BaseModel):
    url: str = Field(description="Where to POST alerts (https in production).")
    types: list[str] = Field(min_length=1, description='Alert types to receive, or ["*"] for all.')


class SubscriptionCreated(BaseModel):
    id: str
    secret: str = Field(description="whsec_...: verify webhook-signature with it (Standard Webhooks).")
    url: str
    types: list[str]
    org: str


class SubscriptionPublic(BaseModel):
    id: str
    url: str
    types: list[str]
    org: str
    created_at: datetime
    event_count: int = Field(description="Alerts queued to it so far (the running count webhooks carry).")
    failing_since: datetime | None


class AlertPublic(BaseModel):
    alert_id: str
    type: str
    status: str
    sender: str
    recipient: str
    created_at: datetime
    deadline: datetime | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    event_number: int | None = Field(None, description="Its number in the subscription's running count.")
    event: dict[str, Any] = Field(description="The alert CloudEvent.")


class AlertPage(BaseModel):
    items: list[AlertPublic]
    event_count: int | None = Field(None, description="The subscription's running count now (with after=).")


class Acknowledged(BaseModel):
    alert_id: str
    acknowledged_at: datetime


class ConferenceAnswer(BaseModel):
    response: Literal["attending", "written_report", "cannot_attend"]


class InvitationPublic(BaseModel):
    conference_id: str
    invitee: str
    response: str | None
    report_requested: bool
    report_received_at: datetime | None


class InformingCreate(BaseModel):
    nhs_number: NhsNumber
    informed: bool = Field(description="The service user has been told of statutory shares about them.")
    reason: str | None = Field(
        None, min_length=1, description="Why not, when not told (e.g. would put a child at risk)."
    )


def _public(alert: AlertRecord, event_number: int | None = None) -> AlertPublic:
    return AlertPublic(
        alert_id=alert.id,
        type=alert.type,
        status=alert.status,
        sender=alert.sender,
        recipient=alert.recipient,
        created_at=as_utc(alert.created_at),
        deadline=as_utc(alert.deadline),
        delivered_at=as_utc(alert.delivered_at),
        acknowledged_at=as_utc(alert.acknowledged_at),
        event_number=event_number,
        event=alert.event,
    )


def install(runtime: ServiceRuntime, settings: Settings) -> None:
    api = runtime.api

    def own_subscription(session: Session, caller: Caller, subscription_id: str) -> Subscription:
        sub = session.get(Subscription, subscription_id)
        if sub is None or not sub.active:
            raise Problem(404, "Not Found", f"No subscription {subscription_id}.")
        if sub.org != caller.org:
            raise Problem(403, "Forbidden", "This is not your organisation's subscription.")
        return sub

    # -- subscriptions ------------------------------------------------------------------------
    @api.post("/v1/subscriptions", status_code=201, tags=["subscriptions"], summary="Subscribe a webhook")
    def create_subscription(body: SubscriptionCreate, caller: Member) -> SubscriptionCreated:
        unknown = sorted(set(body.types) - ALERT_TYPES - {"*"})
        if unknown:
            raise Problem(422, "Unprocessable Content", f"Unknown alert types: {', '.join(unknown)}.")
        try:
            urls.validate_webhook_url(body.url, settings.environment)
        except urls.InvalidWebhookUrl as exc:
            raise Problem(422, "Unprocessable Content", f"Webhook URL refused: {exc}.") from None
        sub = Subscription(
            id=str(uuid.uuid4()),
            org=caller.org,
            url=body.url,
            types=list(body.types),
            secret=webhooks.new_secret(),
            created_by=caller.sub,
        )
        with runtime.uow() as uow:
            uow.session.add(sub)
            uow.commit()
        return SubscriptionCreated(id=sub.id, secret=sub.secret, url=sub.url, types=sub.types, org=sub.org)

    @api.get("/v1/subscriptions", tags=["subscriptions"], summary="Your organisation's subscriptions")
    def list_subscriptions(caller: Member) -> list[SubscriptionPublic]:
        with Session(runtime.engine) as session:
            subs = session.exec(
                select(Subscription).where(Subscription.org == caller.org, Subscription.active == True)  # noqa: E712
            ).all()
        return [
            SubscriptionPublic(
                id=s.id,
                url=s.url,
                types=s.types,
                org=s.org,
                created_at=as_utc(s.created_at),
                event_count=s.event_count,
                failing_since=as_utc(s.failing_since),
            )
            for s in subs
        ]

    @api.delete("/v1/subscriptions/{subscription_id}", status_code=204, tags=["subscriptions"])
    def delete_subscription(subscription_id: str, caller: Member) -> Response:
        with runtime.uow() as uow:
            sub = own_subscription(uow.session, caller, subscription_id)
            sub.active = False
            uow.session.add(sub)
            uow.commit()
        return Response(status_code=204)

    @api.get("/v1/subscriptions/{subscription_id}/attempts", tags=["subscriptions"], summary="The delivery log")
    def delivery_log(subscription_id: str, caller: Member, limit: int = Query(100, ge=1, le=1000)) -> list[dict]:
        with Session(runtime.engine) as session:
            own_subscription(session, caller, subscription_id)
            rows = session.exec(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.subscription_id == subscription_id)
                .order_by(DeliveryAttempt.id.desc())
                .limit(limit)
            ).all()
        return [r.model_dump(mode="json") for r in rows]

    # -- alerts -------------------------------------------------------------------------------
    @api.get("/v1/alerts", tags=["alerts"], summary="Your organisation's alerts; after= replays a subscription")
    def list_alerts(
        caller: Member,
        status: AlertStatus | None = None,
        after: int | None = Query(None, ge=0, description="Replay: alerts after this running count."),
        subscription_id: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
    ) -> AlertPage:
        with Session(runtime.engine) as session:
            if after is None and subscription_id is None:
                stmt = select(AlertRecord).where(AlertRecord.recipient == caller.org, AlertRecord.status != "withheld")
                if status:
                    stmt = stmt.where(AlertRecord.status == status)
                rows = session.exec(stmt.order_by(AlertRecord.created_at.desc()).limit(limit)).all()
                return AlertPage(items=[_public(a) for a in rows])
            sub = _replayed_subscription(session, caller, subscription_id)
            stmt = (
                select(Delivery, AlertRecord)
                .where(Delivery.alert_id == AlertRecord.id, Delivery.subscription_id == sub.id)
                .where(Delivery.event_number > (after or 0))
                .where(AlertRecord.status != "withheld")
            )
            if status:
                stmt = stmt.where(AlertRecord.status == status)
            rows = session.exec(stmt.order_by(Delivery.event_number).limit(limit)).all()
            return AlertPage(items=[_public(a, d.event_number) for d, a in rows], event_count=sub.event_count)

    def _replayed_subscription(session: Session, caller: Caller, subscription_id: str | None) -> Subscription:
        if subscription_id:
            return own_subscription(session, caller, subscription_id)
        subs = session.exec(
            select(Subscription).where(Subscription.org == caller.org, Subscription.active == True)  # noqa: E712
        ).all()
        if len(subs) != 1:
            raise Problem(422, "Unprocessable Content", "Name the subscription (subscription_id) to replay.")
        return subs[0]

    @api.get("/v1/alerts/{alert_id}", tags=["alerts"], summary="One alert")
    def get_alert(alert_id: str, caller: Member) -> AlertPublic:
        with Session(runtime.engine) as session:
            return _public(_own_alert(session, caller, alert_id))

    @api.post("/v1/alerts/{alert_id}/ack", tags=["alerts"], summary="Acknowledge an alert (audited as received)")
    def acknowledge(alert_id: str, caller: Member) -> Acknowledged:
        now = datetime.now(UTC)
        with runtime.uow() as uow:
            alert = _own_alert(uow.session, caller, alert_id)
            if alert.acknowledged_at is None:
                alert.acknowledged_at, alert.acknowledged_by = now, caller.sub
                if alert.status in ("pending", "failed"):  # acknowledged: it evidently arrived
                    alert.status, alert.delivered_at = "delivered", alert.delivered_at or now
                uow.session.add(alert)
                if alert.audited:
                    disclosure.record_receipt(uow, alert, now)
                uow.commit()
            return Acknowledged(alert_id=alert.id, acknowledged_at=as_utc(alert.acknowledged_at))

    def _own_alert(session: Session, caller: Caller, alert_id: str) -> AlertRecord:
        alert = session.get(AlertRecord, alert_id)
        if alert is None or alert.status == "withheld":  # taken back before it left: never the recipient's
            raise Problem(404, "Not Found", f"No alert {alert_id}.")
        if alert.recipient != caller.org:
            raise Problem(403, "Forbidden", "This alert is for another organisation.")
        return alert

    # -- conferences --------------------------------------------------------------------------
    @api.post("/v1/conferences/{conference_id}/responses", tags=["conferences"], summary="Answer an invitation")
    def answer_invitation(conference_id: str, body: ConferenceAnswer, caller: Member) -> InvitationPublic:
        with runtime.uow() as uow:
            try:
                invitation = conferences.answer(uow, conference_id, caller.org, body.response, datetime.now(UTC))
            except conferences.NotInvited:
                raise Problem(404, "Not Found", f"Your organisation has no invitation to {conference_id}.") from None
            uow.commit()
            return _invitation(invitation)

    @api.post("/v1/conferences/{conference_id}/report", tags=["conferences"], summary="Record your written report")
    def submit_report(conference_id: str, caller: Member) -> InvitationPublic:
        with runtime.uow() as uow:
            try:
                invitation = conferences.report_received(uow, conference_id, caller.org, datetime.now(UTC))
            except conferences.NotInvited:
                raise Problem(404, "Not Found", f"Your organisation has no invitation to {conference_id}.") from None
            uow.commit()
            return _invitation(invitation)

    # -- telling the service user -------------------------------------------------------------
    @api.get("/v1/consents/{consent_id}", tags=["disclosure"], summary="A consent as this service holds it")
    def get_consent(consent_id: str, caller: Member) -> ConsentPublic:
        """For the organisation that recorded the consent: has the partnership received it, and is it
        in force? (A share decided before its consent arrived is withheld, so a recorder can check.)"""
        with Session(runtime.engine) as session:
            row = session.get(ConsentRecord, consent_id)
        if row is None:
            raise Problem(404, "Not Found", f"No consent {consent_id} has been received.")
        if row.recorded_by != caller.org:
            raise Problem(403, "Forbidden", "Only the organisation that recorded a consent can read it.")
        today = london_date(datetime.now(UTC))
        withdrawn = as_utc(row.withdrawn_at)
        state = "withdrawn" if withdrawn else "expired" if row.expires_on and today > row.expires_on else "active"
        if state == "active" and row.given_on > today:
            state = "not_yet_in_force"
        return ConsentPublic(
            consent_id=row.id,
            recorded_by=row.recorded_by,
            recipients=row.recipients,
            purposes=row.purposes,
            data_categories=row.data_categories,
            given_on=row.given_on,
            expires_on=row.expires_on,
            withdrawn_at=withdrawn,
            state=state,
        )

    @api.post(
        "/v1/informing",
        status_code=201,
        tags=["disclosure"],
        summary="Say whether the service user was told of statutory shares, and if not why",
    )
    def record_informing(body: InformingCreate, caller: Member) -> dict[str, Any]:
        if not body.informed and not body.reason:
            raise Problem(422, "Unprocessable Content", "A decision not to tell the service user needs its reason.")
        with runtime.uow() as uow:
            row = uow.session.get(InformingStatement, (caller.org, body.nhs_number)) or InformingStatement(
                org=caller.org, nhs_number=body.nhs_number, informed=body.informed
            )
            row.informed, row.reason = body.informed, None if body.informed else body.reason
            row.recorded_at, row.recorded_by = datetime.now(UTC), caller.sub
            uow.session.add(row)
            uow.commit()
        return {"org": caller.org, "informed": body.informed, "reason": row.reason}


class ConsentPublic(BaseModel):
    consent_id: str = Field(description="The consent's id, as recorded.")
    recorded_by: str = Field(description="The organisation that recorded it.")
    recipients: list[str] = Field(description="Organisations it names, or ['*'] for the whole partnership.")
    purposes: list[str] = Field(description="Purposes it covers.")
    data_categories: list[str] = Field(description="Data categories it covers.")
    given_on: date = Field(description="The day it was given.")
    expires_on: date | None = Field(default=None, description="The last day it holds, if it expires.")
    withdrawn_at: datetime | None = Field(default=None, description="When it was withdrawn, if it was.")
    state: Literal["active", "withdrawn", "expired", "not_yet_in_force"] = Field(description="In force today?")


def _invitation(row) -> InvitationPublic:
    return InvitationPublic(
        conference_id=row.conference_id,
        invitee=row.invitee,
        response=row.response,
        report_requested=row.report_requested,
        report_received_at=as_utc(row.report_received_at),
    )
