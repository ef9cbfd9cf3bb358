"""The notifications service's own store: the facts disclosure decisions rest on, the alerts,
webhook subscriptions and their delivery log. Every table is prefixed ``notifications_``.

Times are the runtime clock's: the code that writes a row sets them (no wall-clock defaults)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from isp_common.tables import empty_list
from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

# -- facts ---------------------------------------------------------------------------------


class ConsentRecord(SQLModel, table=True):
    __tablename__ = "notifications_consent"
    id: str = Field(primary_key=True)
    nhs_number: str = Field(index=True)
    recorded_by: str
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purposes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    data_categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    given_on: date
    expires_on: date | None = None
    withdrawn_at: datetime | None = None


class EnquiryRecord(SQLModel, table=True):
    """A section 47 enquiry, with the child and parents it names (from isp.socialcare.v1)."""

    __tablename__ = "notifications_enquiry"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    child: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    parents: list[str] = Field(sa_column=Column(JSON, nullable=False))  # NHS numbers
    opened_on: date
    closed_on: date | None = None
    closed_at: datetime | None = None  # when the close took effect (its event's time on closed_on)


class PlanRecord(SQLModel, table=True):
    """A child protection or child in need plan, with the child and parents it names."""

    __tablename__ = "notifications_plan"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    kind: str
    child: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    parents: list[str] = Field(sa_column=Column(JSON, nullable=False))
    started_on: date
    ended_on: date | None = None
    ended_at: datetime | None = None  # when the end took effect (its event's time on ended_on)


class FactPerson(SQLModel, table=True):
    """Which people (parents, by NHS number) and children an enquiry or plan names, for lookup."""

    __tablename__ = "notifications_fact_person"
    kind: str = Field(primary_key=True)  # enquiry | plan
    fact_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True, index=True)  # "nhs:<number>" or "local:<id>"
    role: str = "parent"  # parent | child


class ReferralRecord(SQLModel, table=True):
    """A referral as far as disclosure needs it: who it is between, about whom, and if it is open."""

    __tablename__ = "notifications_referral"
    id: str = Field(primary_key=True)
    direction: str
    from_org: str
    to_org: str
    nhs_number: str = Field(index=True)
    children: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    threshold: str | None = None
    emergency: bool = False
    closed: bool = False
    made_at: datetime | None = None  # when it was requested (the significant-harm ground lapses 30 days after)
    ended_at: datetime | None = None  # declined, cancelled or closed at
    # every change of threshold after the request, [[at (ISO), threshold], ...], so a decision about an
    # earlier event is judged on the threshold the referral had then
    threshold_changes: list[list[str | None]] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )


class ConferenceRecord(SQLModel, table=True):
    __tablename__ = "notifications_conference"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)  # the convening organisation
    kind: str
    scheduled_for: datetime
    issued_at: datetime
    report_due: date
    short_notice: bool
    invitees: list[str] = Field(sa_column=Column(JSON, nullable=False))
    cancelled: bool = False


class InvitationRecord(SQLModel, table=True):
    """One invitee's invitation to a conference, its answer and its written report."""

    __tablename__ = "notifications_invitation"
    conference_id: str = Field(primary_key=True)
    invitee: str = Field(primary_key=True)
    sent: bool = False  # at least one invitation alert was shared with the invitee
    report_requested: bool = False
    response: str | None = None  # attending | written_report | cannot_attend
    responded_at: datetime | None = None
    report_received_at: datetime | None = None
    report_overdue_flagged: bool = False


class InformingStatement(SQLModel, table=True):
    """A sender's statement about telling the service user of statutory shares (CONTRACT §6)."""

    __tablename__ = "notifications_informing"
    org: str = Field(primary_key=True)
    nhs_number: str = Field(primary_key=True)
    informed: bool
    reason: str | None = None
    recorded_at: datetime
    recorded_by: str | None = None


class PendingFact(SQLModel, table=True):
    """A closing, withdrawing or amending event that arrived before the fact it changes: kept and
    applied when that fact arrives, so an out-of-order pair never leaves a ground or a consent open."""

    __tablename__ = "notifications_pending_fact"
    kind: str = Field(primary_key=True)  # consent | enquiry | plan | referral
    fact_id: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    event_type: str
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    at: datetime
    received_at: datetime
    source_org: str | None = None  # who sent it: checked against the fact's owner once the fact arrives


class RefusalRecord(SQLModel, table=True):
    """The person refused consent (``uk.isp.consent.refused.v1``); a later consent supersedes it."""

    __tablename__ = "notifications_refusal"
    id: str = Field(primary_key=True)  # the event id
    nhs_number: str = Field(index=True)
    recorded_by: str
    consent_id: str | None = None
    recipients: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    refused_on: date


SEEKING = "seeking"
"""The state of a drop-out still looking for recipients (not a withheld share: nothing to release)."""
OPEN_STATES = ("open", SEEKING)
"""A withheld share open to a new decision, or a drop-out still looking for recipients."""


class WithheldShare(SQLModel, table=True):
    """A share withheld for want of a lawful basis, open to a new decision until ``open_until``
    (its alert's deadline, or 24 hours): a new fact about the person decides it again, and the
    sender's DSL may release it on professional judgement."""

    __tablename__ = "notifications_withheld_share"
    alert_id: str = Field(primary_key=True)
    alert_type: str
    sender: str = Field(index=True)
    recipient: str
    nhs_number: str | None = Field(default=None, index=True)
    source_event_id: str = Field(index=True)
    purpose: str
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reason: str
    withheld_at: datetime
    deadline: datetime | None = None
    open_until: datetime = Field(index=True)
    state: str = Field(default="open", index=True)  # open | seeking | released | closed
    released_at: datetime | None = None
    released_basis: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class SourceEvent(SQLModel, table=True):
    """A causing event kept while a share it led to is open to a new decision."""

    __tablename__ = "notifications_source_event"
    id: str = Field(primary_key=True)
    type: str
    event: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    kept_until: datetime = Field(index=True)


# -- alerts and delivery --------------------------------------------------------------------


class AlertRecord(SQLModel, table=True):
    """An alert queued for one recipient organisation (its Kafka topic and webhooks)."""

    __tablename__ = "notifications_alert"
    id: str = Field(primary_key=True)
    type: str = Field(index=True)
    recipient: str = Field(index=True)
    sender: str
    nhs_number: str | None = Field(default=None, index=True)
    event: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    deadline: datetime | None = None
    status: str = Field(default="pending", index=True)  # pending | delivered | failed | withheld
    created_at: datetime
    delivered_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    # the decision it was shared on (None for operational alerts), for re-checks and receipts
    lawful_basis: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    purpose: str | None = None
    data_categories: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    children: list[dict[str, Any]] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    audited: bool = False  # a "shared" disclosure record was published with it
    escalated: bool = False
    source_event_id: str | None = None
    # the sender's statement about telling the service user of this share (statutory and judgement shares)
    service_user_informed: bool | None = None
    not_informed_reason: str | None = None


class Subscription(SQLModel, table=True):
    """A webhook subscription. Its signing secrets are kept sealed (:mod:`.delivery.sealing`), never in plain text;
    after a rotation the previous secret signs too until ``previous_secret_until``."""

    __tablename__ = "notifications_subscription"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    url: str
    types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    secret_sealed: str
    previous_secret_sealed: str | None = None
    previous_secret_until: datetime | None = None
    created_at: datetime
    created_by: str | None = None
    active: bool = True
    event_count: int = 0  # running count of alerts queued to it (FHIR eventsSinceSubscriptionStart)
    last_sent_at: datetime | None = None  # last delivery or heartbeat attempt
    failing_since: datetime | None = None


class Delivery(SQLModel, table=True):
    """One alert to one webhook subscription; ``id`` is the ``webhook-id`` on every try."""

    __tablename__ = "notifications_delivery"
    id: str = Field(primary_key=True)
    alert_id: str = Field(index=True)
    subscription_id: str = Field(index=True)
    org: str = Field(index=True)
    event_number: int
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", index=True)  # pending | delivered | failed | cancelled
    attempts: int = 0
    next_attempt_at: datetime = Field(index=True)
    first_attempt_at: datetime | None = None
    first_failure_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    escalated: bool = False
    traceparent: str | None = None  # the trace the alert was decided in: continued by every attempt


class DeliveryAttempt(SQLModel, table=True):
    """The delivery log: one row per HTTP attempt (deliveries and heartbeats)."""

    __tablename__ = "notifications_delivery_attempt"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str | None = Field(default=None, index=True)
    subscription_id: str = Field(index=True)
    kind: str = "alert"  # alert | heartbeat
    attempt: int
    at: datetime
    status_code: int | None = None
    outcome: str  # delivered | retry | failed | cancelled
    error: str | None = None
    duration_ms: int | None = None
