"""The notifications service's own store: the facts disclosure decisions rest on, and the alerts."""

from __future__ import annotations

from datetime import date, datetime

from isp_common.tables import utcnow
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class ConsentRecord(SQLModel, table=True):
    __tablename__ = "notifications_consent"
    id: str = Field(primary_key=True)
    nhs_number: str = Field(index=True)
    recorded_by: str
    recipients: list = Field(sa_column=Column(JSON, nullable=False))
    purposes: list = Field(sa_column=Column(JSON, nullable=False))
    data_categories: list = Field(sa_column=Column(JSON, nullable=False))
    given_on: date
    expires_on: date | None = None
    withdrawn_at: datetime | None = None


class AlertRecord(SQLModel, table=True):
    """An alert queued for one recipient organisation (its Kafka topic and webhooks)."""

    __tablename__ = "notifications_alert"
    id: str = Field(primary_key=True)
    type: str = Field(index=True)
    recipient: str = Field(index=True)
    sender: str
    nhs_number: str | None = Field(default=None, index=True)
    event: dict = Field(sa_column=Column(JSON, nullable=False))
    deadline: datetime | None = None
    status: str = Field(default="pending", index=True)  # pending | delivered | failed
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
