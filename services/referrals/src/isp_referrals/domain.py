r"""Pure referral rules: the state machine and the due dates. No I/O, no framework imports.

A referral's life (protocol; West Sussex practice guidance, "Allocation"):

    requested -> accepted -> allocated -> active -> closed
             \-> declined (with reason)
             \-> cancelled (by the sender, until accepted)

Inside ``allocated`` three milestones are recorded in any order the work allows: the initial
joint visit is booked, the joint visit is done, and the family's workbook is opened. The
referral becomes ``active`` (monthly summaries) once the joint visit is done and the workbook
is open. ``accepted``, ``allocated`` and ``active`` referrals can be closed with an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from isp_common.workingdays import WorkingCalendar, add_months

PRIORITY_DIRECTION = "to_treatment"
EMERGENCY_THRESHOLD = "emergency"

State = Literal["requested", "accepted", "declined", "cancelled", "allocated", "active", "closed"]
STATES: tuple[str, ...] = ("requested", "accepted", "declined", "cancelled", "allocated", "active", "closed")
TERMINAL_STATES = frozenset({"declined", "cancelled", "closed"})
Party = Literal["sender", "receiver"]

JOINT_VISIT_WORKING_DAYS = 3
"""Initial joint visit within 3 working days from allocation (practice guidance)."""
WORKBOOK_WORKING_DAYS = 2
"""Workbook summary and programme opened within 2 working days from allocation (practice guidance)."""
DEFAULT_ASSESSMENT_BOOKING_WORKING_DAYS = 5


def is_priority(direction: str) -> bool:
    """A referral from children's social care to treatment is a priority referral (protocol)."""
    return direction == PRIORITY_DIRECTION


def is_emergency(threshold: str | None) -> bool:
    """An emergency referral (risk of immediate harm): shared on the statutory ground
    significant_harm and not held for the weekly allocation."""
    return threshold == EMERGENCY_THRESHOLD


def missed_appointment_is_dna_to_report(direction: str | None, kind: str) -> bool:
    """The DNA rule: a parent referred by social care who misses the *assessment*
    appointment must be reported to social care within 24 hours."""
    return direction == PRIORITY_DIRECTION and kind == "assessment"


# --- the state machine -----------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where a referral is: its state and the milestones recorded while allocated."""

    state: str
    joint_visit_booked: bool = False
    joint_visit_done: bool = False
    workbook_opened: bool = False


@dataclass(frozen=True)
class Command:
    """A transition: who may make it, from which states, to which state."""

    name: str
    party: Party
    from_states: frozenset[str]
    to_state: str | None  # None: the state stays (a milestone or an amendment)

    def guard(self, progress: Progress) -> str | None:
        """Why the command is not allowed now despite the state, or None."""
        if self.name == "book_joint_visit" and progress.joint_visit_done:
            return "the joint visit is already done"
        if self.name == "record_joint_visit" and not progress.joint_visit_booked:
            return "the joint visit has not been booked"
        if self.name == "record_joint_visit" and progress.joint_visit_done:
            return "the joint visit is already recorded"
        if self.name == "open_workbook" and progress.workbook_opened:
            return "the workbook is already open"
        if self.name == "activate" and not (progress.joint_visit_done and progress.workbook_opened):
            return "the joint visit must be done and the workbook opened first"
        return None


def _command(name: str, party: Party, from_states: set[str], to_state: str | None) -> Command:
    return Command(name, party, frozenset(from_states), to_state)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        _command("amend", "sender", {"requested"}, None),
        _command("cancel", "sender", {"requested"}, "cancelled"),
        _command("accept", "receiver", {"requested"}, "accepted"),
        _command("decline", "receiver", {"requested"}, "declined"),
        _command("allocate", "receiver", {"accepted"}, "allocated"),
        _command("book_joint_visit", "receiver", {"allocated"}, None),
        _command("record_joint_visit", "receiver", {"allocated"}, None),
        _command("open_workbook", "receiver", {"allocated"}, None),
        _command("activate", "receiver", {"allocated"}, "active"),
        _command("record_summary", "receiver", {"active"}, None),
        _command("close", "receiver", {"accepted", "allocated", "active"}, "closed"),
    )
}


class IllegalTransition(Exception):
    """A command not allowed in the referral's current state; says which are."""

    def __init__(self, command: str, progress: Progress, reason: str, allowed: list[str]):
        self.command = command
        self.state = progress.state
        self.reason = reason
        self.allowed = allowed
        super().__init__(f"{command} is not allowed: {reason}")


def allowed_commands(progress: Progress) -> list[str]:
    """The commands allowed now, in the order of a referral's life."""
    return [c.name for c in COMMANDS.values() if progress.state in c.from_states and c.guard(progress) is None]


def transition(progress: Progress, command: str) -> str:
    """The state after ``command``; raises :class:`IllegalTransition` if it is not allowed."""
    spec = COMMANDS[command]
    if progress.state not in spec.from_states:
        reason = f"the referral is {progress.state}"
        raise IllegalTransition(command, progress, reason, allowed_commands(progress))
    if (why := spec.guard(progress)) is not None:
        raise IllegalTransition(command, progress, why, allowed_commands(progress))
    return spec.to_state or progress.state


def party_of(command: str) -> Party:
    return COMMANDS[command].party


# --- due dates -----------------------------------------------------------------------


@dataclass(frozen=True)
class DueRules:
    """The working-day limits the protocol sets, with the calendar they are counted on."""

    calendar: WorkingCalendar
    assessment_booking_working_days: int = DEFAULT_ASSESSMENT_BOOKING_WORKING_DAYS
    allocation_weekday: int = 0

    def assessment_booking_due(self, accepted_on: date) -> date:
        """The assessment appointment is booked within N working days of acceptance (default 5)."""
        return self.calendar.working_days_after(accepted_on, self.assessment_booking_working_days)

    def joint_visit_due(self, allocated_on: date) -> date:
        return self.calendar.working_days_after(allocated_on, JOINT_VISIT_WORKING_DAYS)

    def workbook_due(self, allocated_on: date) -> date:
        return self.calendar.working_days_after(allocated_on, WORKBOOK_WORKING_DAYS)

    def monthly_summary_due(self, activated_on: date, month: int) -> date:
        """The ``month``-th monthly summary (1, 2, ...) after activation: the same day of the
        month (clamped to the month's end), moved to the next working day when it is not one,
        so that a summary is never due on a day nobody works."""
        return self.calendar.next_working_day_on_or_after(add_months(activated_on, month))

    def allocation_meeting_on(self, requested_on: date) -> date:
        """The weekly allocation meeting that considers a referral made on ``requested_on``
        ("new referrals will be considered on a weekly basis"): the first allocation weekday
        on or after it, or the next working day when that day is a bank holiday."""
        days = (self.allocation_weekday - requested_on.weekday()) % 7
        return self.calendar.next_working_day_on_or_after(date.fromordinal(requested_on.toordinal() + days))


def assessment_booking_applies(direction: str) -> bool:
    """The assessment appointment is booked by the treatment provider a parent is referred to."""
    return direction == PRIORITY_DIRECTION


def overdue(due_on: date, today: date) -> bool:
    """A due date is missed once its day has ended (London date after it)."""
    return today > due_on


AMENDABLE_FIELDS: tuple[str, ...] = (
    "rag",
    "threshold",
    "summary",
    "children",
    "consent_id",
    "parent_agreed",
    "concerns",
    "history",
    "known_to_treatment",
)


# --- refusals the adapters turn into answers ----------------------------------------------


class ReferralNotFound(Exception):
    """No referral with that id (404)."""


class NotYourReferral(Exception):
    """The caller's organisation is not the party that may do this (403)."""


class InvalidCommand(ValueError):
    """The command is well-formed but does not fit the referral (422)."""


class DuplicateReferral(Exception):
    """The referral id is already in use by a different referral (409)."""
