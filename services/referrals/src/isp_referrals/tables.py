"""The referrals service's own tables (all prefixed ``referrals_``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from isp_common.tables import empty_dict, empty_list
from isp_common.times import utcnow
from sqlalchemy import JSON, Column, DateTime, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

TZ = DateTime(timezone=True)
"""Times are stored in UTC; SQLite drops the offset, so read them back with ``as_utc``."""


_referral_version = Column("version", Integer, nullable=False)


class Referral(SQLModel, table=True):
    """A referral, both directions, with where it is in its life.

    ``version`` is an optimistic lock: two transitions racing on one referral cannot both
    commit (the loser's flush raises StaleDataError, answered 409).
    """

    __tablename__ = "referrals_referral"
    __mapper_args__ = {"version_id_col": _referral_version}
    id: str = Field(primary_key=True)
    direction: str
    from_org: str = Field(index=True)
    to_org: str = Field(index=True)
    nhs_number: str = Field(index=True)
    person: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    children: list[dict[str, Any]] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    threshold: str | None = None
    rag: str
    consent_id: str | None = None
    summary: str = ""
    # the support request form (social care -> treatment)
    parent_agreed: bool | None = None
    concerns: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    background: str | None = None  # the form's "history"
    known_to_treatment: bool | None = None
    priority: bool = False
    emergency: bool = False
    allocation_meeting_on: date | None = None
    # life
    state: str = Field(default="requested", index=True)
    triage_rag: str | None = None
    practitioner: str | None = None
    joint_visit_scheduled_for: datetime | None = Field(default=None, sa_type=TZ)
    joint_visit_on: date | None = None
    workbook_opened_on: date | None = None
    activated_on: date | None = None
    episode_id: str | None = None
    reason: str | None = None  # declined / cancelled
    outcome: str | None = None
    outcome_reason: str | None = None
    last_summary_period: str | None = None
    channel: str = "kafka"  # kafka | api
    source_event_id: str | None = None
    requested_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    last_changed_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    version: int = Field(default=1, sa_column=_referral_version)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TZ)


class ReferralHistory(SQLModel, table=True):
    """Who did what to a referral, and when."""

    __tablename__ = "referrals_history"
    id: int | None = Field(default=None, primary_key=True)
    referral_id: str = Field(index=True)
    action: str
    from_state: str | None = None
    to_state: str
    at: datetime = Field(sa_type=TZ)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    by: str | None = None
    org: str
    details: dict[str, Any] = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    event_id: str | None = None


class ReferralDueDate(SQLModel, table=True):
    """One step a referral owes by a date. ``overdue_raised_at`` makes the overdue event once-only."""

    __tablename__ = "referrals_due"
    __table_args__ = (UniqueConstraint("referral_id", "due", "due_on", name="uq_referrals_due"),)
    id: int | None = Field(default=None, primary_key=True)
    referral_id: str = Field(index=True)
    due: str  # assessment_booking | joint_visit | workbook | monthly_summary | response
    due_on: date = Field(index=True)
    due_at: datetime | None = Field(default=None, sa_type=TZ, index=True)
    """The instant it is due, for a deadline counted in hours (``response``); None: by the end of ``due_on``."""
    responsible_org: str
    met_on: date | None = None
    overdue_raised_at: datetime | None = Field(default=None, sa_type=TZ)
    waived_at: datetime | None = Field(default=None, sa_type=TZ)

    @property
    def status(self) -> str:
        if self.met_on is not None:
            # a deadline in hours was missed if the timer raised it before it was met
            late = self.overdue_raised_at is not None if self.due_at is not None else self.met_on > self.due_on
            return "met_late" if late else "met"
        if self.waived_at is not None:
            return "waived"
        if self.overdue_raised_at is not None:
            return "overdue"
        return "pending"


class Appointment(SQLModel, table=True):
    __tablename__ = "referrals_appointment"
    id: str = Field(primary_key=True)
    provider_org: str = Field(index=True)
    nhs_number: str = Field(index=True)
    referral_id: str | None = Field(default=None, index=True)
    kind: str
    scheduled_for: datetime = Field(sa_type=TZ)
    booked_at: datetime | None = Field(default=None, sa_type=TZ)
    status: str = Field(default="booked", index=True)  # booked | attended | missed
    recorded_at: datetime | None = Field(default=None, sa_type=TZ)
    outcome_prompted_at: datetime | None = Field(default=None, sa_type=TZ)
    unrecorded_raised_at: datetime | None = Field(default=None, sa_type=TZ)
    """When social care was told that the outcome was still unrecorded 24 hours after it (once)."""


class ReferralShare(SQLModel, table=True):
    """The latest disclosure decision about a referral for one recipient, as audited on
    ``isp.audit.v1`` by the service that decided it: what the receiving organisation may see.

    Keyed by the CloudEvent id of the referral's ``requested`` event (``Referral.source_event_id``)
    so that a decision heard before the referral itself is kept until the referral arrives."""

    __tablename__ = "referrals_share"
    source_event_id: str = Field(primary_key=True)
    recipient: str = Field(primary_key=True)
    decision: str  # shared | withheld
    data_categories: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    lawful_basis: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    purpose: str
    alert_id: str
    audit_record_id: str
    """The audit service's id of the decision's record."""
    decided_at: datetime = Field(sa_type=TZ)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
