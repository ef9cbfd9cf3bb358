"""A referral's life through the command functions, on a real unit of work (in-memory SQLite)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from isp_common.consumer import EventRejected
from isp_referrals import commands, domain, handlers
from isp_referrals.commands import Actor
from isp_referrals.domain import IllegalTransition
from isp_referrals.tables import Referral
from isp_referrals.views import referral_view
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralRequested

REQUESTED = "uk.isp.referral.requested.v1"


def kafka_request(uow, data: ReferralRequested, when, rules, source_org=None):
    event = CloudEvent.create(type=REQUESTED, source_org=source_org or data.from_org, data=data, time=when)
    handlers.referral_requested(uow, event, data, rules=rules, now=when)
    uow.commit()
    return event


def test_http_referral_is_stored_requested_and_published_once_through_the_outbox(uow, rules, kit):
    data = kit.request_data()
    referral = kit.make(uow, rules, kit.at(2026, 11, 18), data)
    assert referral.state == "requested" and referral.channel == "api" and referral.priority
    [event] = kit.published(uow)
    assert event.type == REQUESTED and event.source_org == kit.CSC and event.subject == kit.NHS
    assert ReferralRequested.model_validate(event.data) == data
    assert referral.source_event_id == event.id


def test_our_own_published_request_coming_back_is_a_no_op(uow, rules, kit):
    data = kit.request_data()
    kit.make(uow, rules, kit.at(2026, 11, 18), data)
    [event] = kit.published(uow)
    handlers.referral_requested(uow, event, data, rules=rules)
    uow.commit()
    assert len(kit.published(uow)) == 1


@pytest.mark.parametrize("direction", ["to_treatment", "to_social_care"])
def test_kafka_and_http_referrals_end_alike(uow, rules, kit, direction):
    when = kit.at(2026, 11, 18)
    make_data = kit.request_data if direction == "to_treatment" else kit.to_social_care
    over_http = kit.make(uow, rules, when, make_data(referral_id="ref-http"))
    kafka_request(uow, make_data(referral_id="ref-kafka"), when, rules)
    over_kafka = uow.session.get(Referral, "ref-kafka")
    ignore = {"id", "channel", "history"}
    a = referral_view(uow.session, over_http, when).model_dump(exclude=ignore)
    b = referral_view(uow.session, over_kafka, when).model_dump(exclude=ignore)
    assert a == b and a["direction"] == direction
    assert over_kafka.channel == "kafka"
    assert len(kit.published(uow, REQUESTED)) == 1  # the partner's event is not re-published


def test_a_kafka_referral_not_from_its_publisher_is_rejected(uow, rules, kit):
    with pytest.raises(EventRejected, match="from_org must be the referring organisation"):
        kafka_request(uow, kit.request_data(), kit.at(2026, 11, 18), rules, source_org="OTHER-ORG")


def test_a_used_referral_id_with_different_content_is_rejected_and_a_resend_is_not(uow, rules, kit):
    data = kit.request_data()
    kafka_request(uow, data, kit.at(2026, 11, 18), rules)
    kafka_request(uow, data, kit.at(2026, 11, 18), rules)  # same referral, new event id
    with pytest.raises(EventRejected, match="already used"):
        kafka_request(uow, data.model_copy(update={"summary": "something else"}), kit.at(2026, 11, 18), rules)
    with pytest.raises(domain.DuplicateReferral):
        kit.make(uow, rules, kit.at(2026, 11, 18), data.model_copy(update={"rag": "red"}))


def test_emergency_referral_is_flagged_and_not_held_for_the_weekly_allocation(uow, rules, kit):
    referral = kit.make(uow, rules, kit.at(2026, 11, 18), kit.to_social_care(threshold="emergency"))
    assert referral.emergency and referral.allocation_meeting_on is None
    [event] = kit.published(uow)
    assert event.data["threshold"] == "emergency"
    view = referral_view(uow.session, referral, kit.at(2026, 11, 18))
    assert view.allocation.cycle == "immediate"


def test_a_non_emergency_referral_waits_for_the_next_allocation_meeting(uow, rules, kit):
    referral = kit.make(uow, rules, kit.at(2026, 11, 18), kit.to_social_care(threshold="child_protection_s47"))
    assert not referral.emergency and referral.allocation_meeting_on == date(2026, 11, 23)


def test_the_full_life_of_a_priority_referral(uow, rules, kit):
    social_worker, practitioner = kit.SOCIAL_WORKER, kit.PRACTITIONER
    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.request_data()).id

    commands.accept(uow, ref, practitioner, kit.at(2026, 11, 16, 11), rules=rules, rag="red")
    uow.commit()
    assert [(d.due, d.due_on) for d in _dues(uow, ref)] == [("assessment_booking", date(2026, 11, 23))]

    commands.allocate(uow, ref, practitioner, "dap-7", kit.at(2026, 11, 18), rules=rules)
    uow.commit()
    assert {(d.due, d.due_on) for d in _dues(uow, ref)} >= {
        ("workbook", date(2026, 11, 20)),
        ("joint_visit", date(2026, 11, 23)),
    }
    commands.book_joint_visit(uow, ref, practitioner, kit.at(2026, 11, 20, 14), kit.at(2026, 11, 18, 12))
    commands.open_workbook(uow, ref, practitioner, kit.at(2026, 11, 19))
    commands.record_joint_visit(uow, ref, practitioner, kit.at(2026, 11, 20, 16))
    commands.activate(uow, ref, practitioner, kit.at(2026, 11, 23), rules=rules, episode_id="ep-1")
    uow.commit()
    assert ("monthly_summary", date(2026, 12, 23)) in {(d.due, d.due_on) for d in _dues(uow, ref)}

    commands.record_summary(uow, ref, practitioner, kit.at(2026, 12, 18), rules=rules)
    uow.commit()
    monthly = [d for d in _dues(uow, ref) if d.due == "monthly_summary"]
    assert [(d.due_on, d.status) for d in monthly] == [(date(2026, 12, 23), "met"), (date(2027, 1, 25), "pending")]

    closed = commands.close(uow, ref, practitioner, "completed", kit.at(2027, 1, 10), reason="goals met")
    uow.commit()
    assert closed.state == "closed" and closed.outcome == "completed"
    statuses = {(d.due, d.status) for d in _dues(uow, ref)}
    assert ("monthly_summary", "waived") in statuses and ("assessment_booking", "pending") not in statuses

    types = [e.type.split(".")[3] for e in kit.published(uow)]
    assert types == [
        "requested",
        "accepted",
        "allocated",
        "joint_visit_booked",
        "workbook_opened",
        "joint_visit_done",
        "activated",
        "summary_recorded",
        "closed",
    ]
    view = referral_view(uow.session, closed, kit.at(2027, 1, 10))
    assert [h.action for h in view.history] == [
        "request",
        "accept",
        "allocate",
        "book_joint_visit",
        "open_workbook",
        "record_joint_visit",
        "activate",
        "record_summary",
        "close",
    ]
    assert view.history[1].by == "dap-1" and view.history[1].org == kit.PROVIDER
    assert view.history[0].by == social_worker.sub
    accepted = kit.published(uow, "uk.isp.referral.accepted.v1")[0]
    assert accepted.data["rag"] == "red" and accepted.source_org == kit.PROVIDER


def test_allocated_event_carries_the_joint_visit_and_workbook_due_dates(uow, rules, kit):
    ref = kit.make(uow, rules, kit.at(2026, 3, 30), kit.request_data()).id
    commands.accept(uow, ref, kit.PRACTITIONER, kit.at(2026, 3, 31), rules=rules)
    commands.allocate(uow, ref, kit.PRACTITIONER, "dap-7", kit.at(2026, 4, 2), rules=rules)
    uow.commit()
    [allocated] = kit.published(uow, "uk.isp.referral.allocated.v1")
    assert allocated.data["workbook_due"] == "2026-04-08"  # across Easter
    assert allocated.data["joint_visit_due"] == "2026-04-09"


def test_declined_with_reason_then_nothing_more(uow, rules, kit):
    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.to_social_care()).id
    referral = commands.decline(uow, ref, Actor("sw-2", kit.CSC), "below threshold", kit.at(2026, 11, 17))
    uow.commit()
    assert referral.state == "declined" and referral.reason == "below threshold"
    assert kit.published(uow, "uk.isp.referral.declined.v1")[0].data["reason"] == "below threshold"
    with pytest.raises(IllegalTransition) as refused:
        commands.accept(uow, ref, Actor("sw-2", kit.CSC), kit.at(2026, 11, 17), rules=rules)
    assert refused.value.allowed == []


def test_the_sender_amends_until_accepted_and_not_after(uow, rules, kit):
    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.to_social_care()).id
    amended = commands.amend(
        uow, ref, kit.PRACTITIONER, {"rag": "red", "threshold": "emergency"}, kit.at(2026, 11, 16, 12), rules=rules
    )
    uow.commit()
    assert amended.rag == "red" and amended.emergency and amended.allocation_meeting_on is None
    [event] = kit.published(uow, "uk.isp.referral.amended.v1")
    assert event.data["changed"] == ["rag", "threshold"] and event.data["threshold"] == "emergency"
    commands.accept(uow, ref, Actor("sw-2", kit.CSC), kit.at(2026, 11, 17), rules=rules)
    uow.commit()
    with pytest.raises(IllegalTransition) as refused:
        commands.amend(uow, ref, kit.PRACTITIONER, {"rag": "green"}, kit.at(2026, 11, 17), rules=rules)
    assert refused.value.allowed == ["allocate", "close"]


def test_an_amendment_is_validated_like_a_new_referral(uow, rules, kit):
    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.to_social_care()).id
    with pytest.raises(domain.InvalidCommand, match="threshold is required"):
        commands.amend(uow, ref, kit.PRACTITIONER, {"threshold": None}, kit.at(2026, 11, 16), rules=rules)
    with pytest.raises(domain.InvalidCommand, match="nothing to change"):
        commands.amend(uow, ref, kit.PRACTITIONER, {"rag": "amber"}, kit.at(2026, 11, 16), rules=rules)


def test_the_sender_cancels_until_accepted(uow, rules, kit):
    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.request_data()).id
    cancelled = commands.cancel(uow, ref, kit.SOCIAL_WORKER, "sent in error", kit.at(2026, 11, 16, 12))
    uow.commit()
    assert cancelled.state == "cancelled"
    assert kit.published(uow, "uk.isp.referral.cancelled.v1")[0].data["reason"] == "sent in error"


@pytest.mark.parametrize(
    ("command", "actor"),
    [
        ("accept", "sender"),
        ("decline", "sender"),
        ("amend", "receiver"),
        ("cancel", "receiver"),
        ("accept", "stranger"),
    ],
)
def test_each_command_is_for_one_party_only(uow, rules, kit, command, actor):
    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.request_data()).id
    who = {"sender": kit.SOCIAL_WORKER, "receiver": kit.PRACTITIONER, "stranger": Actor("x", "OTHER-ORG")}[actor]
    with pytest.raises(domain.NotYourReferral):
        commands.load(uow, ref, command, who)


def test_an_unknown_referral_is_not_found(uow, kit):
    with pytest.raises(domain.ReferralNotFound):
        commands.load(uow, "ref-nope", "accept", kit.PRACTITIONER)


def test_a_step_may_be_recorded_after_the_fact_but_not_in_the_future_or_before_its_state(uow, rules, kit):
    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.request_data()).id
    now = kit.at(2026, 11, 20)
    with pytest.raises(domain.InvalidCommand, match="future"):
        commands.accept(uow, ref, kit.PRACTITIONER, now, rules=rules, at=now + timedelta(hours=1))
    with pytest.raises(domain.InvalidCommand, match="before the referral became requested"):
        commands.accept(uow, ref, kit.PRACTITIONER, now, rules=rules, at=kit.at(2026, 11, 15))
    uow.rollback()
    commands.accept(uow, ref, kit.PRACTITIONER, now, rules=rules, at=kit.at(2026, 11, 17))
    uow.commit()
    assert _dues(uow, ref)[0].due_on == date(2026, 11, 24)  # counted from the 17th, not the 20th


def test_an_assessment_booked_before_acceptance_meets_the_booking_due_date(uow, rules, kit):
    from isp_schemas.treatment import AppointmentBooked

    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.request_data()).id
    booked = AppointmentBooked(
        appointment_id="apt-1",
        person={"nhs_number": kit.NHS},
        scheduled_for=kit.at(2026, 11, 25),
        kind="assessment",
        referral_id=ref,
    )
    event = CloudEvent.create(type=booked.event_type, source_org=kit.PROVIDER, data=booked, time=kit.at(2026, 11, 16))
    handlers.appointment_booked(uow, event, booked)
    uow.commit()
    commands.accept(uow, ref, kit.PRACTITIONER, kit.at(2026, 11, 17), rules=rules)
    uow.commit()
    [due] = _dues(uow, ref)
    assert due.status == "met" and due.met_on == date(2026, 11, 16)


def test_a_monthly_summary_for_a_month_already_summarised_is_refused(uow, rules, kit):
    ref = _active(uow, rules, kit)
    commands.record_summary(uow, ref, kit.PRACTITIONER, kit.at(2026, 12, 18), rules=rules, period="2026-12")
    uow.commit()
    with pytest.raises(domain.InvalidCommand, match="already recorded"):
        commands.record_summary(uow, ref, kit.PRACTITIONER, kit.at(2026, 12, 19), rules=rules, period="2026-12")


def _active(uow, rules, kit) -> str:
    p = kit.PRACTITIONER
    ref = kit.make(uow, rules, kit.at(2026, 11, 16), kit.request_data()).id
    commands.accept(uow, ref, p, kit.at(2026, 11, 16, 11), rules=rules)
    commands.allocate(uow, ref, p, "dap-7", kit.at(2026, 11, 18), rules=rules)
    commands.book_joint_visit(uow, ref, p, kit.at(2026, 11, 20, 14), kit.at(2026, 11, 18, 12))
    commands.open_workbook(uow, ref, p, kit.at(2026, 11, 19))
    commands.record_joint_visit(uow, ref, p, kit.at(2026, 11, 20, 16))
    commands.activate(uow, ref, p, kit.at(2026, 11, 23), rules=rules)
    uow.commit()
    return ref


def _dues(uow, ref):
    from isp_referrals import journal

    return journal.dues_of(uow, ref)


def test_two_transitions_racing_on_one_referral_cannot_both_commit(tmp_path, rules, kit):
    from isp_common.db import UnitOfWork, create_schema, make_engine
    from sqlalchemy.orm.exc import StaleDataError

    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    create_schema(engine)
    with UnitOfWork(engine) as setup:
        ref = kit.make(setup, rules, kit.at(2026, 11, 16), kit.request_data()).id
    with UnitOfWork(engine) as first, UnitOfWork(engine) as second:
        # both read it while requested (kept referenced: the identity map holds it weakly)
        seen = [commands.load(unit, ref, "accept", kit.PRACTITIONER) for unit in (first, second)]
        assert {r.state for r in seen} == {"requested"}
        commands.accept(first, ref, kit.PRACTITIONER, kit.at(2026, 11, 17), rules=rules)
        first.commit()
        commands.decline(second, ref, kit.PRACTITIONER, "no capacity", kit.at(2026, 11, 17))
        with pytest.raises(StaleDataError):
            second.commit()
    with UnitOfWork(engine) as check:
        assert check.session.get(Referral, ref).state == "accepted"
