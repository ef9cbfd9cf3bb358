"""The HTTP API's request and response bodies, each field described for the OpenAPI document."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal, get_args

from isp_schemas.alerts import LawfulBasis
from isp_schemas.consent import DataCategory
from isp_schemas.people import Child, EntityId, OrgId, Person, StrictModel
from isp_schemas.referrals import Direction, Rag, ReferralDue, ReferralRequested, Threshold
from pydantic import AwareDatetime, BaseModel, Field

from .domain import STATES

ReferralState = Literal["requested", "accepted", "declined", "cancelled", "allocated", "active", "closed"]
assert set(STATES) == set(get_args(ReferralState))  # noqa: S101 - one list of states


class ReferralCreate(ReferralRequested):
    """A new referral: the fields of ``uk.isp.referral.requested.v1``, validated the same way (an
    unknown field, such as a mistyped ``consentId``, is refused by name).

    ``referral_id`` may be left out and is then assigned. Re-sending an identical referral
    with the same id answers 200 with the referral; a different one with a used id answers 409.
    """

    referral_id: EntityId | None = Field(  # type: ignore[assignment]  # optional here, required on the event
        default=None, description="The referral id (unique across the partnership); assigned when left out."
    )

    def as_request(self) -> ReferralRequested:
        """The referral as the event it is published as, with an id assigned when left out."""
        fields = self.model_dump(exclude={"referral_id"})
        return ReferralRequested.model_validate({**fields, "referral_id": self.referral_id or f"ref-{uuid.uuid4()}"})


class Stamped(StrictModel):
    at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When it happened, if earlier than now (recorded after the fact). Not in the future, and "
            "not before the referral entered its current state. Due dates count from its London date."
        ),
    )


class AcceptBody(Stamped):
    rag: Rag | None = Field(default=None, description="The receiver's triage rating (red/amber/green).")


class DeclineBody(Stamped):
    reason: str = Field(min_length=1, max_length=2000, description="Why the referral is declined (told to the sender).")


class CancelBody(StrictModel):
    reason: str | None = Field(default=None, max_length=2000, description="Why the referral is withdrawn.")


class AmendBody(StrictModel):
    """The fields to change; the rest stay. The amended referral is validated as a new one."""

    rag: Rag | None = Field(default=None, description="New red/amber/green rating of harm to the child.")
    threshold: Threshold | None = Field(default=None, description="New threshold (to social care).")
    summary: str | None = Field(default=None, min_length=1, description="New reason for the referral.")
    children: list[Child] | None = Field(default=None, description="The children concerned, replacing the list.")
    consent_id: EntityId | None = Field(default=None, description="The consent the referral is shared under.")
    parent_agreed: bool | None = Field(default=None, description="Support request form: the parent agreed.")
    concerns: list[str] | None = Field(default=None, description="Support request form: areas of concern.")
    history: str | None = Field(default=None, description="Support request form: relevant history.")
    known_to_treatment: bool | None = Field(
        default=None, description="Support request form: already known to the treatment service."
    )


class AllocateBody(Stamped):
    practitioner: str = Field(min_length=1, max_length=200, description="The allocated practitioner's user id (sub).")


class JointVisitBody(StrictModel):
    scheduled_for: AwareDatetime = Field(description="When the initial joint visit with the social worker is.")


class ActivateBody(Stamped):
    episode_id: EntityId | None = Field(default=None, description="The treatment episode it led to, if any.")


class SummaryBody(Stamped):
    period: str | None = Field(
        default=None,
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="The month summarised, YYYY-MM; defaults to the month of `at`.",
    )


class CloseBody(Stamped):
    outcome: str = Field(min_length=1, max_length=200, description="The outcome, e.g. completed, disengaged.")
    reason: str | None = Field(default=None, max_length=2000, description="Further reason, if given.")


# --- responses -------------------------------------------------------------------------


class SupportRequest(BaseModel):
    parent_agreed: bool | None = Field(description="The parent agreed to the referral (see consent_id).")
    concerns: list[str] = Field(description="Areas of concern ticked on the form.")
    history: str | None = Field(description="Brief history: involvement with children's social care, main issues.")
    known_to_treatment: bool | None = Field(description="Already known to or engaging with the treatment service.")


class Allocation(BaseModel):
    cycle: Literal["weekly", "immediate"] = Field(
        description="weekly: considered at the weekly allocation meeting; immediate: an emergency, not held."
    )
    meeting_on: date | None = Field(description="The weekly allocation meeting that considers it (weekly only).")
    practitioner: str | None = Field(description="The allocated practitioner, once allocated.")


class JointVisit(BaseModel):
    scheduled_for: datetime | None = Field(description="When the initial joint visit is booked for.")
    done_on: date | None = Field(description="The date the joint visit took place.")


class DueDate(BaseModel):
    due: ReferralDue = Field(
        description="The step owed: assessment_booking, joint_visit, workbook, monthly_summary, response."
    )
    due_on: date = Field(description="The last day to do it (working days, Europe/London).")
    due_at: datetime | None = Field(
        default=None,
        description=(
            "The instant it is due, for a deadline counted in hours: the receiver's response to a priority, s47 "
            "or emergency referral. None: by the end of due_on."
        ),
    )
    responsible_org: OrgId = Field(description="The organisation that has to do it.")
    status: Literal["pending", "met", "met_late", "overdue", "waived"] = Field(
        description="pending; met (on time); met_late; overdue (its day has ended unmet); waived (referral closed)."
    )
    met_on: date | None = Field(description="When it was done.")
    overdue_since: date | None = Field(description="The first day it was overdue (the day after due_on).")
    overdue_raised_at: datetime | None = Field(description="When the overdue event was published.")


class HistoryEntry(BaseModel):
    action: str = Field(description="What was done: request, accept, decline, allocate, overdue, appointment_missed...")
    from_state: ReferralState | None = Field(description="The state before.")
    to_state: ReferralState = Field(description="The state after.")
    at: datetime = Field(description="When it happened.")
    recorded_at: datetime = Field(description="When it was recorded here.")
    by: str | None = Field(description="The acting user's sub; none for a partner system's event or the timer.")
    org: OrgId = Field(description="The organisation that acted (or owes the overdue step).")
    details: dict[str, Any] = Field(description="The step's own fields (reason, practitioner, due...).")
    event_id: str | None = Field(description="The CloudEvent id published or consumed for this step.")


class AppointmentView(BaseModel):
    appointment_id: str = Field(description="The provider's appointment id.")
    provider_org: OrgId = Field(description="The treatment provider.")
    kind: str = Field(description="assessment, review or other.")
    scheduled_for: datetime = Field(description="When it is (or was).")
    status: Literal["booked", "attended", "missed"] = Field(description="booked, attended or missed (DNA).")
    recorded_at: datetime | None = Field(description="When the outcome was recorded.")
    outcome_prompted_at: datetime | None = Field(description="When the provider was prompted for a missing outcome.")


class Disclosure(BaseModel):
    """The latest disclosure decision about the referral for its receiving organisation."""

    decision: Literal["shared", "withheld"] = Field(description="shared or withheld.")
    data_categories: list[DataCategory] = Field(description="The categories of data shared (none when withheld).")
    lawful_basis: LawfulBasis | None = Field(description="The basis it was shared on; none when withheld.")
    decided_at: datetime = Field(description="When it was decided.")


class ReferralView(BaseModel):
    """A referral with its state, what may happen next, its due dates and its history.

    The referring organisation sees it in full. The receiving organisation sees it only once a
    disclosure decision has shared it, and then only the categories shared (``disclosure``): without
    ``risk`` the rating and the children are null; the support request and the consent id are the
    sender's and are null; appointments and their history are shown when ``attendance`` was shared
    or they are the receiver's own. Each such read is audited (channel ``api``).
    """

    id: str = Field(description="The referral id.")
    direction: Direction = Field(description="to_treatment (from social care: priority) or to_social_care.")
    from_org: OrgId = Field(description="The referring organisation.")
    to_org: OrgId = Field(description="The organisation referred to.")
    person: Person = Field(description="The adult (parent) referred or referred about.")
    children: list[Child] | None = Field(
        description="The children concerned (unborn included); null when not shared with you (category risk)."
    )
    threshold: Threshold | None = Field(description="Threshold of need (to social care).")
    rag: Rag | None = Field(
        description="The referrer's red/amber/green rating of harm to the child; null when not shared with you (risk)."
    )
    triage_rag: Rag | None = Field(description="The receiver's triage rating, set on acceptance.")
    consent_id: str | None = Field(description="The consent the referral is shared under, if any (sender only).")
    summary: str = Field(description="Why the referral is made.")
    priority: bool = Field(description="True for a referral from social care to treatment.")
    emergency: bool = Field(
        description="Risk of immediate harm: shared on the statutory ground significant_harm, not held for allocation."
    )
    support_request: SupportRequest | None = Field(
        description="The support request form's areas to consider (sender only: not part of the share)."
    )
    allocation: Allocation = Field(description="How and to whom it is allocated.")
    state: ReferralState = Field(description="Where the referral is in its life.")
    allowed_actions: list[str] = Field(description="The commands allowed now (accept, decline, allocate...).")
    joint_visit: JointVisit = Field(description="The initial joint visit.")
    workbook_opened_on: date | None = Field(description="The date the family's workbook was opened.")
    activated_on: date | None = Field(description="The date active work began.")
    episode_id: str | None = Field(description="The treatment episode it led to.")
    last_summary_period: str | None = Field(description="The last month summarised (YYYY-MM).")
    reason: str | None = Field(description="Why it was declined or cancelled.")
    outcome: str | None = Field(description="The outcome it was closed with.")
    outcome_reason: str | None = Field(description="Further reason given on closing.")
    channel: Literal["api", "kafka"] = Field(description="How it was made: over HTTP or as an event.")
    requested_event_id: str | None = Field(
        description="The CloudEvent id of its uk.isp.referral.requested.v1 event (the decisions' source_event_id)."
    )
    disclosure: Disclosure | None = Field(
        description="The latest decision sharing it with the receiving organisation; null until one is heard."
    )
    requested_at: datetime = Field(description="When it was made.")
    state_since: datetime = Field(description="When it entered its current state.")
    due_dates: list[DueDate] = Field(description="Every due date the protocol sets for it, met or not.")
    next_due: DueDate | None = Field(description="The earliest due date still ahead (not yet missed).")
    overdue: list[DueDate] = Field(description="The due dates missed and not yet met.")
    appointments: list[AppointmentView] = Field(description="Appointments booked in answer to it.")
    history: list[HistoryEntry] = Field(description="Who did what, when, oldest first.")


class ReferralList(BaseModel):
    items: list[ReferralView] = Field(description="The referrals, newest first.")
