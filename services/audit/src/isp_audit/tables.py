"""The audit trail: one row per disclosure decision, chained by hash."""

from __future__ import annotations

from datetime import datetime

from isp_common.tables import utcnow
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class DisclosureRecord(SQLModel, table=True):
    __tablename__ = "audit_disclosure"
    __table_args__ = (UniqueConstraint("alert_id", "recipient", "decision", name="uq_disclosure_share"),)
    seq: int = Field(primary_key=True)
    id: str = Field(index=True, unique=True)
    recorded_at: datetime = Field(default_factory=utcnow)
    shared_at: datetime
    decision: str
    discloser: str = Field(index=True)
    recipient: str = Field(index=True)
    person: str | None = Field(default=None, index=True)
    children: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purpose: str
    data_categories: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    lawful_basis: dict | None = Field(default=None, sa_column=Column(JSON))
    service_user_informed: bool | None = None
    not_informed_reason: str | None = None
    source_event_id: str | None = None
    alert_id: str = Field(index=True)
    alert_type: str | None = None
    channel: str
    trace_id: str | None = None
    reason: str | None = None
    prev_hash: str
    hash: str
