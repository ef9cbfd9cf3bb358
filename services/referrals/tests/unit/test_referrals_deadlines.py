"""The timer's checks with explicit times: overdue due dates and missing appointment outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime

from isp_common.testing import nhs_number
from isp_referrals import commands, handlers, journal
from isp_referrals.commands import Actor
from isp_referrals.deadlines import prompt_missing_outcomes, raise_overdue
from isp_referrals.views import referral_view
from isp_schemas.envelope import CloudEvent
from isp_schemas.treatment import AppointmentAttended, AppointmentMissed

from ..kit import book

OVERDUE = "uk.isp.referral.overdue.v1"
MISSING = "uk.isp.referral.appointment_outcome_missing.v1"
ASSESSMENT_MISSED = "uk.isp.referral.assessment_missed.v1"
CSC, PROVIDER, NHS = "WSCC-CSC", "CGL-WSX", nhs_number(0)
SOCIAL_WORKER, PRACTITIONER = Actor("sw-1", CSC), Actor("dap-1", PROVIDER)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def accepted(make, uow, rules, on: datetime, data=None) -> str:
    ref = make(on, data).id
    receiver = PRACTITIONER if (data is None or data.to_org == PROVIDER) else SOCIAL_WORKER
    commands.accept(uow, ref, receiver, on, rules=rules)
    uow.commit()
    return ref


def allocated(make, uow, rules, on: datetime) -> str:
    ref = accepted(make, uow, rules, on)
    commands.allocate(uow, ref, PRACTITIONER, "dap-7", on, rules=rules)
    uow.commit()
    return ref


def tick(uow, now, rules) -> int:
    raised = raise_overdue(uow, now, rules)
    uow.commit()
    return raised


def test_assessment_booking_overdue_is_raised_once_after_its_day_ends(uow, rules, make, published):
    ref = accepted(make, uow, rules, at(2026, 11, 16))  # due Monday 23 November
    assert tick(uow, datetime(2026, 11, 23, 23, 59, tzinfo=UTC), rules) == 0
    assert tick(uow, datetime(2026, 11, 24, 0, 1, tzinfo=UTC), rules) == 1
    assert tick(uow, datetime(2026, 11, 25, 9, 0, tzinfo=UTC), rules) == 0  # once only
    [event] = published(OVERDUE)
    assert event.data["referral_id"] == ref and event.data["due"] == "assessment_booking"
    assert event.data["due_on"] == "2026-11-23" and event.data["responsible_org"] == PROVIDER
    assert event.source_org == PROVIDER and event.subject == NHS


def test_the_day_ends_in_london_not_in_utc(uow, rules, make):
    accepted(make, uow, rules, at(2026, 5, 22))  # due Monday 1 June (BST)
    assert tick(uow, datetime(2026, 6, 1, 22, 59, tzinfo=UTC), rules) == 0  # 23:59 in London
    assert tick(uow, datetime(2026, 6, 1, 23, 1, tzinfo=UTC), rules) == 1  # 00:01 on 2 June in London


def test_joint_visit_and_workbook_overdue_across_a_bank_holiday(uow, rules, make, published):
    ref = allocated(make, uow, rules, at(2026, 12, 24))  # workbook due 30 Dec, visit 31 Dec
    commands.book_joint_visit(uow, ref, PRACTITIONER, at(2027, 1, 5), at(2026, 12, 24, 12))
    uow.commit()
    assert tick(uow, at(2026, 12, 30, 17), rules) == 0
    assert tick(uow, at(2026, 12, 31, 9), rules) == 1
    assert tick(uow, at(2027, 1, 1, 9), rules) == 1
    dues = [(e.data["due"], e.data["due_on"]) for e in published(OVERDUE)]
    assert ("workbook", "2026-12-30") in dues and ("joint_visit", "2026-12-31") in dues


def test_a_due_date_met_in_time_is_never_overdue(uow, rules, make, published):
    ref = allocated(make, uow, rules, at(2026, 11, 18))
    commands.open_workbook(uow, ref, PRACTITIONER, at(2026, 11, 20))  # due 20 Nov
    uow.commit()
    tick(uow, at(2026, 11, 21), rules)
    assert "workbook" not in [e.data["due"] for e in published(OVERDUE)]


def test_a_step_done_late_shows_as_met_late(uow, rules, make):
    ref = allocated(make, uow, rules, at(2026, 11, 18))
    tick(uow, at(2026, 11, 21), rules)
    commands.open_workbook(uow, ref, PRACTITIONER, at(2026, 11, 23))
    uow.commit()
    [workbook] = [d for d in journal.dues_of(uow, ref, "workbook")]
    assert workbook.status == "met_late"


def test_a_closed_referral_raises_nothing(uow, rules, make):
    ref = allocated(make, uow, rules, at(2026, 11, 18))
    commands.close(uow, ref, PRACTITIONER, "moved away", at(2026, 11, 19))
    uow.commit()
    assert tick(uow, at(2026, 12, 31), rules) == 0


def test_a_missed_monthly_summary_is_overdue_and_the_next_month_falls_due(uow, rules, make, published):
    ref = allocated(make, uow, rules, at(2026, 11, 18))
    p = PRACTITIONER
    commands.book_joint_visit(uow, ref, p, at(2026, 11, 20), at(2026, 11, 18, 12))
    commands.open_workbook(uow, ref, p, at(2026, 11, 19))
    commands.record_joint_visit(uow, ref, p, at(2026, 11, 20, 16))
    commands.activate(uow, ref, p, at(2026, 11, 25), rules=rules)  # first due 29 Dec (Christmas)
    uow.commit()
    assert tick(uow, at(2026, 12, 1), rules) == 1  # the assessment was never booked
    assert tick(uow, at(2026, 12, 29, 18), rules) == 0
    assert tick(uow, at(2026, 12, 30, 9), rules) == 1
    monthly = [(d.due_on, d.status) for d in journal.dues_of(uow, ref, "monthly_summary")]
    assert monthly == [(date(2026, 12, 29), "overdue"), (date(2027, 1, 25), "pending")]
    view = referral_view(uow.session, _ref(uow, ref), at(2026, 12, 30))
    assert [d.due for d in view.overdue] == ["assessment_booking", "monthly_summary"]
    assert view.next_due.due_on == date(2027, 1, 25)
    # the late summary meets the overdue month; the next stays due
    commands.record_summary(uow, ref, p, at(2027, 1, 4), rules=rules, period="2026-12")
    uow.commit()
    monthly = [(d.due_on, d.status) for d in journal.dues_of(uow, ref, "monthly_summary")]
    assert monthly == [(date(2026, 12, 29), "met_late"), (date(2027, 1, 25), "pending")]
    assert published("uk.isp.referral.summary_recorded.v1")[0].data["next_due"] == "2027-01-25"


def _ref(uow, ref):
    from isp_referrals.tables import Referral

    return uow.session.get(Referral, ref)


def test_the_view_shows_due_and_overdue_dates_before_the_timer_runs(uow, rules, make):
    ref = accepted(make, uow, rules, at(2026, 11, 16))
    view = referral_view(uow.session, _ref(uow, ref), at(2026, 11, 24))
    [due] = view.overdue
    assert due.due == "assessment_booking" and due.due_on == date(2026, 11, 23)
    assert due.overdue_since == date(2026, 11, 24) and due.overdue_raised_at is None


# --- appointments ----------------------------------------------------------------------------


def prompt(uow, now) -> int:
    n = prompt_missing_outcomes(uow, now)
    uow.commit()
    return n


def test_booking_the_assessment_meets_the_booking_due_date(uow, rules, make):
    ref = accepted(make, uow, rules, at(2026, 11, 16))
    book(uow, ref, at(2026, 11, 26), booked_at=at(2026, 11, 20))
    [due] = journal.dues_of(uow, ref, "assessment_booking")
    assert due.status == "met" and due.met_on == date(2026, 11, 20)
    assert tick(uow, at(2026, 12, 1), rules) == 0


def test_an_appointment_without_outcome_by_the_end_of_its_london_day_prompts_the_provider_once(
    uow, rules, make, published
):
    ref = accepted(make, uow, rules, at(2026, 6, 1))
    book(uow, ref, datetime(2026, 6, 2, 9, 0, tzinfo=UTC))
    assert prompt(uow, datetime(2026, 6, 2, 22, 59, tzinfo=UTC)) == 0  # 23:59 BST
    assert prompt(uow, datetime(2026, 6, 2, 23, 0, tzinfo=UTC)) == 1  # midnight BST
    assert prompt(uow, datetime(2026, 6, 3, 9, 0, tzinfo=UTC)) == 0
    [event] = published(MISSING)
    assert event.data["appointment_id"] == "apt-1" and event.data["provider_org"] == PROVIDER
    assert event.data["referral_id"] == ref and event.source_org == PROVIDER


def test_an_appointment_with_an_outcome_is_not_prompted(uow, rules, make):
    ref = accepted(make, uow, rules, at(2026, 11, 16))
    book(uow, ref, at(2026, 11, 18), "apt-a")
    book(uow, ref, at(2026, 11, 18), "apt-m")
    person = {"nhs_number": NHS}
    attended = AppointmentAttended(appointment_id="apt-a", person=person, attended_at=at(2026, 11, 18))
    handlers.appointment_attended(
        uow, CloudEvent.create(type=attended.event_type, source_org=PROVIDER, data=attended), attended
    )
    missed = AppointmentMissed(
        appointment_id="apt-m", person=person, scheduled_for=at(2026, 11, 18), recorded_at=at(2026, 11, 18, 11)
    )
    handlers.appointment_missed(
        uow, CloudEvent.create(type=missed.event_type, source_org=PROVIDER, data=missed), missed
    )
    uow.commit()
    assert prompt(uow, at(2026, 11, 20)) == 0


def test_a_rebooked_appointment_is_prompted_for_its_new_day(uow, rules, make):
    ref = accepted(make, uow, rules, at(2026, 11, 16))
    book(uow, ref, at(2026, 11, 17))
    assert prompt(uow, at(2026, 11, 18)) == 1
    book(uow, ref, at(2026, 11, 19))
    assert prompt(uow, at(2026, 11, 19, 20)) == 0
    assert prompt(uow, at(2026, 11, 20)) == 1


def test_a_missed_assessment_on_a_social_care_referral_is_the_dna_to_report(uow, rules, make, published):
    ref = accepted(make, uow, rules, at(2026, 11, 16))
    book(uow, ref, at(2026, 11, 18))
    missed = AppointmentMissed(
        appointment_id="apt-1",
        person={"nhs_number": NHS},
        scheduled_for=at(2026, 11, 18),
        recorded_at=at(2026, 11, 18, 11),
    )
    cause = CloudEvent.create(type=missed.event_type, source_org=PROVIDER, data=missed)
    handlers.appointment_missed(uow, cause, missed)
    uow.commit()
    [dna] = published(ASSESSMENT_MISSED)
    assert dna.data["referral_id"] == ref and dna.data["from_org"] == CSC
    assert dna.data["cause_event_id"] == cause.id and dna.data["children"][0]["local_id"] == "C-1"
    view = referral_view(uow.session, _ref(uow, ref), at(2026, 11, 18, 12))
    assert view.appointments[0].status == "missed"
    assert [h.action for h in view.history][-1] == "appointment_missed"


def test_a_missed_review_or_a_referral_to_social_care_is_not_that_dna(uow, rules, make, published, to_social_care):
    ref = accepted(make, uow, rules, at(2026, 11, 16))
    book(uow, ref, at(2026, 11, 18), kind="review")
    other = accepted(make, uow, rules, at(2026, 11, 16), to_social_care())
    book(uow, other, at(2026, 11, 18), "apt-2")
    for appointment_id in ("apt-1", "apt-2"):
        missed = AppointmentMissed(
            appointment_id=appointment_id,
            person={"nhs_number": NHS},
            scheduled_for=at(2026, 11, 18),
            recorded_at=at(2026, 11, 18, 11),
        )
        handlers.appointment_missed(
            uow, CloudEvent.create(type=missed.event_type, source_org=PROVIDER, data=missed), missed
        )
    uow.commit()
    assert published(ASSESSMENT_MISSED) == []
