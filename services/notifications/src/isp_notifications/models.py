"""The HTTP API's request and response bodies (CONTRACT §5, §6)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from isp_common.times import as_utc
from isp_schemas.people import NhsNumber, StrictModel
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .domain.conferences import Response
from .domain.consents import ConsentState
from .tables import (
    AlertRecord,
    ConsentRecord,
    DeliveryAttempt,
    InformingStatement,
    InvitationRecord,
    Subscription,
    WithheldShare,
)

AlertStatus = Literal["pending", "delivered", "failed", "withheld"]

# -- subscriptions ---------------------------------------------------------------------------


class SubscriptionCreate(StrictModel):
    url: str = Field(description="Where to POST alerts (https in production).")
    types: list[str] = Field(
        min_length=1,
        max_length=100,
        description='Alert types to receive, or ["*"] for all (DSL-only types need role dsl; anyone else\'s '
        '"*" is every other type, spelled out).',
    )


class SubscriptionCreated(BaseModel):
    id: str
    secret: str = Field(
        description="whsec_...: verify webhook-signature with it (Standard Webhooks). Shown this once only."
    )
    url: str
    types: list[str]
    org: str

    @classmethod
    def of(cls, sub: Subscription, secret: str) -> SubscriptionCreated:
        return cls(id=sub.id, secret=secret, url=sub.url, types=sub.types, org=sub.org)


class SecretRotated(BaseModel):
    id: str = Field(description="The subscription.")
    secret: str = Field(description="The new whsec_... secret. Shown this once only.")
    previous_valid_until: datetime = Field(
        description="Until then deliveries carry a signature with the previous secret as well (space-separated "
        "in webhook-signature); after it, only the new one."
    )


class SubscriptionPublic(BaseModel):
    id: str
    url: str
    types: list[str]
    org: str
    created_at: datetime
    event_count: int = Field(description="Alerts queued to it so far (the running count webhooks carry).")
    failing_since: datetime | None

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionPublic:
        return cls(
            id=sub.id,
            url=sub.url,
            types=sub.types,
            org=sub.org,
            created_at=as_utc(sub.created_at),
            event_count=sub.event_count,
            failing_since=as_utc(sub.failing_since),
        )


class DeliveryAttemptPublic(BaseModel):
    """One try in a subscription's delivery log: when, which event, and whether it was delivered.
    Never the endpoint's status code, an error or a duration: the URL is the subscriber's choice,
    and those would tell it what answers at any address it names (a port scanner)."""

    delivery_id: str | None = Field(
        description="The event's webhook-id (the same on every retry of one alert; none for a heartbeat)."
    )
    kind: Literal["alert", "heartbeat"]
    at: datetime
    outcome: Literal["delivered", "failed"] = Field(description="delivered (a 2xx answer) or failed (anything else)")

    @classmethod
    def of(cls, row: DeliveryAttempt) -> DeliveryAttemptPublic:
        return cls(
            delivery_id=row.delivery_id,
            kind="heartbeat" if row.kind == "heartbeat" else "alert",
            at=as_utc(row.at),
            outcome="delivered" if row.outcome == "delivered" else "failed",
        )


# -- alerts ----------------------------------------------------------------------------------


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

    @classmethod
    def of(cls, alert: AlertRecord, event_number: int | None = None) -> AlertPublic:
        return cls(
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


class AlertPage(BaseModel):
    items: list[AlertPublic]
    total: int = Field(description="How many alerts match the query, over all pages.")
    next: str | None = Field(
        None,
        description=(
            "The next page: pass it as `cursor` (newest first), or, replaying with `after`, as `after` "
            "(the running count of this page's last alert); null on the last page."
        ),
    )
    event_count: int | None = Field(None, description="The subscription's running count now (with after=).")


class SubscriptionList(BaseModel):
    items: list[SubscriptionPublic] = Field(description="Your organisation's active subscriptions.")


class DeliveryLog(BaseModel):
    items: list[DeliveryAttemptPublic] = Field(description="The subscription's tries, newest first.")


class Acknowledged(BaseModel):
    alert_id: str
    acknowledged_at: datetime


# -- conferences -----------------------------------------------------------------------------


class ConferenceAnswer(StrictModel):
    response: Response


class InvitationPublic(BaseModel):
    conference_id: str
    invitee: str
    response: str | None
    report_requested: bool
    report_received_at: datetime | None

    @classmethod
    def of(cls, row: InvitationRecord) -> InvitationPublic:
        return cls(
            conference_id=row.conference_id,
            invitee=row.invitee,
            response=row.response,
            report_requested=row.report_requested,
            report_received_at=as_utc(row.report_received_at),
        )


# -- disclosure ------------------------------------------------------------------------------


class ConsentPublic(BaseModel):
    consent_id: str = Field(description="The consent's id, as recorded.")
    recorded_by: str = Field(description="The organisation that recorded it.")
    recipients: list[str] = Field(description="Organisations it names, or ['*'] for the whole partnership.")
    purposes: list[str] = Field(description="Purposes it covers.")
    data_categories: list[str] = Field(description="Data categories it covers.")
    given_on: date = Field(description="The day it was given.")
    expires_on: date | None = Field(default=None, description="The last day it holds, if it expires.")
    withdrawn_at: datetime | None = Field(default=None, description="When it was withdrawn, if it was.")
    state: ConsentState = Field(description="In force today?")

    @classmethod
    def of(cls, row: ConsentRecord, state: ConsentState) -> ConsentPublic:
        return cls(
            consent_id=row.id,
            recorded_by=row.recorded_by,
            recipients=row.recipients,
            purposes=row.purposes,
            data_categories=row.data_categories,
            given_on=row.given_on,
            expires_on=row.expires_on,
            withdrawn_at=as_utc(row.withdrawn_at),
            state=state,
        )


class InformingCreate(StrictModel):
    nhs_number: NhsNumber
    informed: bool = Field(description="The service user has been told of statutory shares about them.")
    reason: str | None = Field(
        None, min_length=1, max_length=2000, description="Why not, when not told (e.g. would put a child at risk)."
    )
    alert_id: str | None = Field(
        None,
        description=(
            "The one share (an alert your organisation sent about this person) the statement is about. "
            "Without it, the statement is the default for this person's later statutory shares."
        ),
    )


class InformingPublic(BaseModel):
    org: str = Field(description="The organisation whose statement it is.")
    informed: bool
    reason: str | None
    alert_id: str | None = Field(None, description="The share it is about (absent: the person's default).")

    @classmethod
    def of(cls, row: InformingStatement) -> InformingPublic:
        return cls(org=row.org, informed=row.informed, reason=row.reason)

    @classmethod
    def of_share(cls, alert: AlertRecord) -> InformingPublic:
        return cls(
            org=alert.sender,
            informed=bool(alert.service_user_informed),
            reason=alert.not_informed_reason,
            alert_id=alert.id,
        )


# -- withheld shares and their release (CONTRACT §6 v1.1) -----------------------------------


class ReleaseRequest(StrictModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why the DSL judges the share necessary.")
    service_user_informed: bool = Field(description="Whether the service user has been told of this share.")
    not_informed_reason: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        validate_default=True,
        description="Why not, when not told (required then).",
    )

    @field_validator("not_informed_reason")
    @classmethod
    def _reason_when_not_told(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("service_user_informed") is False and not value:
            raise PydanticCustomError("reason_required", "a decision not to tell the service user needs its reason")
        return value


class WithheldPublic(BaseModel):
    alert_id: str = Field(description="The withheld alert (release it with POST /v1/withheld/{alert_id}/release).")
    alert_type: str
    intended_recipient: str = Field(description="The organisation it would go to ('' while none is known).")
    nhs_number: str | None
    reason: str = Field(description="Why no lawful basis held when it was last decided.")
    withheld_at: datetime
    deadline: datetime | None = Field(description="The alert's own deadline, if it has one.")
    open_until: datetime = Field(description="Open to a new decision (a late fact, or your release) until then.")
    state: str = Field(description="open | released | closed")
    released_basis: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: WithheldShare) -> WithheldPublic:
        return cls(
            alert_id=row.alert_id,
            alert_type=row.alert_type,
            intended_recipient=row.recipient,
            nhs_number=row.nhs_number,
            reason=row.reason,
            withheld_at=as_utc(row.withheld_at) or row.withheld_at,
            deadline=as_utc(row.deadline),
            open_until=as_utc(row.open_until) or row.open_until,
            state=row.state,
            released_basis=row.released_basis,
        )


class WithheldPage(BaseModel):
    items: list[WithheldPublic]
