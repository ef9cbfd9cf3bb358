"""A referral's life through the command functions, on a real unit of work (in-memory SQLite)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from isp_common.consumer import EventRejected
from isp_common.db import UnitOfWork
from isp_common.testing import FixedClock, migrated_engine, nhs_number
from isp_referrals import commands, domain, handlers
from isp_referrals.commands import Actor
from isp_referrals.domain import IllegalTransition
from isp_referrals.tables import Referral
from isp_referrals.views import referral_view
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralRequested

from ..kit import make_active, record_decision

REQUESTED = "uk.isp.referral.requested.v1"
CSC, PROVIDER, NHS = "WSCC-CSC", "CGL-WSX", nhs_number(0)
SOCIAL_WORKER = Actor("sw-1", CSC, frozenset({"social_care"}))
PRACTITIONER = Actor("dap-1", PROVIDER, frozenset({"provider"}))


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def kafka_request(uow, data: ReferralRequested, when, rules, source_org=None, shared=True):
    """A partner's referral on Kafka, consumed; unless ``shared=False`` then shared with its receiver."""
    event = CloudEvent.create(type=REQUESTED, source_org=source_org or data.from_org, data=data, time=when)
    handlers.referral_requested(uow, event, data, rules=rules, clock=FixedClock(when))
    uow.commit()
    if shared:
        record_decision(uow, uow.session.get(Referral, data.referral_id), when)
    return event


def test_http_referral_is_stored_requested_and_published_once_through_the_outbox(
    uow, rules, make, published, request_data
):
    data = request_data()
    referral = make(at(2026, 11, 18), data)
    assert referral.state == "requested" and referral.channel == "api" and referral.priority
    [event] = published()
    assert event.type == REQUESTED and event.source_org == CSC and event.subject == NHS
    assert ReferralRequested.model_validate(event.data) == data
    assert referral.source_event_id == event.id


def test_our_own_published_request_coming_back_is_a_no_op(uow, rules, make, published, request_data):
    data = request_data()
    make(at(2026, 11, 18), data)
    [event] = published()
    handlers.referral_requested(uow, event, data, rules=rules, clock=FixedClock(at(2026, 11, 18)))
    uow.commit()
    assert len(published()) == 1


@pytest.mark.parametrize("direction", ["to_treatment", "to_social_care"])
def test_kafka_and_http_referrals_end_alike(uow, rules, make, published, request_data, to_social_care, direction):
    when = at(2026, 11, 18)
    make_data = request_data if direction == "to_treatment" else to_social_care
    over_http = make(when, make_data(referral_id="ref-http"))
    kafka_request(uow, make_data(referral_id="ref-kafka"), when, rules)
    over_kafka = uow.session.get(Referral, "ref-kafka")
    ignore = {"id", "channel", "history", "requested_event_id"}
    a = referral_view(uow.session, over_http, when).model_dump(exclude=ignore)
    b = referral_view(uow.session, over_kafka, when).model_dump(exclude=ignore)
    assert a == b and a["direction"] == direction
    assert over_kafka.channel == "kafka"
    assert len(published(REQUESTED)) == 1  # the partner's event is not re-published


def test_a_kafka_referral_not_from_its_publisher_is_rejected(uow, rules, request_data):
    with pytest.raises(EventRejected, match="from_org must be the referring organisation"):
        kafka_request(uow, request_data(), at(2026, 11, 18), rules, source_org="OTHER-ORG")


def test_a_used_referral_id_with_different_content_is_rejected_and_a_resend_is_not(uow, rules, make, request_data):
    data = request_data()
    kafka_request(uow, data, at(2026, 11, 18), rules)
    kafka_request(uow, data, at(2026, 11, 18), rules)  # same referral, new event id
    with pytest.raises(EventRejected, match="already used"):
        kafka_request(uow, data.model_copy(update={"summary": "something else"}), at(2026, 11, 18), rules)
    with pytest.raises(domain.DuplicateReferral):
        make(at(2026, 11, 18), data.model_copy(update={"rag": "red"}))


def test_emergency_referral_is_flagged_and_not_held_for_the_weekly_allocation(
    uow, rules, make, published, to_social_care
):
    referral = make(at(2026, 11, 18), to_social_care(threshold="emergency"))
    assert referral.emergency and referral.allocation_meeting_on is None
    [event] = published()
    assert event.data["threshold"] == "emergency"
    view = referral_view(uow.session, referral, at(2026, 11, 18))
    assert view.allocation.cycle == "immediate"


def test_a_non_emergency_referral_waits_for_the_next_allocation_meeting(uow, rules, make, to_social_care):
    referral = make(at(2026, 11, 18), to_social_care(threshold="child_protection_s47"))
    assert not referral.emergency and referral.allocation_meeting_on == date(2026, 11, 23)


def test_the_full_life_of_a_priority_referral(uow, rules, make, published, request_data):
    social_worker, practitioner = SOCIAL_WORKER, PRACTITIONER
    ref = make(at(2026, 11, 16), request_data()).id

    commands.accept(uow, ref, practitioner, at(2026, 11, 16, 11), rules=rules, rag="red")
    uow.commit()
    assert [(d.due, d.due_on, d.status) for d in _dues(uow, ref)] == [
        ("response", date(2026, 11, 17), "met"),
        ("assessment_booking", date(2026, 11, 23), "pending"),
    ]

    commands.allocate(uow, ref, practitioner, "dap-7", at(2026, 11, 18), rules=rules)
    uow.commit()
    assert {(d.due, d.due_on) for d in _dues(uow, ref)} >= {
        ("workbook", date(2026, 11, 20)),
        ("joint_visit", date(2026, 11, 23)),
    }
    commands.book_joint_visit(uow, ref, practitioner, at(2026, 11, 20, 14), at(2026, 11, 18, 12))
    commands.open_workbook(uow, ref, practitioner, at(2026, 11, 19))
    commands.record_joint_visit(uow, ref, practitioner, at(2026, 11, 20, 16))
    commands.activate(uow, ref, practitioner, at(2026, 11, 23), rules=rules, episode_id="ep-1")
    uow.commit()
    assert ("monthly_summary", date(2026, 12, 23)) in {(d.due, d.due_on) for d in _dues(uow, ref)}

    commands.record_summary(uow, ref, practitioner, at(2026, 12, 18), rules=rules)
    uow.commit()
    monthly = [d for d in _dues(uow, ref) if d.due == "monthly_summary"]
    assert [(d.due_on, d.status) for d in monthly] == [(date(2026, 12, 23), "met"), (date(2027, 1, 25), "pending")]

    closed = commands.close(uow, ref, practitioner, "completed", at(2027, 1, 10), reason="goals met")
    uow.commit()
    assert closed.state == "closed" and closed.outcome == "completed"
    statuses = {(d.due, d.status) for d in _dues(uow, ref)}
    assert ("monthly_summary", "waived") in statuses and ("assessment_booking", "pending") not in statuses

    types = [e.type.split(".")[3] for e in published()]
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
    view = referral_view(uow.session, closed, at(2027, 1, 10))
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
    assert view.history[1].by == "dap-1" and view.history[1].org == PROVIDER
    assert view.history[0].by == social_worker.sub
    accepted = published("uk.isp.referral.accepted.v1")[0]
    assert accepted.data["rag"] == "red" and accepted.source_org == PROVIDER


def test_allocated_event_carries_the_joint_visit_and_workbook_due_dates(uow, rules, make, published, request_data):
    ref = make(at(2026, 3, 30), request_data()).id
    commands.accept(uow, ref, PRACTITIONER, at(2026, 3, 31), rules=rules)
    commands.allocate(uow, ref, PRACTITIONER, "dap-7", at(2026, 4, 2), rules=rules)
    uow.commit()
    [allocated] = published("uk.isp.referral.allocated.v1")
    assert allocated.data["workbook_due"] == "2026-04-08"  # across Easter
    assert allocated.data["joint_visit_due"] == "2026-04-09"


def test_declined_with_reason_then_nothing_more(uow, rules, make, published, to_social_care):
    ref = make(at(2026, 11, 16), to_social_care()).id
    referral = commands.decline(uow, ref, Actor("sw-2", CSC), "below threshold", at(2026, 11, 17))
    uow.commit()
    assert referral.state == "declined" and referral.reason == "below threshold"
    assert published("uk.isp.referral.declined.v1")[0].data["reason"] == "below threshold"
    with pytest.raises(IllegalTransition) as refused:
        commands.accept(uow, ref, Actor("sw-2", CSC), at(2026, 11, 17), rules=rules)
    assert refused.value.allowed == []


def test_the_sender_amends_until_accepted_and_not_after(uow, rules, make, published, to_social_care):
    ref = make(at(2026, 11, 16), to_social_care()).id
    amended = commands.amend(
        uow, ref, PRACTITIONER, {"rag": "red", "threshold": "emergency"}, at(2026, 11, 16, 12), rules=rules
    )
    uow.commit()
    assert amended.rag == "red" and amended.emergency and amended.allocation_meeting_on is None
    [event] = published("uk.isp.referral.amended.v1")
    assert event.data["changed"] == ["rag", "threshold"] and event.data["threshold"] == "emergency"
    commands.accept(uow, ref, Actor("sw-2", CSC), at(2026, 11, 17), rules=rules)
    uow.commit()
    with pytest.raises(IllegalTransition) as refused:
        commands.amend(uow, ref, PRACTITIONER, {"rag": "green"}, at(2026, 11, 17), rules=rules)
    assert refused.value.allowed == ["allocate", "close"]


def test_an_amendment_is_validated_like_a_new_referral(uow, rules, make, to_social_care):
    ref = make(at(2026, 11, 16), to_social_care()).id
    with pytest.raises(domain.InvalidCommand, match="threshold is required"):
        commands.amend(uow, ref, PRACTITIONER, {"threshold": None}, at(2026, 11, 16), rules=rules)
    with pytest.raises(domain.InvalidCommand, match="nothing to change"):
        commands.amend(uow, ref, PRACTITIONER, {"rag": "amber"}, at(2026, 11, 16), rules=rules)


def test_the_sender_cancels_until_accepted(uow, rules, make, published, request_data):
    ref = make(at(2026, 11, 16), request_data()).id
    cancelled = commands.cancel(uow, ref, SOCIAL_WORKER, "sent in error", at(2026, 11, 16, 12))
    uow.commit()
    assert cancelled.state == "cancelled"
    assert published("uk.isp.referral.cancelled.v1")[0].data["reason"] == "sent in error"


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
def test_each_command_is_for_one_party_only(uow, rules, make, request_data, command, actor):
    ref = make(at(2026, 11, 16), request_data()).id
    who = {"sender": SOCIAL_WORKER, "receiver": PRACTITIONER, "stranger": Actor("x", "OTHER-ORG")}[actor]
    with pytest.raises(domain.NotYourReferral):
        commands.load(uow, ref, command, who)


def test_an_unknown_referral_is_not_found(uow):
    with pytest.raises(domain.ReferralNotFound):
        commands.load(uow, "ref-nope", "accept", PRACTITIONER)


def test_a_step_may_be_recorded_after_the_fact_but_not_in_the_future_or_before_its_state(
    uow, rules, make, request_data
):
    ref = make(at(2026, 11, 16), request_data()).id
    now = at(2026, 11, 20)
    with pytest.raises(domain.InvalidCommand, match="future"):
        commands.accept(uow, ref, PRACTITIONER, now, rules=rules, at=now + timedelta(hours=1))
    with pytest.raises(domain.InvalidCommand, match="before the referral became requested"):
        commands.accept(uow, ref, PRACTITIONER, now, rules=rules, at=at(2026, 11, 15))
    uow.rollback()
    commands.accept(uow, ref, PRACTITIONER, now, rules=rules, at=at(2026, 11, 17))
    uow.commit()
    assert _dues(uow, ref, "assessment_booking")[0].due_on == date(2026, 11, 24)  # from the 17th, not the 20th


def test_an_assessment_booked_before_acceptance_meets_the_booking_due_date(uow, rules, make, request_data):
    from isp_schemas.treatment import AppointmentBooked

    ref = make(at(2026, 11, 16), request_data()).id
    booked = AppointmentBooked(
        appointment_id="apt-1",
        person={"nhs_number": NHS},
        scheduled_for=at(2026, 11, 25),
        kind="assessment",
        referral_id=ref,
    )
    event = CloudEvent.create(type=booked.event_type, source_org=PROVIDER, data=booked, time=at(2026, 11, 16))
    handlers.appointment_booked(uow, event, booked)
    uow.commit()
    commands.accept(uow, ref, PRACTITIONER, at(2026, 11, 17), rules=rules)
    uow.commit()
    [due] = _dues(uow, ref, "assessment_booking")
    assert due.status == "met" and due.met_on == date(2026, 11, 16)


def test_a_monthly_summary_for_a_month_already_summarised_is_refused(uow, rules, make):
    ref = _active(uow, rules, make)
    commands.record_summary(uow, ref, PRACTITIONER, at(2026, 12, 18), rules=rules, period="2026-12")
    uow.commit()
    with pytest.raises(domain.InvalidCommand, match="already recorded"):
        commands.record_summary(uow, ref, PRACTITIONER, at(2026, 12, 19), rules=rules, period="2026-12")


def _active(uow, rules, make) -> str:
    ref = make(at(2026, 11, 16)).id
    make_active(uow, rules, ref, PRACTITIONER, at(2026, 11, 16, 11))
    return ref


def _dues(uow, ref, due=None):
    from isp_referrals import journal

    return journal.dues_of(uow, ref, due)


def _migrated_file_engine(tmp_path):
    return migrated_engine("isp_referrals", f"sqlite:///{tmp_path / 'race.db'}")


@contextmanager
def _racing(tmp_path, rules, request_data):
    """A requested referral (committed) on a file database, and two units of work that have both
    read it: ``(engine, referral_id, first, second)``."""
    engine = _migrated_file_engine(tmp_path)
    with UnitOfWork(engine) as setup:
        referral = commands.make_referral(setup, request_data(), SOCIAL_WORKER, at(2026, 11, 16), rules)
        setup.commit()
        ref = record_decision(setup, referral, at(2026, 11, 16)) and referral.id
    with UnitOfWork(engine) as first, UnitOfWork(engine) as second:
        # both read it while requested (kept referenced: the identity map holds it weakly)
        seen = [commands.load(unit, ref, "accept", PRACTITIONER) for unit in (first, second)]
        assert {r.state for r in seen} == {"requested"}
        yield engine, ref, first, second


def test_two_transitions_racing_on_one_referral_cannot_both_commit(tmp_path, rules, request_data):
    from sqlalchemy.orm.exc import StaleDataError

    with _racing(tmp_path, rules, request_data) as (engine, ref, first, second):
        commands.accept(first, ref, PRACTITIONER, at(2026, 11, 17), rules=rules)
        first.commit()
        with pytest.raises(StaleDataError):  # at its first write: when it meets the response due, or at commit
            commands.decline(second, ref, PRACTITIONER, "no capacity", at(2026, 11, 17))
            second.commit()
    with UnitOfWork(engine) as check:
        assert check.session.get(Referral, ref).state == "accepted"


def test_the_loser_of_a_race_is_refused_as_a_concurrent_change(tmp_path, rules, request_data):
    with _racing(tmp_path, rules, request_data) as (engine, ref, first, second):
        commands.apply(first, commands.accept, ref, PRACTITIONER, at(2026, 11, 17), rules=rules)
        with pytest.raises(domain.ReferralChanged) as refused:
            commands.apply(second, commands.decline, ref, PRACTITIONER, "no capacity", at(2026, 11, 17))
    assert refused.value.status == 409
    assert refused.value.detail == "The referral changed at the same time; read it again and retry."
    with UnitOfWork(engine) as check:
        assert check.session.get(Referral, ref).state == "accepted"


def test_the_same_new_referral_made_twice_at_once_is_refused_as_a_concurrent_change(tmp_path, rules, request_data):
    engine = _migrated_file_engine(tmp_path)
    data, now = request_data(), at(2026, 11, 16)
    with UnitOfWork(engine) as first, UnitOfWork(engine) as second:

        def refer_while_first_does(uow, *args, **kwargs):
            made = commands.refer(uow, *args, **kwargs)  # finds no referral under the id, and makes it
            commands.apply(first, commands.refer, data, SOCIAL_WORKER, now, rules=rules)  # first commits it
            return made

        with pytest.raises(domain.ReferralChanged):
            commands.apply(second, refer_while_first_does, data, SOCIAL_WORKER, now, rules=rules)
    with UnitOfWork(engine) as check:
        assert check.session.get(Referral, data.referral_id) is not None
