"""The consumer applies a batch of events in one transaction, and retries a failing event on its own
after committing the ones before it: a batch must leave exactly the state (rows, history lines,
outbox events) that the same events leave one by one. The handlers keep history lines as plain rows
until the commit (:func:`isp_referrals.journal.record`), and read the appointments and referrals a
batch names ahead of it (:func:`isp_referrals.handlers.read_ahead`), so an appointment booked or
relinked earlier in the same batch, and an event that is rolled back and retried, are checked here."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from isp_common.clock import FixedClock
from isp_common.consumer import EventProcessor
from isp_common.db import UnitOfWork
from isp_common.testing import RecordingDeadLetters, migrated_engine, nhs_number
from isp_common.workingdays import WorkingCalendar
from isp_referrals import journal
from isp_referrals.domain import DueRules
from isp_referrals.handlers import handlers_by_topic, read_ahead
from isp_referrals.tables import Appointment, Referral, ReferralHistory
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralRequested
from isp_schemas.treatment import AppointmentAttended, AppointmentBooked, AppointmentMissed
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

CSC, PROVIDER, OTHER_PROVIDER = "WSCC-CSC", "CGL-WSX", "OTHER-ORG"
NHS = nhs_number(0)
NOW = datetime(2026, 11, 18, 10, tzinfo=UTC)
ASSESSMENT_MISSED = "uk.isp.referral.assessment_missed.v1"


def _event(data: Any, source_org: str, minutes: int) -> bytes:
    event = CloudEvent.create(
        type=data.event_type, source_org=source_org, data=data, time=NOW + timedelta(minutes=minutes)
    )
    return event.to_json_bytes()


def _referrals(people: list[str]) -> list[bytes]:
    """A referral for each person, and a second one for the second person."""
    return [
        _event(
            ReferralRequested(
                referral_id=referral_id,
                direction="to_treatment",
                from_org=CSC,
                to_org=PROVIDER,
                person={"nhs_number": nhs},
                children=[{"local_id": f"C-{i}"}],
                rag="amber",
                consent_id=f"con-{i}",
                summary="s",
                parent_agreed=True,
                concerns=["alcohol"],
            ),
            CSC,
            0,
        )
        for i, nhs in enumerate(people)
        for referral_id in ([f"ref-{i}", f"ref-{i}b"] if i == 1 else [f"ref-{i}"])
    ]


def _appointments(people: list[str]) -> list[bytes]:
    """Per person: the assessment booked and then missed, a review booked and attended; for the
    first, also a DNA published by a provider that did not book it (refused: dead-lettered), and an
    appointment missed that was never booked; for the second, the assessment is rebooked for their
    second referral before it is missed (the DNA is about that referral); for the third, another
    assessment is missed straight after it is booked."""
    when = NOW - timedelta(minutes=30)
    out: list[bytes] = []
    for i, nhs in enumerate(people):
        person = {"nhs_number": nhs}
        assessment = AppointmentBooked(
            appointment_id=f"apt-{i}", person=person, scheduled_for=when, kind="assessment", referral_id=f"ref-{i}"
        )
        review = AppointmentBooked(
            appointment_id=f"rev-{i}", person=person, scheduled_for=when, kind="review", referral_id=f"ref-{i}"
        )
        missed = AppointmentMissed(appointment_id=f"apt-{i}", person=person, scheduled_for=when, recorded_at=NOW)
        attended = AppointmentAttended(appointment_id=f"rev-{i}", person=person, attended_at=NOW)
        out += [_event(assessment, PROVIDER, 1), _event(review, PROVIDER, 2)]
        if i == 0:
            out.append(_event(missed, OTHER_PROVIDER, 3))
            unbooked = AppointmentMissed(appointment_id="apt-x", person=person, scheduled_for=when, recorded_at=NOW)
            out.append(_event(unbooked, PROVIDER, 3))
        if i == 1:
            relinked = assessment.model_copy(
                update={"referral_id": "ref-1b", "scheduled_for": when, "kind": "assessment"}
            )
            out.append(_event(relinked, PROVIDER, 3))
        if i == 2:
            again = assessment.model_copy(update={"appointment_id": "apt-2b"})
            out += [
                _event(again, PROVIDER, 3),
                _event(missed.model_copy(update={"appointment_id": "apt-2b"}), PROVIDER, 3),
            ]
        out += [_event(missed, PROVIDER, 4), _event(attended, PROVIDER, 5)]
    return out


def _state(engine: Engine) -> dict[str, Any]:
    """Everything the events leave, but the times rows were written at."""
    with engine.connect() as conn:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(text(sql))]

        outbox = [
            (topic, key, kind, json.loads(value)["data"])
            for topic, key, kind, value in rows("select topic, key, event_type, value from outbox_message order by id")
        ]
        return {
            "history": rows(
                "select id, referral_id, action, from_state, to_state, at, by, org, details, event_id"
                " from referrals_history order by id"
            ),
            "appointments": rows("select * from referrals_appointment order by id"),
            "dues": rows("select * from referrals_due order by id"),
            "referrals": rows("select id, state, version, nhs_number, children from referrals_referral order by id"),
            "inbox": sorted(rows("select consumer, event_id from processed_event")),
            "outbox": outbox,
        }


def _consume(batched: bool, people: list[str], referrals: list[bytes], appointments: list[bytes]) -> tuple[Any, ...]:
    engine = migrated_engine("isp_referrals")
    handlers = handlers_by_topic(DueRules(WorkingCalendar()), FixedClock(NOW))
    dead = RecordingDeadLetters()
    failed: list[Exception] = []

    def reading_ahead(uow: UnitOfWork, events: Any) -> None:
        try:
            read_ahead(uow, events)
        except Exception as exc:  # the processor would only log it
            failed.append(exc)
            raise

    async def run() -> None:
        for topic, values in ((topics.REFERRALS, referrals), (topics.TREATMENT, appointments)):
            processor = EventProcessor(
                f"t:{topic}", handlers[topic], lambda: UnitOfWork(engine), dead, retry_delay=0, prefetch=reading_ahead
            )
            if batched:
                await processor.process_batch([(None, v, []) for v in values], topic)
            else:
                for v in values:
                    await processor.process(None, v, [], topic)

    asyncio.run(run())
    assert failed == []
    return _state(engine), dead.reasons


def test_a_batch_leaves_the_state_the_same_events_leave_one_by_one() -> None:
    people = [nhs_number(n) for n in range(3)]
    referrals, appointments = _referrals(people), _appointments(people)
    (batched, batched_dead) = _consume(True, people, referrals, appointments)
    (single, single_dead) = _consume(False, people, referrals, appointments)
    assert batched == single and batched_dead == single_dead
    assert len(batched_dead) == 1 and "not by the publisher" in batched_dead[0]
    dnas = [data for _, _, kind, data in batched["outbox"] if kind == ASSESSMENT_MISSED]
    assert [(dna["appointment_id"], dna["referral_id"]) for dna in dnas] == [
        ("apt-0", "ref-0"),
        ("apt-1", "ref-1b"),
        ("apt-2b", "ref-2"),
        ("apt-2", "ref-2"),
    ]
    actions = [line[2] for line in batched["history"]]
    assert actions.count("appointment_missed") == 4 and actions.count("appointment_attended") == 3


def _actions(uow: UnitOfWork, ref: str) -> list[str]:
    stmt = select(ReferralHistory).where(ReferralHistory.referral_id == ref).order_by(col(ReferralHistory.id))
    return [line.action for line in uow.session.exec(stmt)]


def test_a_history_line_is_read_back_in_its_transaction_and_dropped_with_it(uow, make) -> None:
    referral = make(NOW)
    before = _actions(uow, referral.id)
    journal.record(uow, referral, "noted", at=NOW, by="sw-1", org=CSC, from_state=referral.state)
    assert _actions(uow, referral.id) == [*before, "noted"]  # the query writes it first
    uow.rollback()
    assert _actions(uow, referral.id) == before
    journal.record(uow, referral, "kept", at=NOW, by="sw-1", org=CSC, from_state=referral.state)
    uow.rollback()  # dropped before it was ever written
    journal.record(uow, referral, "committed", at=NOW, by="sw-1", org=CSC, from_state=referral.state)
    uow.commit()  # written by the commit, with no query before it
    assert _actions(uow, referral.id) == [*before, "committed"]
    assert uow.session.get(Referral, referral.id) is not None


def test_a_history_line_recorded_before_anything_else_is_dropped_by_a_rollback(uow, make) -> None:
    referral = make(NOW)
    before = _actions(uow, referral.id)
    uow.commit()
    with UnitOfWork(uow.engine) as fresh:  # nothing read or written yet: no transaction begun
        journal.record(fresh, referral, "dropped", at=NOW, by="sw-1", org=CSC, from_state=referral.state)
        fresh.rollback()
        fresh.commit()
    assert _actions(uow, referral.id) == before


def test_a_history_line_is_written_before_a_text_query(uow, make) -> None:
    referral = make(NOW)
    journal.record(uow, referral, "noted", at=NOW, by="sw-1", org=CSC, from_state=referral.state)
    count = text("select count(*) from referrals_history where action = 'noted'")
    assert uow.session.exec(count).one() == (1,)  # type: ignore[call-overload]


def test_a_read_ahead_appointment_is_the_one_the_session_gets(uow: UnitOfWork) -> None:
    """The handlers look up what the read-ahead loaded in the session's identity map
    (:meth:`isp_common.db.UowSession.get_known`): the same object ``Session.get`` answers with, current
    values after a rollback expired it, None for a key the read-ahead found absent until one is added."""
    when = NOW - timedelta(minutes=30)
    uow.session.add(Appointment(id="apt-1", provider_org=PROVIDER, nhs_number=NHS, kind="review", scheduled_for=when))
    uow.commit()
    missed = [
        AppointmentMissed(appointment_id=f"apt-{n}", person={"nhs_number": NHS}, scheduled_for=when, recorded_at=NOW)
        for n in (1, 2)
    ]
    read_ahead(uow, [(CloudEvent.create(type=m.event_type, source_org=PROVIDER, data=m), m) for m in missed])
    held = uow.session.get_known(Appointment, "apt-1")
    assert held is not None and held is uow.session.get(Appointment, "apt-1")
    assert uow.session.get_known(Appointment, "apt-2") is None
    with UnitOfWork(uow.engine) as other:
        other.session.exec(text("update referrals_appointment set status = 'attended' where id = 'apt-1'"))
        other.commit()
    uow.rollback()  # everything the session held is expired
    again = uow.session.get_known(Appointment, "apt-1")
    assert again is held and again.status == "attended"
    uow.session.add(Appointment(id="apt-2", provider_org=PROVIDER, nhs_number=NHS, kind="review", scheduled_for=when))
    added = uow.session.get_known(Appointment, "apt-2")
    assert added is not None and added.id == "apt-2"
