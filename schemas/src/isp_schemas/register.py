"""Safeguarding register events on ``isp.register.v1`` (the register service's own design).

These events never carry an NHS number. A person appears only as ``person_key``: the
lower-case hex HMAC-SHA256 of the ten-digit NHS number (ASCII) under the partnership's
register key, computed with ``person_key()``. Equal keys mean the same person across
organisations (cross-area matching) without the number travelling. The event ``subject`` is
the ``person_key`` (``WeeklyReviewMissed``, which is about no one, has the org id).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from . import topics
from .envelope import EventData
from .people import EntityId, OrgId, valid_nhs_number

RegisterCategory = Literal["child_concern", "vulnerable_adult", "risk_to_vulnerable_adults", "general_high_risk"]
Risk = Literal["high", "medium", "low"]

PERSON_KEY_PATTERN = r"^[0-9a-f]{64}$"
PersonKey = Annotated[str, StringConstraints(pattern=PERSON_KEY_PATTERN)]
"""HMAC-SHA256 (hex, lower case) of the NHS number under the partnership register key."""


def person_key(nhs_number: str, partnership_key: bytes) -> str:
    """The register's pseudonym for a person: HMAC-SHA256(key, NHS number), lower-case hex."""
    if not valid_nhs_number(nhs_number):
        raise ValueError("person_key needs a valid NHS number")
    if not partnership_key:
        raise ValueError("person_key needs a non-empty partnership key")
    return hmac.new(partnership_key, nhs_number.encode("ascii"), hashlib.sha256).hexdigest()


class RegisterEvent(EventData):
    topic: ClassVar[str] = topics.REGISTER


class RegisterEntryFact(RegisterEvent):
    """What every entry event carries."""

    entry_id: EntityId = Field(description="The register entry id.")
    org: OrgId = Field(description="The organisation whose register it is.")
    person_key: PersonKey = Field(description="HMAC-SHA256 of the NHS number (never the number).")
    category: RegisterCategory = Field(description="The register category.")
    risk: Risk = Field(description="The assessed risk.")
    review_due: date = Field(description="The date the next review is due.")
    at: AwareDatetime = Field(description="When this happened.")
    by: str | None = Field(default=None, description="The acting user's sub; none for the system.")


class RegisterEntryOpened(RegisterEntryFact):
    """A person was put on an organisation's safeguarding register."""

    event_type: ClassVar[str] = "uk.isp.register.entry.opened.v1"


class RegisterEntryReviewed(RegisterEntryFact):
    """An entry was reviewed; ``review_due`` is the next review (at most a month on)."""

    event_type: ClassVar[str] = "uk.isp.register.entry.reviewed.v1"

    reviewed_on: date = Field(description="The date of the review.")


class RegisterEntryUpdated(RegisterEntryFact):
    """An entry's category, risk or details changed."""

    event_type: ClassVar[str] = "uk.isp.register.entry.updated.v1"

    changed: list[str] = Field(default_factory=list, description="Names of the fields changed.")


class RegisterEntryClosed(RegisterEvent):
    """An entry was closed."""

    event_type: ClassVar[str] = "uk.isp.register.entry.closed.v1"

    entry_id: EntityId = Field(description="The register entry id.")
    org: OrgId = Field(description="The organisation whose register it is.")
    person_key: PersonKey = Field(description="HMAC-SHA256 of the NHS number (never the number).")
    category: RegisterCategory = Field(description="The entry's category when closed.")
    closed_on: date = Field(description="The date it was closed.")
    reason: str | None = Field(default=None, description="Why, if given.")
    at: AwareDatetime = Field(description="When it was closed.")
    by: str | None = Field(default=None, description="The acting user's sub.")


class ReviewDue(RegisterEvent):
    """An entry's review falls due soon (a reminder to the organisation's DSL)."""

    event_type: ClassVar[str] = "uk.isp.register.review.due.v1"

    entry_id: EntityId = Field(description="The register entry id.")
    org: OrgId = Field(description="The organisation whose register it is.")
    person_key: PersonKey = Field(description="HMAC-SHA256 of the NHS number (never the number).")
    category: RegisterCategory = Field(description="The register category.")
    risk: Risk = Field(description="The assessed risk.")
    review_due: date = Field(description="The date the review is due.")


class ReviewOverdue(ReviewDue):
    """An entry's review date passed without a review."""

    event_type: ClassVar[str] = "uk.isp.register.review.overdue.v1"


class WeeklyReviewMissed(RegisterEvent):
    """The DSL's weekly review of the whole register was not recorded for a week."""

    event_type: ClassVar[str] = "uk.isp.register.weekly_review.missed.v1"

    org: OrgId = Field(description="The organisation whose register it is.")
    week_starting: date = Field(description="The Monday of the week without a review.")
    last_reviewed_on: date | None = Field(default=None, description="The date of the last weekly review, if any.")


class RegisterCrossAreaMatch(RegisterEvent):
    """An entry was opened for a person already open on another organisation's register.

    Published by the register service; the notifications service turns it into one
    ``uk.isp.alert.register_cross_area.v1`` to each organisation's designated safeguarding
    lead, on ground ``safeguarding_register_match``, carrying only the fact of the match.
    """

    event_type: ClassVar[str] = "uk.isp.register.cross_area_match.v1"

    person_key: PersonKey = Field(description="HMAC-SHA256 of the NHS number (never the number).")
    entry_id: EntityId = Field(description="The entry just opened.")
    org: OrgId = Field(description="The organisation that opened it.")
    category: RegisterCategory = Field(description="Its category.")
    other_entry_id: EntityId = Field(description="The entry already open on the other register.")
    other_org: OrgId = Field(description="The organisation holding that entry.")
    other_category: RegisterCategory = Field(description="That entry's category.")
    matched_at: AwareDatetime = Field(description="When the match was found.")


EVENTS: tuple[type[RegisterEvent], ...] = (
    RegisterEntryOpened,
    RegisterEntryReviewed,
    RegisterEntryUpdated,
    RegisterEntryClosed,
    ReviewDue,
    ReviewOverdue,
    WeeklyReviewMissed,
    RegisterCrossAreaMatch,
)
