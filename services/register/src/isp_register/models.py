"""What the register API takes and gives: pydantic models with field descriptions."""

from __future__ import annotations

from datetime import date

from isp_schemas.people import Child, EntityId, Person
from isp_schemas.register import RegisterCategory, Risk
from pydantic import BaseModel, ConfigDict, Field


class AgencyContact(BaseModel):
    """Another agency working with the client: who to call."""

    model_config = ConfigDict(extra="forbid")

    agency: str = Field(min_length=1, max_length=200, description="The agency, e.g. probation, health visiting.")
    name: str | None = Field(default=None, max_length=200, description="The contact's name.")
    role: str | None = Field(default=None, max_length=200, description="The contact's role.")
    phone: str | None = Field(default=None, max_length=50, description="Telephone.")
    email: str | None = Field(default=None, max_length=320, description="E-mail.")


class EntryOpen(BaseModel):
    """Put a person on the caller's organisation's register (CONTRACT §7)."""

    model_config = ConfigDict(extra="forbid")

    person: Person = Field(description="The client: NHS number (checked) and, if known, name and date of birth.")
    category: RegisterCategory = Field(description="One of the four register categories.")
    risk: Risk = Field(description="The assessed risk.")
    children: list[Child] = Field(
        default_factory=list, description="Children linked to the client; an unborn child has expected_due_date."
    )
    agency_contacts: list[AgencyContact] = Field(default_factory=list, description="Other agencies' contacts.")
    notes: str = Field(default="", max_length=20000, description="Monitoring notes on opening.")
    referral_ids: list[EntityId] = Field(
        default_factory=list, description="Referrals made for this client (ids of the referrals service)."
    )
    opened_on: date | None = Field(
        default=None,
        description=(
            "The day the person went on the register, when earlier than today (transcribing an existing "
            "register); default today, Europe/London. Never in the future."
        ),
    )


class EntryReview(BaseModel):
    """A monthly (or earlier) review of one entry."""

    model_config = ConfigDict(extra="forbid")

    notes: str = Field(default="", max_length=20000, description="Review and monitoring notes.")
    reviewed_on: date | None = Field(
        default=None, description="The day of the review (default today, Europe/London); not in the future."
    )
    risk: Risk | None = Field(default=None, description="The risk as reassessed, if it changed.")


class EntryUpdate(BaseModel):
    """Change an entry's details; only the fields given change. The NHS number cannot change."""

    model_config = ConfigDict(extra="forbid")

    category: RegisterCategory | None = None
    risk: Risk | None = None
    children: list[Child] | None = None
    agency_contacts: list[AgencyContact] | None = None
    referral_ids: list[EntityId] | None = None
    notes: str | None = Field(default=None, max_length=20000, description="Replaces the current monitoring notes.")
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None


class EntryClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000, description="Why the entry is closed.")


class WeeklyReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: str = Field(default="", max_length=20000, description="What the weekly review found and decided.")
