"""Alerts to one organisation, on ``isp.alerts.<ORG>.v1`` (CONTRACT sections 4 and 6).

Two families:

* Shares with another organisation (referral_received, did_not_attend, attendance_unrecorded,
  treatment_disengaged, conference_invitation, register_cross_area): ``lawful_basis`` is required, ``person`` too
  except for register_cross_area, which carries only the fact of the match. Fields that belong
  to a data category the basis may not cover (children, rating, threshold, summary) are
  optional: None means withheld, an empty list means none known.
* Operational alerts to an organisation's own DSL or to a referral's sender about its own
  referral (disclosure_withheld and the rest): ``lawful_basis`` is None and ``person`` optional
  (disclosure_released repeats, in ``lawful_basis``, the basis the withheld alert was finally sent on).

``sender_org`` is the organisation whose information the alert carries. ``deadline`` is set
where the alert must be delivered or acknowledged by a time (escalated to the sender's DSL
otherwise).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator
from pydantic_core import PydanticCustomError

from . import topics
from .consent import DataCategory
from .envelope import EventData
from .people import Child, EntityId, OrgId, Person, SchemaModel
from .referrals import Direction, Rag, ReferralDue, Threshold
from .register import RegisterCategory, Risk
from .socialcare import ConferenceKind

StatutoryGround = Literal[
    "child_protection_enquiry",
    "child_protection_plan",
    "significant_harm",
    "child_protection_conference",
    "safeguarding_register_match",
]


class ConsentBasis(SchemaModel):
    """Shared under the person's consent."""

    kind: Literal["consent"] = Field(description="consent")
    consent_id: EntityId = Field(description="The consent relied on.")


class StatutoryBasis(SchemaModel):
    """Shared without consent on a statutory ground."""

    kind: Literal["statutory"] = Field(description="statutory")
    ground: StatutoryGround = Field(description="The statutory ground relied on.")


class ProfessionalJudgementBasis(SchemaModel):
    """Released by the sending organisation's designated safeguarding lead on professional judgement (v1.1)."""

    kind: Literal["professional_judgement"] = Field(description="professional_judgement")
    by: str = Field(min_length=1, max_length=200, description="The releasing DSL's sub (user id).")
    reason: str = Field(min_length=1, max_length=2000, description="The DSL's reason for releasing it.")


LawfulBasis = Annotated[ConsentBasis | StatutoryBasis | ProfessionalJudgementBasis, Field(discriminator="kind")]


class AlertBase(EventData):
    topic: ClassVar[str] = topics.ALERTS_TEMPLATE
    data_category: ClassVar[DataCategory | None] = None
    """The data category an alert's core content falls under (None: operational alert)."""

    alert_id: EntityId = Field(description="Unique alert id; the audit and webhook dedupe key.")
    sender_org: OrgId = Field(description="The organisation whose information this is.")
    person: Person | None = Field(default=None, description="The person it is about.")
    lawful_basis: LawfulBasis | None = Field(default=None, description="The basis the information is shared on.")
    deadline: AwareDatetime | None = Field(
        default=None, description="Deliver or acknowledge by then, or it is escalated."
    )


class SharedAlert(AlertBase):
    """An alert sharing a person's information with another organisation."""

    person: Person = Field(description="The person it is about.")
    lawful_basis: LawfulBasis = Field(description="The basis the information is shared on.")


# -- shares with other organisations (contract) ---------------------------------------------


class ReferralReceivedAlert(SharedAlert):
    """A referral was made to the recipient organisation."""

    event_type: ClassVar[str] = "uk.isp.alert.referral_received.v1"
    data_category: ClassVar[DataCategory | None] = "referral"

    referral_id: EntityId = Field(description="The referral id.")
    direction: Direction = Field(description="to_treatment or to_social_care.")
    from_org: OrgId = Field(description="The referring organisation.")
    threshold: Threshold | None = Field(default=None, description="Threshold (to social care).")
    rag: Rag | None = Field(default=None, description="Red/amber/green rating, unless withheld.")
    children: list[Child] | None = Field(default=None, description="Children, unless withheld.")
    summary: str | None = Field(default=None, description="Why the referral is made.")
    priority: bool = Field(description="True for a referral from social care to treatment.")


class AssessmentAttendanceAlert(SharedAlert):
    """News of the assessment appointment of a referral from social care: to the referring
    social-care organisation, within 24 hours of ``scheduled_for``."""

    data_category: ClassVar[DataCategory | None] = "attendance"

    appointment_id: EntityId = Field(description="The assessment appointment.")
    referral_id: EntityId = Field(description="The referral it answered.")
    scheduled_for: AwareDatetime = Field(description="When the appointment was.")
    deadline: AwareDatetime = Field(description="24 hours after scheduled_for.")


class DidNotAttendAlert(AssessmentAttendanceAlert):
    """A parent referred by social care missed the assessment appointment."""

    event_type: ClassVar[str] = "uk.isp.alert.did_not_attend.v1"


class AttendanceUnrecordedAlert(AssessmentAttendanceAlert):
    """The provider never recorded whether the parent referred by social care attended the assessment.

    Sent to the referring social-care organisation at the 24-hour deadline (``scheduled_for`` + 24 h)
    when neither attended nor missed was recorded (v1.1).
    """

    event_type: ClassVar[str] = "uk.isp.alert.attendance_unrecorded.v1"


class TreatmentDisengagedAlert(SharedAlert):
    """A parent dropped out of treatment."""

    event_type: ClassVar[str] = "uk.isp.alert.treatment_disengaged.v1"
    data_category: ClassVar[DataCategory | None] = "treatment_status"

    episode_id: EntityId = Field(description="The treatment episode.")
    last_contact_on: date = Field(description="The date of the last contact.")
    children: list[Child] | None = Field(default=None, description="Children, unless withheld.")


class ConferenceInvitationAlert(SharedAlert):
    """An invitation to a conference about the person's children."""

    event_type: ClassVar[str] = "uk.isp.alert.conference_invitation.v1"
    data_category: ClassVar[DataCategory | None] = "conference"

    person: Person | None = Field(  # type: ignore[assignment]  # optional here: a conference may name no parent
        default=None, description="The parent it is about; absent when the conference names no parent (v1.1)."
    )

    conference_id: EntityId = Field(description="The conference id.")
    kind: ConferenceKind = Field(description="The kind of meeting.")
    scheduled_for: AwareDatetime = Field(description="When the conference is.")
    location: str = Field(description="Where it is.")
    children: list[Child] | None = Field(default=None, description="Children, unless withheld.")
    notice_working_days: int = Field(
        description="Working days after issued_at's date up to and including scheduled_for's date."
    )
    short_notice: bool = Field(description="True when scheduled_for's date is before the 5th working day after issue.")
    report_due: date = Field(description="The date a written report is due.")
    written_report_requested: bool = Field(
        default=False, description="A written report is asked for (always on short notice)."
    )


class RegisterCrossAreaAlert(SharedAlert):
    """The person on the recipient's register is also open on another organisation's register.

    Carries only the fact of the match: ``entry_id`` and ``category`` are ``other_org``'s
    entry; ``own_entry_id`` is the recipient's own matching entry. ``person`` is None.
    """

    event_type: ClassVar[str] = "uk.isp.alert.register_cross_area.v1"
    data_category: ClassVar[DataCategory | None] = "register"

    person: Person | None = Field(  # type: ignore[assignment]  # pydantic lets a subclass widen SharedAlert.person
        default=None, description="Not sent: the fact of the match only."
    )
    entry_id: EntityId = Field(description="The other organisation's register entry.")
    other_org: OrgId = Field(description="The organisation whose register also holds the person.")
    category: RegisterCategory = Field(description="The other entry's category.")
    own_entry_id: EntityId = Field(description="The recipient's own entry that matched.")
    own_category: RegisterCategory | None = Field(default=None, description="The recipient's own entry's category.")

    @model_validator(mode="after")
    def _register_ground(self) -> RegisterCrossAreaAlert:
        basis = self.lawful_basis
        if not (isinstance(basis, StatutoryBasis) and basis.ground == "safeguarding_register_match"):
            raise PydanticCustomError(
                "register_basis",
                "a register match is shared on statutory ground safeguarding_register_match",
            )
        return self


# -- operational alerts: to the organisation's own DSL or to a referral's sender ------------


class DisclosureWithheldAlert(AlertBase):
    """A share was withheld for want of a lawful basis: for the sender's DSL's judgement."""

    event_type: ClassVar[str] = "uk.isp.alert.disclosure_withheld.v1"

    person: Person | None = Field(
        default=None, description="The person the withheld share was about (absent when it named none, v1.1)."
    )
    withheld_type: str = Field(description="The alert type that was not sent.")
    intended_recipient: OrgId = Field(description="The organisation it would have gone to.")
    reason: str = Field(description="Why no lawful basis held.")
    source_event_id: str | None = Field(default=None, description="The event that prompted it.")
    withheld_alert_id: EntityId | None = Field(
        default=None, description="The id the withheld alert would have had (its audit record's alert_id)."
    )
    deadline: AwareDatetime | None = Field(
        default=None,
        description=(
            "The withheld alert's own deadline, where it has one: it stays open to a new decision until then "
            "and is escalated like the alert it stands for (v1.1)."
        ),
    )
    consent_refused_on: date | None = Field(
        default=None, description="The date of the person's latest recorded refusal of consent, if any (v1.1)."
    )


class RecipientUnknownAlert(AlertBase):
    """A share the law would allow found no one to go to: no children's social care organisation is
    known to work with the person's children. To the sender's DSL, for their judgement (v1.1).

    It stays open until ``deadline``: a fact that names such an organisation before then sends it.
    """

    event_type: ClassVar[str] = "uk.isp.alert.recipient_unknown.v1"

    person: Person = Field(description="The person it is about.")
    withheld_type: str = Field(description="The alert type that found no recipient.")
    reason: str = Field(description="Why no recipient was found.")
    source_event_id: str | None = Field(default=None, description="The event that prompted it.")
    withheld_alert_id: EntityId | None = Field(default=None, description="The id of the open share (for release).")


class DisclosureReleasedAlert(AlertBase):
    """A withheld alert was sent after all: on a basis that arrived later, or on the DSL's judgement (v1.1).

    To the sending organisation (its DSL), which was told of the withholding.
    """

    event_type: ClassVar[str] = "uk.isp.alert.disclosure_released.v1"

    withheld_alert_id: EntityId = Field(description="The alert that had been withheld and is now sent.")
    intended_recipient: OrgId = Field(description="The organisation it was sent to.")
    lawful_basis: LawfulBasis = Field(description="The basis it was released on.")
    withheld_type: str = Field(description="The released alert's type.")


class JudgementReleaseAlert(AlertBase):
    """A DSL released a withheld alert on professional judgement: to the partnership IG organisation (v1.1).

    ``person`` is left out: the IG organisation reads the audit trail for the record.
    """

    event_type: ClassVar[str] = "uk.isp.alert.judgement_release.v1"

    withheld_alert_id: EntityId = Field(description="The alert released.")
    discloser: OrgId = Field(description="The organisation whose DSL released it.")
    intended_recipient: OrgId = Field(description="The organisation it was sent to.")
    by: str = Field(min_length=1, max_length=200, description="The releasing DSL's sub (user id).")
    reason: str = Field(min_length=1, max_length=2000, description="The DSL's reason.")
    withheld_type: str = Field(description="The released alert's type.")


class ConferenceCancelledAlert(AlertBase):
    """A conference the recipient was invited to was cancelled."""

    event_type: ClassVar[str] = "uk.isp.alert.conference_cancelled.v1"

    conference_id: EntityId = Field(description="The cancelled conference.")
    scheduled_for: AwareDatetime | None = Field(default=None, description="When it was to be.")
    reason: str | None = Field(default=None, description="Why, if given.")


class ReferralStatusAlert(AlertBase):
    """News of a referral: for the organisation that made it, or (cancelled, amended) for the one receiving it."""

    event_type: ClassVar[str] = "uk.isp.alert.referral_status.v1"

    referral_id: EntityId = Field(description="The referral.")
    state: str = Field(description="Its new state, e.g. accepted, declined, allocated, closed, cancelled, amended.")
    reason: str | None = Field(default=None, description="Reason (declined, cancelled).")
    outcome: str | None = Field(default=None, description="Outcome (closed).")
    changed: list[str] | None = Field(
        default=None, description="Fields the referrer changed (amended); read the referral for their new values."
    )


class ReferralOverdueAlert(AlertBase):
    """A referral step is overdue."""

    event_type: ClassVar[str] = "uk.isp.alert.referral_overdue.v1"

    referral_id: EntityId = Field(description="The referral.")
    due: ReferralDue = Field(description="Which step is overdue.")
    due_on: date = Field(description="The date it was due.")
    responsible_org: OrgId = Field(description="The organisation that has to do it.")
    escalate_to: OrgId | None = Field(
        default=None, description="The organisation told besides the responsible one, e.g. out-of-hours (v1.1)."
    )
    emergency: bool = Field(default=False, description="True for an emergency referral (v1.1).")


class AppointmentOutcomeMissingAlert(AlertBase):
    """An appointment passed with no attended/missed event from the provider."""

    event_type: ClassVar[str] = "uk.isp.alert.appointment_outcome_missing.v1"

    appointment_id: EntityId = Field(description="The appointment.")
    referral_id: EntityId | None = Field(default=None, description="The referral it answers.")
    provider_org: OrgId = Field(description="The provider that owes the outcome.")
    scheduled_for: AwareDatetime | None = Field(default=None, description="When it was.")


class ReportOverdueAlert(AlertBase):
    """A written report for a conference is overdue."""

    event_type: ClassVar[str] = "uk.isp.alert.report_overdue.v1"

    conference_id: EntityId = Field(description="The conference.")
    report_due: date = Field(description="The date the report was due.")
    scheduled_for: AwareDatetime | None = Field(default=None, description="When the conference is.")
    invitee: OrgId | None = Field(default=None, description="The invited organisation whose report is overdue.")


class DeliveryEscalationAlert(AlertBase):
    """An alert with a deadline was neither delivered nor acknowledged in time."""

    event_type: ClassVar[str] = "uk.isp.alert.delivery_escalation.v1"

    escalated_alert_id: EntityId = Field(description="The alert not delivered in time.")
    escalated_type: str = Field(description="Its type.")
    recipient: OrgId = Field(description="The organisation it was for.")
    missed_deadline: AwareDatetime = Field(description="The deadline it missed.")
    attempts: int | None = Field(default=None, description="Webhook delivery attempts so far.")
    last_error: str | None = Field(default=None, description="The last delivery failure.")


class RegisterReviewDueAlert(AlertBase):
    """A register entry's review is due (or overdue): to the organisation's own DSL."""

    event_type: ClassVar[str] = "uk.isp.alert.register_review_due.v1"

    entry_id: EntityId = Field(description="The register entry.")
    category: RegisterCategory = Field(description="Its category.")
    risk: Risk = Field(description="Its risk.")
    review_due: date = Field(description="The date the review is due.")
    overdue: bool = Field(default=False, description="True when the date has passed.")


class WeeklyReviewMissedAlert(AlertBase):
    """A week passed without the DSL's weekly review of the register: to the organisation's own DSL."""

    event_type: ClassVar[str] = "uk.isp.alert.weekly_review_missed.v1"

    week_starting: date = Field(description="The Monday of the week without a weekly review.")
    last_reviewed_on: date | None = Field(default=None, description="The last weekly review, if any.")


class ReconciliationMismatchAlert(AlertBase):
    """A periodic reconciliation found records that do not agree (e.g. shares vs audit)."""

    event_type: ClassVar[str] = "uk.isp.alert.reconciliation_mismatch.v1"

    check: str = Field(description="The reconciliation that failed.")
    reference: str = Field(description="The id of the record that does not agree.")
    detail: str = Field(description="What did not agree (ids only, no personal data).")


SHARED_ALERTS: tuple[type[SharedAlert], ...] = (
    ReferralReceivedAlert,
    DidNotAttendAlert,
    AttendanceUnrecordedAlert,
    TreatmentDisengagedAlert,
    ConferenceInvitationAlert,
    RegisterCrossAreaAlert,
)
EVENTS: tuple[type[AlertBase], ...] = (
    *SHARED_ALERTS,
    DisclosureWithheldAlert,
    RecipientUnknownAlert,
    DisclosureReleasedAlert,
    JudgementReleaseAlert,
    ConferenceCancelledAlert,
    ReferralStatusAlert,
    ReferralOverdueAlert,
    AppointmentOutcomeMissingAlert,
    ReportOverdueAlert,
    DeliveryEscalationAlert,
    RegisterReviewDueAlert,
    WeeklyReviewMissedAlert,
    ReconciliationMismatchAlert,
)
