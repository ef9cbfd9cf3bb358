"""Events published by children's social care on ``isp.socialcare.v1`` (CONTRACT section 4).

Conference events are keyed by ``conference_id`` (see ``topics.message_key``).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from . import topics
from .envelope import EventData
from .people import Child, EntityId, OrgId, Person

PlanKind = Literal["child_protection", "child_in_need"]
ConferenceKind = Literal["initial_child_protection", "review_child_protection", "core_group", "child_in_need_review"]


class SocialCareEvent(EventData):
    topic: ClassVar[str] = topics.SOCIALCARE


class EnquiryOpened(SocialCareEvent):
    """A section 47 enquiry (into significant harm to a child) was opened."""

    event_type: ClassVar[str] = "uk.isp.socialcare.enquiry.opened.v1"

    enquiry_id: EntityId = Field(description="The social care system's enquiry id.")
    child: Child = Field(description="The child the enquiry is about.")
    parents: list[Person] = Field(description="The child's parents or carers.")
    opened_on: date = Field(description="The date the enquiry was opened.")


class EnquiryClosed(SocialCareEvent):
    """A section 47 enquiry was closed."""

    event_type: ClassVar[str] = "uk.isp.socialcare.enquiry.closed.v1"

    enquiry_id: EntityId = Field(description="The enquiry id given when it was opened.")
    closed_on: date = Field(description="The date the enquiry was closed.")


class PlanStarted(SocialCareEvent):
    """A child protection or child in need plan started."""

    event_type: ClassVar[str] = "uk.isp.socialcare.plan.started.v1"

    plan_id: EntityId = Field(description="The social care system's plan id.")
    kind: PlanKind = Field(description="child_protection or child_in_need.")
    child: Child = Field(description="The child the plan is for.")
    parents: list[Person] = Field(description="The child's parents or carers.")
    started_on: date = Field(description="The date the plan started.")


class PlanEnded(SocialCareEvent):
    """A plan ended."""

    event_type: ClassVar[str] = "uk.isp.socialcare.plan.ended.v1"

    plan_id: EntityId = Field(description="The plan id given when it started.")
    ended_on: date = Field(description="The date the plan ended.")


class ConferenceScheduled(SocialCareEvent):
    """A child protection conference, core group or CIN review was scheduled."""

    event_type: ClassVar[str] = "uk.isp.socialcare.conference.scheduled.v1"

    conference_id: EntityId = Field(description="The social care system's conference id.")
    kind: ConferenceKind = Field(description="The kind of meeting.")
    children: list[Child] = Field(description="The children the conference is about.")
    parents: list[Person] = Field(description="The children's parents or carers.")
    scheduled_for: AwareDatetime = Field(description="When the conference is.")
    location: str = Field(min_length=1, description="Where it is (address or meeting link).")
    issued_at: AwareDatetime = Field(description="When the invitation is issued.")
    invitees: list[OrgId] = Field(description="The organisations invited.")


class ConferenceCancelled(SocialCareEvent):
    """A scheduled conference was cancelled."""

    event_type: ClassVar[str] = "uk.isp.socialcare.conference.cancelled.v1"

    conference_id: EntityId = Field(description="The conference id given when it was scheduled.")
    reason: str | None = Field(default=None, description="Why, if given.")


EVENTS: tuple[type[SocialCareEvent], ...] = (
    EnquiryOpened,
    EnquiryClosed,
    PlanStarted,
    PlanEnded,
    ConferenceScheduled,
    ConferenceCancelled,
)
