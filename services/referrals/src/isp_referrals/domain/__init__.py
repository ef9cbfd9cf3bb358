r"""Pure referral rules: the state machine, the due dates, the protocol's rules and the refusals.
No I/O, no framework imports.

A referral's life (protocol; West Sussex practice guidance, "Allocation"):

    requested -> accepted -> allocated -> active -> closed
             \-> declined (with reason)
             \-> cancelled (by the sender, until accepted)

Inside ``allocated`` three milestones are recorded in any order the work allows: the initial
joint visit is booked, the joint visit is done, and the family's workbook is opened. The
referral becomes ``active`` (monthly summaries) once the joint visit is done and the workbook
is open. ``accepted``, ``allocated`` and ``active`` referrals can be closed with an outcome.
"""

from .dues import (
    DEFAULT_ASSESSMENT_BOOKING_WORKING_DAYS,
    JOINT_VISIT_WORKING_DAYS,
    WORKBOOK_WORKING_DAYS,
    DueRules,
    assessment_booking_applies,
    overdue,
)
from .errors import (
    DuplicateReferral,
    IllegalTransition,
    InvalidCommand,
    NotYourReferral,
    OrganisationRefused,
    ReferralChanged,
    ReferralNotFound,
    ReferralRefused,
    RoleRefused,
)
from .machine import COMMANDS, STATES, TERMINAL_STATES, Command, Party, Progress, allowed_commands, party_of, transition
from .responses import ResponseKind, in_working_hours, response_kind, working_time_after
from .rules import (
    AMENDABLE_FIELDS,
    EMERGENCY_THRESHOLD,
    PRIORITY_DIRECTION,
    RECEIVER_KIND,
    REFERRER_KINDS,
    S47_THRESHOLD,
    SOCIAL_CARE_THRESHOLDS,
    is_emergency,
    missed_appointment_is_dna_to_report,
    party_refusal,
    practitioner_dues_apply,
    role_refusal,
    threshold_refusal,
)
from .sharing import READ_AUDIT_TYPE, ReceiverScope, receiver_scope

__all__ = [
    "AMENDABLE_FIELDS",
    "COMMANDS",
    "DEFAULT_ASSESSMENT_BOOKING_WORKING_DAYS",
    "EMERGENCY_THRESHOLD",
    "JOINT_VISIT_WORKING_DAYS",
    "PRIORITY_DIRECTION",
    "READ_AUDIT_TYPE",
    "RECEIVER_KIND",
    "REFERRER_KINDS",
    "S47_THRESHOLD",
    "SOCIAL_CARE_THRESHOLDS",
    "STATES",
    "TERMINAL_STATES",
    "WORKBOOK_WORKING_DAYS",
    "Command",
    "DueRules",
    "DuplicateReferral",
    "IllegalTransition",
    "InvalidCommand",
    "NotYourReferral",
    "OrganisationRefused",
    "Party",
    "Progress",
    "ReceiverScope",
    "ReferralChanged",
    "ReferralNotFound",
    "ReferralRefused",
    "ResponseKind",
    "RoleRefused",
    "allowed_commands",
    "assessment_booking_applies",
    "in_working_hours",
    "is_emergency",
    "missed_appointment_is_dna_to_report",
    "overdue",
    "party_of",
    "party_refusal",
    "practitioner_dues_apply",
    "receiver_scope",
    "response_kind",
    "role_refusal",
    "threshold_refusal",
    "transition",
    "working_time_after",
]
