"""What the register API takes and gives: pydantic models with field descriptions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from isp_common.times import as_utc
from isp_schemas.people import Child, EntityId, Person, StrictModel, valid_nhs_number
from isp_schemas.register import RegisterCategory, Risk
from pydantic import BaseModel, Field, PlainSerializer, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

Said = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Text that must say something: blank or only spaces is refused as missing."""


class AgencyContact(StrictModel):
    """Another agency working with the client: who to call."""

    agency: str = Field(min_length=1, max_length=200, description="The agency, e.g. probation, health visiting.")
    name: str | None = Field(default=None, max_length=200, description="The contact's name.")
    role: str | None = Field(default=None, max_length=200, description="The contact's role.")
    phone: str | None = Field(default=None, max_length=50, description="Telephone.")
    email: str | None = Field(default=None, max_length=320, description="E-mail.")


class EntryOpen(StrictModel):
    """Put a person on the caller's organisation's register (CONTRACT §7)."""

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


class EntryReview(StrictModel):
    """A monthly (or earlier) review of one entry."""

    notes: Said = Field(
        max_length=20000, description="What the review found: required, a review without notes is refused."
    )
    reviewed_on: date | None = Field(
        default=None, description="The day of the review (default today, Europe/London); not in the future."
    )
    risk: Risk | None = Field(default=None, description="The risk as reassessed, if it changed.")


class EntryUpdate(StrictModel):
    """Change an entry's details; only the fields given change. The NHS number cannot change."""

    category: RegisterCategory | None = None
    risk: Risk | None = None
    children: list[Child] | None = None
    agency_contacts: list[AgencyContact] | None = None
    referral_ids: list[EntityId] | None = None
    notes: str | None = Field(default=None, max_length=20000, description="Replaces the current monitoring notes.")
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None


class EntryClose(StrictModel):
    """Close an entry: the reason is required, and kept with the owning organisation's record."""

    reason: Said = Field(max_length=2000, description="Why the entry is closed (required).")


class MatchContact(StrictModel):
    """That the reader's organisation contacted the other organisation about a cross-area match."""

    notes: Said = Field(max_length=5000, description="Who was contacted, how, and what was agreed (required).")


PAGE_SIZE_MAX = 1000


class EntryQuery(StrictModel):
    """Which of the caller's organisation's entries to list (``GET /v1/register/entries``)."""

    status: Literal["open", "closed", "all"] = Field("open", description="Open, closed or all entries.")
    q: str | None = Field(
        None,
        max_length=100,
        description="An NHS number (spaces allowed, must be valid) or part of the client's name.",
    )
    category: RegisterCategory | None = Field(None, description="Only this register category.")
    risk: Risk | None = Field(None, description="Only this risk.")
    opened_by: str | None = Field(None, max_length=200, description="Only entries opened by this DSL (owner).")
    cross_area: bool | None = Field(
        None, description="true: only entries also open on another area's register; false: only those that are not."
    )
    review_overdue: bool | None = Field(None, description="true: only open entries past their review date.")
    review_due_by: date | None = Field(None, description="Only open entries whose review is due on or before this day.")
    limit: int = Field(500, ge=1, le=PAGE_SIZE_MAX, description="At most this many entries in one page.")
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,9}$", description="The `next` of the previous page.")

    @field_validator("q")
    @classmethod
    def _nhs_number_or_name(cls, q: str | None) -> str | None:
        q = (q or "").strip()
        digits = q.replace(" ", "")
        if digits.isdigit() and not valid_nhs_number(digits):
            if len(digits) != 10:
                raise PydanticCustomError("nhs_number_format", "An NHS number must be exactly 10 digits")
            raise PydanticCustomError("nhs_number_check", "NHS number fails the modulus 11 check")
        return digits if digits.isdigit() else (q or None)

    @property
    def offset(self) -> int:
        return int(self.cursor or 0)


class WeeklyReviewCreate(StrictModel):
    notes: str = Field(default="", max_length=20000, description="What the weekly review found and decided.")


# -- what the API gives ------------------------------------------------------------------------

Instant = Annotated[datetime, PlainSerializer(lambda at: as_utc(at).isoformat(), return_type=str, when_used="json")]
"""An instant, shown in UTC with its offset (``2026-01-31T11:00:00+00:00``)."""

EntryStatus = Literal["open", "closed"]


class EntrySummary(BaseModel):
    """One entry as the list and the worklist show it."""

    id: str = Field(description="The entry's id.")
    org: str = Field(description="The organisation whose register holds the entry.")
    person: dict[str, Any] = Field(description="The client: NHS number and, if known, name and date of birth.")
    category: RegisterCategory = Field(description="One of the four register categories.")
    risk: Risk = Field(description="The assessed risk.")
    status: EntryStatus = Field(description="Open or closed.")
    opened_on: date = Field(description="The day the person went on the register (Europe/London).")
    opened_at: Instant = Field(description="When the opening was recorded.")
    opened_by: str = Field(description="Who opened the entry (the token's subject).")
    review_due: date = Field(description="The day by which the next review is due.")
    review_overdue: bool = Field(description="Open and past its review date.")
    last_reviewed_on: date | None = Field(description="The day of the last review, if any.")
    version: int = Field(description="Goes up by one with every change.")


class MatchContactPublic(BaseModel):
    """The reader's organisation's record of contacting the other about a match."""

    at: Instant = Field(description="When the contact was recorded.")
    by: str = Field(description="Who recorded it (the token's subject).")
    notes: str


class MatchPublic(BaseModel):
    """The same person open on another organisation's register, seen from the reader's side."""

    id: str
    own_entry_id: str = Field(description="The reader's entry.")
    own_category: RegisterCategory
    other_org: str = Field(description="The other organisation.")
    other_entry_id: str = Field(description="The other organisation's entry.")
    other_category: RegisterCategory
    matched_at: Instant = Field(description="When the match was found.")
    other_org_name: str | None = Field(description="The other organisation's name (partnership directory).")
    other_dsl_contact: str | None = Field(description="How to reach its designated safeguarding lead (directory).")
    other_out_of_hours: str | None = Field(description="Its out-of-hours team and how to reach it, if any.")
    contacts: list[MatchContactPublic] = Field(description="The reader's records of contacting them, oldest first.")
    next_step: str = Field(description="What the reader should do next.")


class HistoryItem(BaseModel):
    """One action on an entry: who, when, and the entry as it stood after it."""

    version: int
    action: Literal["opened", "reviewed", "updated", "closed"]
    at: Instant = Field(description="When the action was recorded.")
    by: str = Field(description="Who acted (the token's subject).")
    effective_on: date = Field(description="The day the action took effect (a review's or an opening's own date).")
    notes: str
    changed: list[str] = Field(description="Names of the fields the action changed (never their values).")
    review_due: date
    snapshot: dict[str, Any] = Field(description="The entry as it stood after the action.")


class EntryDetail(EntrySummary):
    """One entry with its details, its cross-area matches and its full history."""

    children: list[dict[str, Any]] = Field(description="Children linked to the client.")
    agency_contacts: list[dict[str, Any]] = Field(description="Other agencies' contacts.")
    referral_ids: list[str] = Field(description="Referrals made for this client.")
    notes: str = Field(description="The current monitoring notes.")
    closed_on: date | None
    closed_by: str | None
    closed_reason: str | None
    cross_area_matches: list[MatchPublic]
    history: list[HistoryItem] = Field(description="Every action on the entry, oldest first.")


class EntryListItem(EntrySummary):
    """One entry in the register list."""

    cross_area_match: bool = Field(description="Also open (now or once) on another organisation's register.")


class EntryList(BaseModel):
    """One page of the caller's organisation's entries, review due soonest first."""

    items: list[EntryListItem]
    total: int = Field(description="How many entries match the query, over all pages.")
    next: str | None = Field(description="The cursor of the next page (pass it as `cursor`); null on the last.")


class WeeklyReviewPublic(BaseModel):
    """The DSL's weekly review of the whole register, as recorded."""

    id: str
    org: str
    reviewed_on: date
    week_starting: date = Field(description="The Monday of the week reviewed.")
    at: Instant
    by: str
    notes: str
    open_entries: int = Field(description="Entries open when the review was recorded.")
    overdue_entries: int = Field(description="Of those, entries past their review date.")


class MissedWeekPublic(BaseModel):
    """A finished week without a weekly review, for which WeeklyReviewMissed was raised."""

    week_starting: date
    flagged_at: Instant


class WeeklyReviewList(BaseModel):
    items: list[WeeklyReviewPublic] = Field(description="The weekly reviews, newest first (at most 52).")
    missed: list[MissedWeekPublic] = Field(description="Weeks missed, newest first (at most 12).")


class WorklistPublic(BaseModel):
    """What the DSL's weekly review goes through, for the caller's organisation."""

    org: str
    today: date
    since: Instant = Field(description="A week ago, or the last weekly review if that is earlier.")
    overdue: list[EntrySummary]
    due_this_week: list[EntrySummary]
    opened_since_last_week: list[EntrySummary]
    cross_area_matches: list[MatchPublic]
    last_weekly_review: WeeklyReviewPublic | None
    weekly_review_done_this_week: bool
    weekly_reviews_missed: list[MissedWeekPublic]
