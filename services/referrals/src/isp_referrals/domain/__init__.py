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
    ReferralChanged,
    ReferralNotFound,
)
from .machine import COMMANDS, STATES, TERMINAL_STATES, Command, Party, Progress, allowed_commands, party_of, transition
from .rules import (
    AMENDABLE_FIELDS,
    EMERGENCY_THRESHOLD,
    PRIORITY_DIRECTION,
    is_emergency,
    missed_appointment_is_dna_to_report,
)

__all__ = [
    "AMENDABLE_FIELDS",
    "COMMANDS",
    "DEFAULT_ASSESSMENT_BOOKING_WORKING_DAYS",
    "EMERGENCY_THRESHOLD",
    "JOINT_VISIT_WORKING_DAYS",
    "PRIORITY_DIRECTION",
    "STATES",
    "TERMINAL_STATES",
    "WORKBOOK_WORKING_DAYS",
    "Command",
    "DueRules",
    "DuplicateReferral",
    "IllegalTransition",
    "InvalidCommand",
    "NotYourReferral",
    "Party",
    "Progress",
    "ReferralChanged",
    "ReferralNotFound",
    "allowed_commands",
    "assessment_booking_applies",
    "is_emergency",
    "missed_appointment_is_dna_to_report",
    "overdue",
    "party_of",
    "transition",
]
