"""The receiver's response deadline: the timescales (pure), and the timer raising a missed one once,
escalated to the receiver's out-of-hours team when it falls outside working hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from isp_common.workingdays import LONDON, WorkingCalendar
from isp_referrals import commands, journal
from isp_referrals.commands import Actor
from isp_referrals.deadlines import raise_overdue
from isp_referrals.domain import in_working_hours, response_kind, working_time_after
from isp_referrals.domain.responses import ONE_WORKING_DAY, response_due_at
from isp_referrals.tables import Referral
from isp_referrals.views import referral_view

CAL = WorkingCalendar()
OVERDUE = "uk.isp.referral.overdue.v1"
CSC, PROVIDER, EDT = "WSCC-CSC", "CGL-WSX", "WSCC-EDT"
SOCIAL_WORKER, PRACTITIONER = Actor("sw-2", CSC), Actor("dap-1", PROVIDER)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A London wall-clock time (November and December are GMT, June is BST)."""
    return datetime(y, m, d, hh, mm, tzinfo=LONDON).astimezone(UTC)


# --- the timescales ----------------------------------------------------------------------------

KINDS = [
    ("to_treatment", None, "priority"),
    ("to_social_care", "emergency", "emergency"),
    ("to_social_care", "child_protection_s47", "s47"),
    ("to_social_care", "child_in_need_s17", None),
    ("to_social_care", "family_support", None),
]


@pytest.mark.parametrize(("direction", "threshold", "kind"), KINDS)
def test_priority_s47_and_emergency_referrals_have_a_response_deadline(direction, threshold, kind):
    assert response_kind(direction, threshold) == kind


WORKING_TIME = [
    (at(2026, 11, 16, 10), at(2026, 11, 17, 10)),  # Monday morning: Tuesday morning
    (at(2026, 11, 20, 16), at(2026, 11, 23, 16)),  # Friday 16:00: an hour on Friday, seven on Monday
    (at(2026, 11, 21, 12), at(2026, 11, 23, 17)),  # Saturday: all of Monday
    (at(2026, 11, 16, 20), at(2026, 11, 17, 17)),  # Monday evening: all of Tuesday
    (at(2026, 11, 16, 7), at(2026, 11, 16, 17)),  # before 09:00: from 09:00
    (at(2026, 12, 24, 15), at(2026, 12, 29, 15)),  # across Christmas Day and the Boxing Day holiday (28th)
    (at(2026, 6, 1, 9, 30), at(2026, 6, 2, 9, 30)),  # summer time: London's clock, not UTC's
]


@pytest.mark.parametrize(("start", "due"), WORKING_TIME)
def test_one_working_day_counts_only_working_hours_on_working_days(start, due):
    assert working_time_after(CAL, start, ONE_WORKING_DAY) == due


@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    hours=st.integers(min_value=0, max_value=40),
    more=st.integers(min_value=0, max_value=40),
)
def test_working_time_ends_in_working_hours_after_its_start_and_never_sooner_for_longer(start, hours, more):
    due = working_time_after(CAL, start, timedelta(hours=hours))
    assert due >= start and in_working_hours(CAL, due)
    assert working_time_after(CAL, start, timedelta(hours=hours + more)) >= due


DUE = [
    # kind, made at, the weekly allocation meeting, due
    ("emergency", at(2026, 11, 16, 10), None, at(2026, 11, 16, 14)),  # within 4 hours
    ("emergency", at(2026, 11, 16, 22), None, datetime.combine(date(2026, 11, 16), datetime.max.time(), LONDON)),
    ("emergency", at(2026, 11, 21, 11), None, at(2026, 11, 21, 15)),  # a Saturday: hours, not working hours
    ("s47", at(2026, 11, 20, 16), date(2026, 11, 23), at(2026, 11, 23, 16)),  # one working day
    ("priority", at(2026, 11, 17, 10), date(2026, 11, 23), at(2026, 11, 23, 17)),  # the meeting's close
    ("priority", at(2026, 11, 16, 16, 30), date(2026, 11, 16), at(2026, 11, 17, 16, 30)),  # never within a day
]


@pytest.mark.parametrize(("kind", "made", "meeting", "due"), DUE)
def test_the_response_is_due_by_the_protocols_timescale(kind, made, meeting, due):
    assert response_due_at(kind, made, calendar=CAL, allocation_meeting_on=meeting) == due


def test_an_emergency_is_answered_the_same_day_whatever_the_hours_allowed():
    made = at(2026, 11, 16, 23)
    due = response_due_at("emergency", made, calendar=CAL, emergency_hours=24)
    assert due.astimezone(LONDON).date() == date(2026, 11, 16)


@pytest.mark.parametrize(
    ("when", "working"),
    [
        (at(2026, 11, 16, 9), True),
        (at(2026, 11, 16, 17), True),
        (at(2026, 11, 16, 17, 1), False),
        (at(2026, 11, 16, 8, 59), False),
        (at(2026, 11, 21, 12), False),  # Saturday
        (at(2026, 12, 28, 12), False),  # the Boxing Day bank holiday
    ],
)
def test_working_hours_are_nine_to_five_on_working_days_in_london(when, working):
    assert in_working_hours(CAL, when) is working


# --- the timer ---------------------------------------------------------------------------------


def tick(uow, now, rules) -> int:
    raised = raise_overdue(uow, now, rules)
    uow.commit()
    return raised


def response(uow, ref):
    return journal.dues_of(uow, ref, "response")


def test_an_unanswered_emergency_is_raised_once_to_the_receiver_in_working_hours(
    uow, rules, make, to_social_care, published
):
    ref = make(at(2026, 11, 16, 10), to_social_care(threshold="emergency")).id
    assert tick(uow, at(2026, 11, 16, 13, 59), rules) == 0
    assert tick(uow, at(2026, 11, 16, 14, 1), rules) == 1
    assert tick(uow, at(2026, 11, 16, 18), rules) == 0  # once only
    [overdue] = published(OVERDUE)
    assert overdue.data["due"] == "response" and overdue.data["responsible_org"] == CSC
    assert overdue.data["emergency"] is True and overdue.data["escalate_to"] is None
    assert overdue.data["due_on"] == "2026-11-16" and overdue.data["referral_id"] == ref


@pytest.mark.parametrize("made", [at(2026, 11, 16, 15), at(2026, 11, 16, 22), at(2026, 11, 21, 11)])
def test_an_emergency_due_outside_working_hours_is_escalated_to_the_out_of_hours_team(
    uow, rules, make, to_social_care, published, made
):
    make(made, to_social_care(threshold="emergency"))
    assert tick(uow, made + timedelta(days=1), rules) == 1
    [overdue] = published(OVERDUE)
    assert overdue.data["escalate_to"] == EDT and overdue.data["emergency"] is True


def test_no_out_of_hours_team_in_the_directory_escalates_to_no_one(uow, rules, make, to_social_care, published):
    make(at(2026, 11, 16, 22), to_social_care(threshold="emergency", to_org="OTHER-LA"))
    assert tick(uow, at(2026, 11, 17, 9), rules) == 1
    [overdue] = published(OVERDUE)
    assert overdue.data["escalate_to"] is None and overdue.data["responsible_org"] == "OTHER-LA"


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_an_answer_in_time_meets_the_deadline_and_nothing_is_raised(uow, rules, make, to_social_care, answer):
    ref = make(at(2026, 11, 20, 16), to_social_care(threshold="child_protection_s47")).id
    if answer == "accept":
        commands.accept(uow, ref, SOCIAL_WORKER, at(2026, 11, 23, 11), rules=rules)
    else:
        commands.decline(uow, ref, SOCIAL_WORKER, "no concerns found", at(2026, 11, 23, 11))
    uow.commit()
    assert tick(uow, at(2026, 11, 30), rules) == 0
    [due] = response(uow, ref)
    assert due.status == "met" and due.met_on == date(2026, 11, 23)


def test_an_answer_after_the_deadline_was_raised_is_met_late(uow, rules, make, request_data, published):
    ref = make(at(2026, 11, 17, 10), request_data()).id  # priority: due at the close of Monday's meeting
    assert tick(uow, at(2026, 11, 23, 16, 59), rules) == 0
    assert tick(uow, at(2026, 11, 23, 17, 1), rules) == 1
    [overdue] = published(OVERDUE)
    assert (overdue.data["responsible_org"], overdue.data["emergency"]) == (PROVIDER, False)
    assert overdue.data["escalate_to"] is None  # 17:00 is still working hours
    commands.accept(uow, ref, PRACTITIONER, at(2026, 11, 23, 17, 30), rules=rules)
    uow.commit()
    assert response(uow, ref)[0].status == "met_late"


def test_a_cancelled_referral_owes_no_answer(uow, rules, make, request_data):
    ref = make(at(2026, 11, 17, 10), request_data()).id
    commands.cancel(uow, ref, Actor("sw-1", CSC), "sent in error", at(2026, 11, 17, 11))
    uow.commit()
    assert tick(uow, at(2026, 12, 1), rules) == 0
    assert response(uow, ref)[0].status == "waived"


def test_a_child_in_need_referral_has_no_response_deadline(uow, rules, make, to_social_care):
    ref = make(at(2026, 11, 16, 10), to_social_care(threshold="child_in_need_s17")).id
    assert response(uow, ref) == []


def test_amended_to_an_emergency_the_answer_is_due_hours_after_the_amendment(uow, rules, make, to_social_care):
    ref = make(at(2026, 11, 16, 10), to_social_care(threshold="child_in_need_s17")).id
    commands.amend(uow, ref, PRACTITIONER, {"threshold": "emergency"}, at(2026, 11, 16, 12), rules=rules)
    uow.commit()
    [due] = response(uow, ref)
    assert due.due_at.replace(tzinfo=UTC) == at(2026, 11, 16, 16)
    commands.amend(uow, ref, PRACTITIONER, {"threshold": "child_protection_s47"}, at(2026, 11, 16, 13), rules=rules)
    uow.commit()
    [due] = response(uow, ref)
    assert due.due_at.replace(tzinfo=UTC) == at(2026, 11, 17, 13) and due.status == "pending"
    commands.amend(uow, ref, PRACTITIONER, {"threshold": "family_support"}, at(2026, 11, 16, 14), rules=rules)
    uow.commit()
    assert [d.status for d in response(uow, ref)] == ["waived"]
    assert tick(uow, at(2026, 11, 30), rules) == 0


def test_the_view_shows_the_deadline_and_that_it_has_passed_before_the_timer_runs(uow, rules, make, to_social_care):
    referral = make(at(2026, 11, 16, 10), to_social_care(threshold="emergency"))
    view = referral_view(uow.session, uow.session.get(Referral, referral.id), at(2026, 11, 16, 15))
    [due] = view.overdue
    assert due.due == "response" and due.due_at == at(2026, 11, 16, 14)
    assert due.overdue_since == date(2026, 11, 16) and due.overdue_raised_at is None
