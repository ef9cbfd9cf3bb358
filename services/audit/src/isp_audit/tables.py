"""The audit trail's tables. ``audit_disclosure`` is append-only (see :mod:`isp_audit.guard`).

Times in ``audit_disclosure`` are fixed-width UTC text and JSON values canonical text (see
:mod:`isp_audit.domain.chain`): what is stored is exactly what is hashed, on every database.
"""

from __future__ import annotations

from datetime import datetime

from isp_common.times import utcnow
from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

DISCLOSURE_TABLE = "audit_disclosure"


class DisclosureRecord(SQLModel, table=True):
    """One decision to share, withhold, or one acknowledgement of receipt.

    Unique on (alert_id, recipient, decision): the same share recorded twice is stored once,
    while a recipient's ``received`` acknowledgement is a record of its own.
    """

    __tablename__ = DISCLOSURE_TABLE
    __table_args__ = (
        UniqueConstraint("alert_id", "recipient", "decision", name="uq_audit_disclosure_share"),
        UniqueConstraint("prev_hash", name="uq_audit_disclosure_prev_hash"),  # no forks
        Index("ix_audit_disclosure_person_time", "person", "shared_at", "seq"),
        Index("ix_audit_disclosure_discloser_time", "discloser", "shared_at", "seq"),
        Index("ix_audit_disclosure_recipient_time", "recipient", "shared_at", "seq"),
        Index("ix_audit_disclosure_time", "shared_at", "seq"),
        Index("ix_audit_disclosure_supersedes", "supersedes"),
    )
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: str = Field(unique=True)
    recorded_at: str
    shared_at: str
    decision: str
    discloser: str
    recipient: str
    purpose: str
    data_categories: str = Field(sa_column=Column(Text, nullable=False))
    lawful_basis: str | None = Field(default=None, sa_column=Column(Text))
    service_user_informed: bool | None = None
    source_event_id: str | None = None
    alert_id: str
    alert_type: str | None = None
    channel: str
    trace_id: str | None = None
    supersedes: str | None = None  # v1.1: the withheld record's id; chained only when set
    provenance: str | None = None  # v1.1 §10: how the causing event proved its origin; chained only when set
    personal_commitment: str
    prev_hash: str
    hash: str = Field(unique=True)
    # personal fields: erased (with the salt) after the retention period
    person: str | None = None
    children: str | None = Field(default=None, sa_column=Column(Text))
    not_informed_reason: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    basis_reason: str | None = Field(default=None, sa_column=Column(Text))  # v1.1: a judgement's reason
    personal_salt: str | None = None
    erased_at: str | None = None
    erasure_id: str | None = None


class Checkpoint(SQLModel, table=True):
    """A signed statement of the chain's head (size, hash, time)."""

    __tablename__ = "audit_checkpoint"
    size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    head: str
    time: str
    key_id: str
    signature: str
    erasures: int | None = None  # the erasure chain's head when signed (none before erasures were chained)
    erasure_head: str | None = None


class AccessRecord(SQLModel, table=True):
    """Who asked the audit trail what, when, and the purpose they gave."""

    __tablename__ = "audit_access"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    sub: str
    org: str = Field(index=True)
    roles: str
    action: str
    query: str = Field(sa_column=Column(Text, nullable=False))
    purpose: str | None = None
    results: int | None = None
    trace_id: str | None = None


class Erasure(SQLModel, table=True):
    """One run of erasure: personal fields of records shared before ``before`` were removed.

    Append-only and chained (``seq``, ``prev_hash``, ``hash``; see :mod:`isp_audit.domain.retention`);
    ``retention_days`` is the retention period it applied.
    """

    __tablename__ = "audit_erasure"
    __table_args__ = (
        UniqueConstraint("seq", name="uq_audit_erasure_seq"),
        UniqueConstraint("prev_hash", name="uq_audit_erasure_prev_hash"),  # no forks
        UniqueConstraint("hash", name="uq_audit_erasure_hash"),
    )
    id: str = Field(primary_key=True)
    seq: int
    at: str
    by: str
    before: str
    retention_days: int
    records: int
    first_seq: int | None = None
    last_seq: int | None = None
    prev_hash: str
    hash: str


class AlertSeen(SQLModel, table=True):
    """An alert delivered on an organisation's alerts topic (for reconciliation)."""

    __tablename__ = "audit_alert_seen"
    alert_id: str = Field(primary_key=True)
    recipient: str = Field(primary_key=True)
    type: str
    sender_org: str
    basis: str | None = None
    event_time: str
    seen_at: str


class ReconciliationRun(SQLModel, table=True):
    """One nightly reconciliation: when, and how many mismatches it found."""

    __tablename__ = "audit_reconciliation_run"
    id: str = Field(primary_key=True)
    run_on: str = Field(index=True)
    at: str
    alerts: int
    records: int
    mismatches: int


class Rejection(SQLModel, table=True):
    """One event dead-lettered by one or more services, kept once (``origin``: where it was read),
    for its organisation to see (no payload) and for an administrator to repair (``value``,
    ``key`` and ``headers`` are the original message; they may hold personal data)."""

    __tablename__ = "audit_rejection"
    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(unique=True)
    origin: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    at: datetime = Field(index=True)
    topic: str = Field(index=True)
    partition: int | None = None
    offset: int | None = None
    type: str | None = None
    event_id: str | None = Field(default=None, index=True)
    org: str = Field(index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    rejected_by: str = Field(sa_column=Column(Text, nullable=False))
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    value: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    headers: str = Field(sa_column=Column(Text, nullable=False))
    replay_of: str | None = Field(default=None, index=True)
    replays: int = 0
    replayed_at: datetime | None = None
    replayed_by: str | None = None
