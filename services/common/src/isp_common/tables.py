"""Tables every service has: the transactional outbox, its quarantine and the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

from .times import utcnow


def empty_list() -> list[Any]:
    """A JSON list field's default. Not ``default_factory=list``: SQLModel asks pydantic, for each
    row it builds, whether the factory takes the validated data, and ``inspect.signature(list)``
    parses the builtin's text signature each time (about 0.2 ms a row; 8 µs for this function)."""
    return []


def empty_dict() -> dict[str, Any]:
    """A JSON object field's default (not ``default_factory=dict``: see :func:`empty_list`)."""
    return {}


UNSENT_EVENT_ID_INDEX = "ix_outbox_message_unsent_event_id"
UNSENT = "sent_at IS NULL"
"""The rows of :data:`UNSENT_EVENT_ID_INDEX`: not yet published (the model's and the migrations')."""


class OutboxMessage(SQLModel, table=True):
    """An event waiting to be published. Written in the same transaction as the state change."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        # Only rows not yet published are looked up by event id (an alert taken back before it
        # leaves): indexing every row ever published put each insert at a random place in an
        # index as large as the table (at 16,000 people, 1.6 of notifications' 5.7 pages written
        # per event). The model says ``sqlite_where`` only: a ``postgresql_where`` here would make
        # SQLAlchemy import its PostgreSQL dialect in every service (2 MB) when the model is
        # defined. On PostgreSQL the migrations make the index partial
        # (:func:`isp_common.schema_changes.index_only_unsent_outbox_rows`); a bare ``create_all``
        # there (tests) makes it over every row, which answers the same lookups.
        Index(UNSENT_EVENT_ID_INDEX, "event_id", sqlite_where=text(UNSENT)),
    )
    id: int | None = Field(default=None, primary_key=True)
    topic: str
    key: str | None = None
    event_id: str
    event_type: str
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    traceparent: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, index=True)


class ProcessedEvent(SQLModel, table=True):
    """The inbox: a CloudEvent id already handled by a consumer (its effect committed with it)."""

    __tablename__ = "processed_event"
    consumer: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    event_type: str = ""
    processed_at: datetime = Field(default_factory=utcnow)


class QuarantinedOutboxMessage(SQLModel, table=True):
    """An outbox row the relay could not publish (refused for good by the broker, or failing too
    many times in a row), moved aside so the rows behind it flow on; an operator puts it back with
    :func:`isp_common.outbox.release` once the cause is fixed. ``reason`` names the error's kind
    and count, never the content."""

    __tablename__ = "outbox_quarantine"
    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int
    topic: str
    key: str | None = None
    event_id: str = Field(index=True)
    event_type: str
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    traceparent: str | None = None
    created_at: datetime
    quarantined_at: datetime = Field(default_factory=utcnow)
    reason: str
