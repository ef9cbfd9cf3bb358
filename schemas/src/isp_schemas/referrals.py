"""Referrals both ways and their later life, on ``isp.referrals.v1``.

``ReferralRequested`` is the contract's (CONTRACT section 4). The later-life events are the
referrals service's own design: each repeats who the referral is between and about
(``referral_id``, ``direction``, ``from_org``, ``to_org``, ``person``) so a consumer never
needs the referrals database, plus ``at`` (when) and ``by`` (the acting user's ``sub``; None
when the system itself acted, e.g. overdue detection).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator
from pydantic_core import PydanticCustomError

from . import topics
from .envelope import EventData
from .people import Child, EntityId, OrgId, Person

Direction = Literal["to_treatment", "to_social_care"]
Threshold = Literal["child_protection_s47", "child_in_need_s17", "emergency", "family_support"]
Rag = Literal["red", "amber", "green"]
ReferralDue = Literal["assessment_booking", "joint_visit", "workbook", "monthly_summary", "response"]
"""A referral's due step; ``response`` is the receiver's answer to a priority or emergency referral (v1.1)."""


class ReferralEvent(EventData):
    topic: ClassVar[str] = topics.REFERRALS


class ReferralRequested(ReferralEvent):
    """A referral to treatment or to children's social care.

    ``threshold`` is required for ``to_social_care``. ``to_social_care`` referrals name at
    least one child (unborn counts). The support-request fields at the end are optional and
    mostly used ``to_treatment``.
    """

    event_type: ClassVar[str] = "uk.isp.referral.requested.v1"

    referral_id: EntityId = Field(description="The referral id (unique across the partnership).")
    direction: Direction = Field(description="to_treatment or to_social_care.")
    from_org: OrgId = Field(description="The referring organisation.")
    to_org: OrgId = Field(description="The organisation referred to.")
    person: Person = Field(description="The adult (parent) referred or referred about.")
    children: list[Child] = Field(description="The children concerned (unborn included).")
    threshold: Threshold | None = Field(
        default=None, description="Threshold of need; required when direction is to_social_care."
    )
    rag: Rag = Field(description="Red/amber/green rating of harm to the child.")
    consent_id: EntityId | None = Field(default=None, description="The consent this referral is shared under, if any.")
    summary: str = Field(min_length=1, description="Why the referral is made.")
    parent_agreed: bool | None = Field(
        default=None, description="Support request form: the parent agreed to the referral."
    )
    concerns: list[str] = Field(default_factory=list, description="Support request form: the concerns ticked.")
    history: str | None = Field(default=None, description="Support request form: relevant history of substance use.")
    known_to_treatment: bool | None = Field(
        default=None, description="Support request form: the parent is already in treatment."
    )

    @model_validator(mode="after")
    def _direction_rules(self) -> ReferralRequested:
        if self.from_org == self.to_org:
            raise PydanticCustomError("referral_self", "from_org and to_org must differ")
        if self.direction == "to_social_care":
            if self.threshold is None:
                raise PydanticCustomError("referral_threshold", "threshold is required for a referral to social care")
            if not self.children:
                raise PydanticCustomError("referral_children", "a referral to social care names at least one child")
        return self

    @property
    def priority(self) -> bool:
        """A referral from children's social care to treatment is a priority referral."""
        return self.direction == "to_treatment"


class ReferralFact(ReferralEvent):
    """What every later-life event repeats about its referral."""

    referral_id: EntityId = Field(description="The referral this is about.")
    direction: Direction = Field(description="The referral's direction.")
    from_org: OrgId = Field(description="The referring organisation.")
    to_org: OrgId = Field(description="The organisation referred to.")
    person: Person = Field(description="The adult the referral is about.")
    at: AwareDatetime = Field(description="When this happened.")
    by: str | None = Field(default=None, description="The acting user's sub; none when the system acted.")


class ReferralAccepted(ReferralFact):
    """The receiving organisation accepted the referral (after triage)."""

    event_type: ClassVar[str] = "uk.isp.referral.accepted.v1"

    rag: Rag | None = Field(default=None, description="The receiver's triage rating, if made.")


class ReferralDeclined(ReferralFact):
    """The receiving organisation declined the referral."""

    event_type: ClassVar[str] = "uk.isp.referral.declined.v1"

    reason: str = Field(min_length=1, description="Why it was declined.")


class ReferralAmended(ReferralFact):
    """The referrer changed the referral; only the changed fields are set."""

    event_type: ClassVar[str] = "uk.isp.referral.amended.v1"

    changed: list[str] = Field(min_length=1, description="Names of the fields changed.")
    rag: Rag | None = Field(default=None, description="New rating, if changed.")
    threshold: Threshold | None = Field(default=None, description="New threshold, if changed.")
    summary: str | None = Field(default=None, description="New summary, if changed.")
    children: list[Child] | None = Field(default=None, description="New children, if changed.")
    consent_id: EntityId | None = Field(default=None, description="New consent id, if changed.")
    changes: dict[str, Any] = Field(default_factory=dict, description="Other changed fields and their new values.")


class ReferralCancelled(ReferralFact):
    """The referrer withdrew the referral."""

    event_type: ClassVar[str] = "uk.isp.referral.cancelled.v1"

    reason: str | None = Field(default=None, description="Why, if given.")


class ReferralAllocated(ReferralFact):
    """The referral was allocated to a practitioner (weekly allocation)."""

    event_type: ClassVar[str] = "uk.isp.referral.allocated.v1"

    practitioner: str = Field(min_length=1, description="The practitioner's sub (user id).")
    joint_visit_due: date | None = Field(
        default=None, description="Last day for the joint visit (3 working days after allocation)."
    )
    workbook_due: date | None = Field(
        default=None, description="Last day to open the workbook (2 working days after allocation)."
    )


class ReferralJointVisitBooked(ReferralFact):
    """The initial joint visit with the social worker was booked."""

    event_type: ClassVar[str] = "uk.isp.referral.joint_visit_booked.v1"

    scheduled_for: AwareDatetime = Field(description="When the joint visit is.")


class ReferralJointVisitDone(ReferralFact):
    """The initial joint visit took place."""

    event_type: ClassVar[str] = "uk.isp.referral.joint_visit_done.v1"

    visited_on: date = Field(description="The date of the visit.")


class ReferralWorkbookOpened(ReferralFact):
    """The family's workbook was opened."""

    event_type: ClassVar[str] = "uk.isp.referral.workbook_opened.v1"

    opened_on: date = Field(description="The date the workbook was opened.")


class ReferralActivated(ReferralFact):
    """The referred person engaged: the referral became active work."""

    event_type: ClassVar[str] = "uk.isp.referral.activated.v1"

    episode_id: EntityId | None = Field(default=None, description="The treatment episode it led to, if any.")


class ReferralSummaryRecorded(ReferralFact):
    """A monthly summary (due before group supervision) was recorded."""

    event_type: ClassVar[str] = "uk.isp.referral.summary_recorded.v1"

    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="The month, YYYY-MM.")
    next_due: date | None = Field(default=None, description="When the next summary is due.")


class ReferralClosed(ReferralFact):
    """The referral was closed."""

    event_type: ClassVar[str] = "uk.isp.referral.closed.v1"

    outcome: str = Field(min_length=1, description="The outcome, e.g. completed, disengaged.")
    reason: str | None = Field(default=None, description="Further reason, if given.")


class ReferralOverdue(ReferralFact):
    """A step of the referral passed its due date without being done."""

    event_type: ClassVar[str] = "uk.isp.referral.overdue.v1"

    due: ReferralDue = Field(description="Which step is overdue.")
    due_on: date = Field(description="The date it was due.")
    responsible_org: OrgId = Field(description="The organisation that has to do it.")
    escalate_to: OrgId | None = Field(
        default=None,
        description=(
            "The organisation told besides the responsible one, e.g. the directory's out-of-hours team "
            "for an emergency outside working hours (v1.1)."
        ),
    )
    emergency: bool = Field(default=False, description="True when the referral is an emergency (v1.1).")


class ReferralAppointmentOutcomeMissing(ReferralFact):
    """An appointment answering the referral passed with neither attended nor missed recorded."""

    event_type: ClassVar[str] = "uk.isp.referral.appointment_outcome_missing.v1"

    appointment_id: EntityId = Field(description="The appointment without an outcome.")
    provider_org: OrgId = Field(description="The treatment provider that owes the outcome.")
    scheduled_for: AwareDatetime | None = Field(default=None, description="When it was.")


class ReferralAssessmentFact(ReferralFact):
    """News of the assessment appointment of a referral from social care, which social care must
    hear within 24 hours of ``scheduled_for``."""

    appointment_id: EntityId = Field(description="The assessment appointment.")
    scheduled_for: AwareDatetime = Field(description="When the appointment was.")
    children: list[Child] = Field(
        default_factory=list, description="The children named on the referral (shared only if the basis covers them)."
    )


class ReferralAssessmentMissed(ReferralAssessmentFact):
    """The referred parent did not attend (DNA) the assessment appointment of a referral
    from social care: the referrals service has recorded it, and social care must be told
    within 24 hours of ``scheduled_for`` (protocol; CONTRACT ``did_not_attend``)."""

    event_type: ClassVar[str] = "uk.isp.referral.assessment_missed.v1"

    recorded_at: AwareDatetime = Field(description="When the provider recorded the DNA.")
    cause_event_id: str | None = Field(
        default=None, description="The CloudEvent id of the provider's appointment.missed event."
    )


class ReferralAttendanceUnrecorded(ReferralAssessmentFact):
    """At ``scheduled_for`` + 24 h the assessment of a referral from social care has neither attended
    nor missed recorded: the referring social-care organisation must be told (v1.1; CONTRACT
    ``attendance_unrecorded``)."""

    event_type: ClassVar[str] = "uk.isp.referral.attendance_unrecorded.v1"

    provider_org: OrgId = Field(description="The treatment provider that owes the outcome.")


EVENTS: tuple[type[ReferralEvent], ...] = (
    ReferralRequested,
    ReferralAccepted,
    ReferralDeclined,
    ReferralAmended,
    ReferralCancelled,
    ReferralAllocated,
    ReferralJointVisitBooked,
    ReferralJointVisitDone,
    ReferralWorkbookOpened,
    ReferralActivated,
    ReferralSummaryRecorded,
    ReferralClosed,
    ReferralOverdue,
    ReferralAppointmentOutcomeMissing,
    ReferralAssessmentMissed,
    ReferralAttendanceUnrecorded,
)
