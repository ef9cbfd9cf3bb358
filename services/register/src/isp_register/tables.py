"""The register service's own tables (all prefixed ``register_``).

Only :class:`RegisterEntry` and its history hold the NHS number and names: the owning
organisation's record. The person index and the matches hold the ``person_key`` alone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from isp_common.tables import empty_list
from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class RegisterEntry(SQLModel, table=True):
    """One person on one organisation's safeguarding register (its current state)."""

    __tablename__ = "register_entry"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    nhs_number: str
    person_key: str = Field(index=True)
    person: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    category: str
    risk: str
    children: list[dict[str, Any]] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    agency_contacts: list[dict[str, Any]] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    referral_ids: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    search_name: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    """The person's given and family names, lower-cased, for the register list's search."""
    status: str = Field(default="open", index=True)  # open | closed
    opened_on: date
    opened_at: datetime
    opened_by: str
    review_due: date = Field(index=True)
    last_reviewed_on: date | None = None
    closed_on: date | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    closed_reason: str | None = None
    due_flagged_for: date | None = None
    overdue_flagged_for: date | None = None
    version: int = 1
    updated_at: datetime


class RegisterEntryHistory(SQLModel, table=True):
    """Every action on an entry, with who and when, and the entry as it stood after it."""

    __tablename__ = "register_entry_history"
    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(index=True, foreign_key="register_entry.id")
    version: int
    action: str  # opened | reviewed | updated | closed
    at: datetime
    by: str
    effective_on: date
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    changed: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    review_due: date
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class RegisterWeeklyReview(SQLModel, table=True):
    """The DSL's weekly review of the whole register, as recorded."""

    __tablename__ = "register_weekly_review"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    reviewed_on: date
    week_starting: date = Field(index=True)
    at: datetime
    by: str
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    open_entries: int = 0
    overdue_entries: int = 0


class RegisterWeeklyReviewMissed(SQLModel, table=True):
    """A week for which WeeklyReviewMissed was raised (at most once per org and week)."""

    __tablename__ = "register_weekly_review_missed"
    org: str = Field(primary_key=True)
    week_starting: date = Field(primary_key=True)
    flagged_at: datetime


class RegisterPersonIndex(SQLModel, table=True):
    """Who is open on which organisation's register, by person_key, from ``isp.register.v1``.

    Built from the events, so it also knows entries held by other deployments of the
    register; it never holds an NHS number.
    """

    __tablename__ = "register_person_index"
    entry_id: str = Field(primary_key=True)
    org: str = Field(index=True)
    person_key: str = Field(index=True)
    category: str
    open: bool = True
    opened_at: datetime
    closed_at: datetime | None = None


class RegisterCrossAreaMatch(SQLModel, table=True):
    """A person open on two organisations' registers: found once per pair of entries."""

    __tablename__ = "register_cross_area_match"
    __table_args__ = (UniqueConstraint("entry_id", "other_entry_id", name="uq_register_match_pair"),)
    id: str = Field(primary_key=True)
    person_key: str = Field(index=True)
    entry_id: str = Field(index=True)
    org: str = Field(index=True)
    category: str
    other_entry_id: str = Field(index=True)
    other_org: str = Field(index=True)
    other_category: str
    matched_at: datetime


class RegisterMatchContact(SQLModel, table=True):
    """One organisation's record that it contacted the other organisation about a cross-area match."""

    __tablename__ = "register_match_contact"
    id: str = Field(primary_key=True)
    match_id: str = Field(index=True, foreign_key="register_cross_area_match.id")
    org: str = Field(index=True)
    entry_id: str = Field(index=True)
    at: datetime
    by: str
    notes: str = Field(sa_column=Column(Text, nullable=False))
