"""The referrals service's own tables."""

from __future__ import annotations

from datetime import datetime

from isp_common.tables import utcnow
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class Referral(SQLModel, table=True):
    __tablename__ = "referrals_referral"
    id: str = Field(primary_key=True)
    direction: str
    from_org: str = Field(index=True)
    to_org: str = Field(index=True)
    nhs_number: str = Field(index=True)
    person: dict = Field(sa_column=Column(JSON, nullable=False))
    children: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    threshold: str | None = None
    rag: str
    consent_id: str | None = None
    summary: str = ""
    state: str = "requested"
    source_event_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Appointment(SQLModel, table=True):
    __tablename__ = "referrals_appointment"
    id: str = Field(primary_key=True)
    provider_org: str = Field(index=True)
    nhs_number: str = Field(index=True)
    referral_id: str | None = Field(default=None, index=True)
    kind: str
    scheduled_for: datetime
    status: str = "booked"  # booked | attended | missed
    recorded_at: datetime | None = None
