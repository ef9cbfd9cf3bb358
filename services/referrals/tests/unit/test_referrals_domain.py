"""The state machine and the due dates, as the protocol sets them (pure functions)."""

from __future__ import annotations

from datetime import date

import pytest
from isp_common.workingdays import WorkingCalendar
from isp_referrals import domain
from isp_referrals.domain import COMMANDS, DueRules, IllegalTransition, Progress

ALLOCATED = Progress("allocated")
BOOKED = Progress("allocated", joint_visit_booked=True)
VISITED = Progress("allocated", joint_visit_booked=True, joint_visit_done=True)
WORKBOOK = Progress("allocated", workbook_opened=True)
READY = Progress("allocated", joint_visit_booked=True, joint_visit_done=True, workbook_opened=True)

LEGAL = [
    (Progress("requested"), "amend", "requested"),
    (Progress("requested"), "cancel", "cancelled"),
    (Progress("requested"), "accept", "accepted"),
    (Progress("requested"), "decline", "declined"),
    (Progress("accepted"), "allocate", "allocated"),
    (Progress("accepted"), "close", "closed"),
    (ALLOCATED, "book_joint_visit", "allocated"),
    (BOOKED, "book_joint_visit", "allocated"),  # rebooking before the visit
    (BOOKED, "record_joint_visit", "allocated"),
    (ALLOCATED, "open_workbook", "allocated"),
    (VISITED, "open_workbook", "allocated"),
    (READY, "activate", "active"),
    (ALLOCATED, "close", "closed"),
    (BOOKED, "open_workbook", "allocated"),
    (BOOKED, "close", "closed"),
    (VISITED, "close", "closed"),
    (WORKBOOK, "book_joint_visit", "allocated"),
    (WORKBOOK, "close", "closed"),
    (READY, "close", "closed"),
    (Progress("active"), "record_summary", "active"),
    (Progress("active"), "close", "closed"),
]


@pytest.mark.parametrize(("progress", "command", "to_state"), LEGAL)
def test_legal_transition_reaches_its_state(progress, command, to_state):
    assert domain.transition(progress, command) == to_state


def _illegal_cases():
    legal = {(p, c) for p, c, _ in LEGAL}
    progresses = [Progress(s) for s in domain.STATES if s != "allocated"] + [
        ALLOCATED,
        BOOKED,
        VISITED,
        WORKBOOK,
        READY,
    ]
    for progress in progresses:
        for command in COMMANDS:
            if (progress, command) not in legal:
                yield pytest.param(progress, command, id=f"{command}-from-{progress}")


@pytest.mark.parametrize(("progress", "command"), list(_illegal_cases()))
def test_every_other_transition_is_refused_naming_the_allowed_ones(progress, command):
    with pytest.raises(IllegalTransition) as refused:
        domain.transition(progress, command)
    assert refused.value.allowed == domain.allowed_commands(progress)
    assert command not in refused.value.allowed
    assert refused.value.reason


def test_the_legal_table_covers_exactly_what_the_machine_allows():
    for progress in {p for p, _, _ in LEGAL}:
        expected = sorted(c for p, c, _ in LEGAL if p == progress)
        assert sorted(domain.allowed_commands(progress)) == expected


@pytest.mark.parametrize("state", sorted(domain.TERMINAL_STATES))
def test_nothing_is_allowed_once_declined_cancelled_or_closed(state):
    assert domain.allowed_commands(Progress(state)) == []


def test_activation_needs_the_joint_visit_done_and_the_workbook_open():
    for progress in (ALLOCATED, BOOKED, VISITED, WORKBOOK):
        with pytest.raises(IllegalTransition, match="joint visit must be done and the workbook opened"):
            domain.transition(progress, "activate")


def test_only_the_sender_amends_or_cancels_and_the_receiver_does_the_rest():
    assert {c for c in COMMANDS if domain.party_of(c) == "sender"} == {"amend", "cancel"}


# --- due dates ----------------------------------------------------------------------------

RULES = DueRules(WorkingCalendar())


@pytest.mark.parametrize(
    ("allocated_on", "due_on"),
    [
        (date(2026, 11, 16), date(2026, 11, 19)),  # Monday -> Thursday
        (date(2026, 11, 18), date(2026, 11, 23)),  # Wednesday -> Monday, across the weekend
        (date(2026, 11, 21), date(2026, 11, 25)),  # allocated on a Saturday: Mon, Tue, Wed
        (date(2026, 4, 1), date(2026, 4, 8)),  # Good Friday and Easter Monday skipped
        (date(2026, 12, 24), date(2026, 12, 31)),  # Christmas, weekend, Boxing Day (observed)
    ],
)
def test_joint_visit_is_due_three_working_days_after_allocation(allocated_on, due_on):
    assert RULES.joint_visit_due(allocated_on) == due_on


@pytest.mark.parametrize(
    ("allocated_on", "due_on"),
    [
        (date(2026, 11, 16), date(2026, 11, 18)),
        (date(2026, 11, 19), date(2026, 11, 23)),  # Thursday -> Monday
        (date(2026, 4, 2), date(2026, 4, 8)),  # Easter
        (date(2026, 5, 22), date(2026, 5, 27)),  # Spring bank holiday Monday
    ],
)
def test_workbook_is_due_two_working_days_after_allocation(allocated_on, due_on):
    assert RULES.workbook_due(allocated_on) == due_on


@pytest.mark.parametrize(
    ("accepted_on", "days", "due_on"),
    [
        (date(2026, 11, 16), 5, date(2026, 11, 23)),
        (date(2026, 5, 22), 5, date(2026, 6, 1)),  # Spring bank holiday
        (date(2026, 12, 23), 5, date(2027, 1, 4)),  # Christmas to New Year
        (date(2026, 11, 20), 3, date(2026, 11, 25)),  # configured to 3
    ],
)
def test_assessment_booking_is_due_configured_working_days_after_acceptance(accepted_on, days, due_on):
    rules = DueRules(WorkingCalendar(), assessment_booking_working_days=days)
    assert rules.assessment_booking_due(accepted_on) == due_on


@pytest.mark.parametrize(
    ("activated_on", "month", "due_on"),
    [
        (date(2026, 3, 31), 1, date(2026, 4, 30)),  # clamped to the month's end
        (date(2026, 7, 31), 1, date(2026, 9, 1)),  # 31 Aug is a bank holiday
        (date(2026, 10, 28), 1, date(2026, 11, 30)),  # 28 Nov is a Saturday
        (date(2026, 11, 25), 1, date(2026, 12, 29)),  # Christmas and Boxing Day (observed)
        (date(2026, 11, 25), 2, date(2027, 1, 25)),
    ],
)
def test_monthly_summary_falls_due_each_month_on_a_working_day(activated_on, month, due_on):
    assert RULES.monthly_summary_due(activated_on, month) == due_on


def test_a_locally_declared_bank_holiday_moves_the_due_date():
    rules = DueRules(WorkingCalendar(extra_holidays=[date(2026, 11, 23)]))
    assert rules.joint_visit_due(date(2026, 11, 18)) == date(2026, 11, 24)


@pytest.mark.parametrize(
    ("requested_on", "meeting_on"),
    [
        (date(2026, 11, 16), date(2026, 11, 16)),  # a Monday: that day's meeting
        (date(2026, 11, 18), date(2026, 11, 23)),
        (date(2026, 12, 24), date(2026, 12, 29)),  # Monday 28th is Boxing Day (observed)
    ],
)
def test_non_emergency_referrals_wait_for_the_weekly_allocation_meeting(requested_on, meeting_on):
    assert RULES.allocation_meeting_on(requested_on) == meeting_on


def test_a_due_date_is_overdue_only_once_its_day_has_ended():
    assert not domain.overdue(date(2026, 11, 23), date(2026, 11, 23))
    assert domain.overdue(date(2026, 11, 23), date(2026, 11, 24))


def test_only_the_emergency_threshold_is_an_emergency():
    assert domain.is_emergency("emergency") and not domain.is_emergency("child_protection_s47")


def test_a_refused_transition_is_a_conflict_naming_the_state_and_the_allowed_commands():
    with pytest.raises(IllegalTransition) as refused:
        domain.transition(Progress("requested"), "allocate")
    assert refused.value.status == 409 and refused.value.title == "Transition not allowed"
    assert refused.value.extra == {
        "state": "requested",
        "command": "allocate",
        "allowed": ["amend", "cancel", "accept", "decline"],
    }
    assert refused.value.detail == (
        "allocate is not allowed: the referral is requested. Allowed now: amend, cancel, accept, decline."
    )
    answered = refused.value.with_requests(["POST /v1/referrals/r-1/accept"])
    assert answered.extra["allowed_requests"] == ["POST /v1/referrals/r-1/accept"]
    assert answered.detail == refused.value.detail
