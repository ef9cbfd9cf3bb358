"""The treatment practitioner's due dates only on referrals to treatment (practice guidance,
"Allocation"), and an assessment left unrecorded 24 hours after it reaching the referring social
care (protocol 004: a DNA is told within 24 hours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from isp_common.testing import nhs_number
from isp_referrals import commands, handlers, journal
from isp_referrals.commands import Actor
from isp_referrals.deadlines import raise_attendance_unrecorded
from isp_schemas.envelope import CloudEvent
from isp_schemas.treatment import AppointmentAttended, AppointmentMissed

from ..kit import book, make_active

UNRECORDED = "uk.isp.referral.attendance_unrecorded.v1"
CSC, PROVIDER, NHS = "WSCC-CSC", "CGL-WSX", nhs_number(0)
SOCIAL_WORKER, PRACTITIONER = Actor("sw-2", CSC), Actor("dap-1", PROVIDER)
PRACTITIONER_DUES = {"joint_visit", "workbook", "monthly_summary"}


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def test_a_referral_to_treatment_owes_the_joint_visit_the_workbook_and_the_monthly_summary(uow, rules, make):
    ref = make(at(2026, 11, 16)).id
    make_active(uow, rules, ref, PRACTITIONER, at(2026, 11, 16, 11))
    assert {d.due for d in journal.dues_of(uow, ref)} >= PRACTITIONER_DUES


def test_a_referral_to_social_care_owes_none_of_the_practitioners_due_dates(
    uow, rules, make, to_social_care, published
):
    ref = make(at(2026, 11, 16), to_social_care()).id
    make_active(uow, rules, ref, SOCIAL_WORKER, at(2026, 11, 16, 11))
    assert {d.due for d in journal.dues_of(uow, ref)} & PRACTITIONER_DUES == set()
    [allocated] = published("uk.isp.referral.allocated.v1")
    assert allocated.data["joint_visit_due"] is None and allocated.data["workbook_due"] is None
    commands.record_summary(uow, ref, SOCIAL_WORKER, at(2026, 12, 18), rules=rules)
    uow.commit()
    assert published("uk.isp.referral.summary_recorded.v1")[0].data["next_due"] is None


# --- an assessment left unrecorded ----------------------------------------------------------------


def tick(uow, now) -> int:
    raised = raise_attendance_unrecorded(uow, now)
    uow.commit()
    return raised


def test_an_assessment_unrecorded_24_hours_after_it_is_raised_once_for_social_care(uow, rules, make, published):
    ref = make(at(2026, 11, 16)).id
    book(uow, ref, at(2026, 11, 18, 10))
    assert tick(uow, at(2026, 11, 19, 9, 59)) == 0
    assert tick(uow, at(2026, 11, 19, 10)) == 1
    assert tick(uow, at(2026, 11, 20)) == 0  # once only
    [event] = published(UNRECORDED)
    assert event.source_org == PROVIDER
    assert (event.data["referral_id"], event.data["appointment_id"]) == (ref, "apt-1")
    assert event.data["from_org"] == CSC and event.data["provider_org"] == PROVIDER
    assert datetime.fromisoformat(event.data["scheduled_for"]) == at(2026, 11, 18, 10)
    assert [c["local_id"] for c in event.data["children"]] == ["C-1"]
    assert [d.action for d in journal_history(uow, ref)][-1] == "attendance_unrecorded"


@pytest.mark.parametrize("outcome", ["attended", "missed"])
def test_a_recorded_outcome_is_not_unrecorded(uow, rules, make, outcome):
    ref = make(at(2026, 11, 16)).id
    book(uow, ref, at(2026, 11, 18, 10))
    person = {"nhs_number": NHS}
    if outcome == "attended":
        data = AppointmentAttended(appointment_id="apt-1", person=person, attended_at=at(2026, 11, 18, 10))
        handler = handlers.appointment_attended
    else:
        data = AppointmentMissed(
            appointment_id="apt-1", person=person, scheduled_for=at(2026, 11, 18, 10), recorded_at=at(2026, 11, 19)
        )
        handler = handlers.appointment_missed
    handler(uow, CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data), data)
    uow.commit()
    assert tick(uow, at(2026, 11, 25)) == 0


def test_only_the_assessment_of_a_referral_from_social_care_counts(uow, rules, make, to_social_care):
    ref = make(at(2026, 11, 16)).id
    book(uow, ref, at(2026, 11, 18, 10), kind="review")
    other = make(at(2026, 11, 16), to_social_care()).id
    book(uow, other, at(2026, 11, 18, 10), "apt-2")
    assert tick(uow, at(2026, 11, 25)) == 0


def test_a_rebooked_assessment_is_raised_again_for_its_new_time(uow, rules, make, published):
    ref = make(at(2026, 11, 16)).id
    book(uow, ref, at(2026, 11, 18, 10))
    assert tick(uow, at(2026, 11, 19, 10)) == 1
    book(uow, ref, at(2026, 11, 20, 10))
    assert tick(uow, at(2026, 11, 20, 10) + timedelta(hours=23)) == 0
    assert tick(uow, at(2026, 11, 21, 10)) == 1
    assert len(published(UNRECORDED)) == 2


def journal_history(uow, ref):
    from isp_referrals.tables import ReferralHistory
    from sqlmodel import col, select

    stmt = select(ReferralHistory).where(ReferralHistory.referral_id == ref).order_by(col(ReferralHistory.id))
    return list(uow.session.exec(stmt))
