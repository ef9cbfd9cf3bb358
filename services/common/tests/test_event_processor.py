"""The consumer's guarantees, with a real unit of work on in-memory SQLite and a fake dead-letter sink."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from isp_common.consumer import EventProcessor, EventRejected, HandledElsewhere
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.deadletter import DeadLetters
from isp_common.tables import OutboxMessage, ProcessedEvent
from isp_common.testing import RecordingDeadLetters
from isp_schemas import topics
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from sqlmodel import Session, select

PERSON = Person(nhs_number="9434765919")


def withdrawn_event(event_id: str = "evt-1") -> CloudEvent:
    data = ConsentWithdrawn(consent_id="con-1", person=PERSON, withdrawn_on=datetime(2026, 11, 2).date())
    return CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=event_id)


@pytest.fixture
def engine():
    e = make_engine("sqlite://")
    create_schema(e)
    return e


def processor(engine, handler, attempts=3) -> tuple[EventProcessor, RecordingDeadLetters]:
    dead = RecordingDeadLetters()
    p = EventProcessor(
        consumer_name="test:consent",
        handlers={ConsentWithdrawn.event_type: handler},
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=dead,  # type: ignore[arg-type]  # a fake with the one method the processor calls
        attempts=attempts,
        retry_delay=0.0,
    )
    return p, dead


def publishing_handler(uow, event, data):
    uow.publish(CloudEvent.create(type=event.type, source_org="CGL-WSX", data=data), topics.CONSENT)


async def test_a_handled_event_commits_its_effect_with_the_inbox_mark(engine):
    p, dead = processor(engine, publishing_handler)
    outcome = await p.process(b"k", withdrawn_event().to_json_bytes(), [], topics.CONSENT)
    assert outcome == "handled"
    with UnitOfWork(engine) as uow:
        assert len(uow.session.exec(select(OutboxMessage)).all()) == 1
        assert uow.already_processed("test:consent", "evt-1")
    assert dead.sent == []


async def test_redelivering_the_same_event_id_is_a_no_op(engine):
    p, _ = processor(engine, publishing_handler)
    raw = withdrawn_event().to_json_bytes()
    assert await p.process(b"k", raw, [], topics.CONSENT) == "handled"
    assert await p.process(b"k", raw, [], topics.CONSENT) == "duplicate"
    with UnitOfWork(engine) as uow:
        assert len(uow.session.exec(select(OutboxMessage)).all()) == 1


async def test_unparsable_message_is_dead_lettered_byte_for_byte_with_the_reason(engine):
    p, dead = processor(engine, publishing_handler)
    raw = b"not json at all"
    assert await p.process(b"key-1", raw, [("x", b"1")], topics.CONSENT) == "deadlettered"
    assert dead.sent[0]["value"] == raw and dead.sent[0]["key"] == b"key-1"
    assert "JSON" in dead.sent[0]["reason"]
    assert dead.sent[0]["topic"] == topics.CONSENT


async def test_unknown_event_type_is_dead_lettered(engine):
    p, dead = processor(engine, publishing_handler)
    event = withdrawn_event().model_dump(mode="json")
    event["type"] = "uk.isp.nonsense.v1"
    import json

    assert await p.process(None, json.dumps(event).encode(), [], topics.CONSENT) == "deadlettered"
    assert "unknown event type" in dead.sent[0]["reason"]


async def test_invalid_data_is_dead_lettered_naming_the_field(engine):
    p, dead = processor(engine, publishing_handler)
    event = withdrawn_event().model_dump(mode="json")
    event["data"]["person"]["nhs_number"] = "9434765918"
    import json

    assert await p.process(None, json.dumps(event).encode(), [], topics.CONSENT) == "deadlettered"
    assert "nhs_number" in dead.sent[0]["reason"]


async def test_a_type_this_service_does_not_handle_is_skipped_not_dead_lettered(engine):
    p, dead = processor(engine, publishing_handler)
    p.handlers = {}
    assert await p.process(None, withdrawn_event().to_json_bytes(), [], topics.CONSENT) == "skipped"
    assert dead.sent == []


async def test_a_malformed_event_of_a_type_not_handled_here_is_still_dead_lettered(engine):
    """Only a guarded handler's raw-data check skips an event unvalidated: one of a type no handler
    here takes is validated first, since no service may handle its type at all (CONTRACT §4:
    nothing is silently dropped)."""
    import json

    p, dead = processor(engine, publishing_handler)
    p.handlers = {}
    malformed = withdrawn_event().model_dump(mode="json")
    malformed["data"]["person"]["nhs_number"] = "9434765918"  # fails the modulus 11 check
    assert await p.process(None, json.dumps(malformed).encode(), [], topics.CONSENT) == "deadlettered"
    assert await p.process_batch([(None, json.dumps(malformed).encode(), [])], topics.CONSENT) == ["deadlettered"]
    assert len(dead.sent) == 2 and all("nhs_number" in sent["reason"] for sent in dead.sent)


async def test_a_type_left_to_another_service_is_skipped_unvalidated_and_others_are_not(engine):
    import json

    p, dead = processor(engine, publishing_handler)
    p.handlers = HandledElsewhere.beside({}, "notifications", [ConsentWithdrawn.event_type])
    malformed = withdrawn_event().model_dump(mode="json")
    malformed["data"]["person"]["nhs_number"] = "9434765918"  # fails the modulus 11 check
    assert await p.process(None, json.dumps(malformed).encode(), [], topics.CONSENT) == "skipped"
    assert await p.process_batch([(None, json.dumps(malformed).encode(), [])], topics.CONSENT) == ["skipped"]
    assert dead.sent == []
    p.handlers = HandledElsewhere.beside({}, "notifications", ["uk.isp.consent.given.v1"])
    assert await p.process(None, json.dumps(malformed).encode(), [], topics.CONSENT) == "deadlettered"


def test_a_type_handled_here_cannot_also_be_left_elsewhere():
    here = {ConsentWithdrawn.event_type: publishing_handler}
    with pytest.raises(ValueError, match="handled here, so not left to notifications"):
        HandledElsewhere.beside(here, "notifications", [ConsentWithdrawn.event_type])
    both = HandledElsewhere.beside(here, "notifications", ["uk.isp.consent.given.v1"])
    assert both[ConsentWithdrawn.event_type] is publishing_handler
    assert isinstance(both["uk.isp.consent.given.v1"], HandledElsewhere)


async def test_a_failing_handler_is_retried_then_dead_lettered_and_its_effects_rolled_back(engine):
    calls = []

    def flaky(uow, event, data):
        calls.append(1)
        publishing_handler(uow, event, data)
        raise RuntimeError("database said no")

    p, dead = processor(engine, flaky, attempts=3)
    assert await p.process(None, withdrawn_event().to_json_bytes(), [], topics.CONSENT) == "deadlettered"
    assert len(calls) == 3
    # the reason names the failure's type; its message may carry personal data, so it is left out
    assert dead.sent[0]["reason"] == "handler failed after 3 attempts: RuntimeError"
    with UnitOfWork(engine) as uow:
        assert uow.session.exec(select(OutboxMessage)).all() == []
        assert uow.session.exec(select(ProcessedEvent)).all() == []


async def test_a_handler_that_recovers_on_retry_is_handled_once(engine):
    calls = []

    def recovers(uow, event, data):
        calls.append(1)
        if len(calls) < 2:
            raise RuntimeError("transient")
        publishing_handler(uow, event, data)

    p, dead = processor(engine, recovers)
    assert await p.process(None, withdrawn_event().to_json_bytes(), [], topics.CONSENT) == "handled"
    assert dead.sent == []
    with UnitOfWork(engine) as uow:
        assert len(uow.session.exec(select(OutboxMessage)).all()) == 1


async def test_a_rejected_event_is_dead_lettered_at_once(engine):
    calls = []

    def rejects(uow, event, data):
        calls.append(1)
        raise EventRejected("appointment belongs to another provider")

    p, dead = processor(engine, rejects)
    assert await p.process(None, withdrawn_event().to_json_bytes(), [], topics.CONSENT) == "deadlettered"
    assert len(calls) == 1
    assert dead.sent[0]["reason"] == "rejected: appointment belongs to another provider"


def test_uncommitted_unit_of_work_leaves_no_outbox_row(engine):
    with UnitOfWork(engine) as uow:
        uow.publish(withdrawn_event(), topics.CONSENT)
    with UnitOfWork(engine) as uow:
        assert uow.session.exec(select(OutboxMessage)).all() == []


def test_outbox_row_carries_the_current_traceparent(engine):
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("http") as span, UnitOfWork(engine) as uow:
        uow.publish(withdrawn_event(), topics.CONSENT)
        uow.commit()
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage)).all()
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert row.traceparent and row.traceparent.split("-")[1] == trace_id


def test_outbox_key_defaults_to_the_subject(engine):
    event = withdrawn_event()
    with UnitOfWork(engine) as uow:
        uow.publish(event, topics.CONSENT)
        uow.commit()
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage)).all()
    assert row.key == PERSON.nhs_number == event.subject
    assert datetime.now(UTC) >= row.created_at.replace(tzinfo=UTC)


class _Producer:
    """Stands in for the aiokafka producer of :class:`DeadLetters`: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, topic, *, value, key, headers):
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": dict(headers)})
        return self._acked()

    @staticmethod
    async def _acked() -> None:
        return None


def dead_letter_processor(engine, handler) -> tuple[EventProcessor, _Producer]:
    producer = _Producer()
    p = EventProcessor(
        consumer_name="test:consent",
        handlers={ConsentWithdrawn.event_type: handler},
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=DeadLetters(producer, "isp-test"),  # type: ignore[arg-type]  # a fake producer's send
        attempts=1,
        retry_delay=0.0,
    )
    return p, producer


def rejects(uow, event, data):
    raise EventRejected("organisation NEW-ORG is not in the partnership directory")


async def test_a_dead_letter_names_the_original_message_by_topic_partition_and_offset(engine):
    p, producer = dead_letter_processor(engine, rejects)
    raw = withdrawn_event().to_json_bytes()
    assert await p.process(b"k", raw, [("isp-signature", b"sig")], topics.CONSENT, position=(2, 41)) == "deadlettered"
    sent = producer.sent[0]
    assert sent["topic"] == topics.DEADLETTER and sent["value"] == raw and sent["key"] == b"k"
    assert sent["headers"] == {
        "isp-signature": b"sig",  # kept: a replay needs it
        "isp-error": b"rejected: organisation NEW-ORG is not in the partnership directory",
        "isp-source-topic": topics.CONSENT.encode(),
        "isp-consumer": b"isp-test",
        "isp-source-partition": b"2",
        "isp-source-offset": b"41",
    }


async def test_a_batch_dead_letters_each_message_with_its_own_position(engine):
    p, producer = dead_letter_processor(engine, rejects)
    messages = [(None, b"not json", []), (None, withdrawn_event("evt-9").to_json_bytes(), [])]
    outcomes = await p.process_batch(messages, topics.CONSENT, positions=[(0, 7), (0, 8)])
    assert outcomes == ["deadlettered", "deadlettered"]
    assert [s["headers"]["isp-source-offset"] for s in producer.sent] == [b"7", b"8"]


async def test_dead_lettering_a_dead_letter_again_replaces_its_dead_letter_headers(engine):
    p, producer = dead_letter_processor(engine, rejects)
    old = [("isp-error", b"old reason"), ("isp-source-offset", b"3"), ("isp-consumer", b"isp-other")]
    assert await p.process(None, b"not json", old, topics.CONSENT) == "deadlettered"
    headers = producer.sent[0]["headers"]
    assert headers["isp-consumer"] == b"isp-test" and headers["isp-error"] != b"old reason"
    assert "isp-source-offset" not in headers  # no position given: none claimed
