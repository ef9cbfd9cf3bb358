"""The in-process bus: services' outboxes drained into each other's event processors, the same
path a faust agent runs (parse, inbox, handler, dead-letter), with no broker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from isp_common.clock import FixedClock
from isp_common.consumer import EventRejected
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.settings import ServiceSettings
from isp_common.testing import InProcessBus, outbox_events
from isp_schemas import topics
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES

CONSENT_GIVEN = ConsentGiven.event_type
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def runtime_named(name: str, tmp_path: Path) -> ServiceRuntime:
    engine = make_engine("sqlite://")
    create_schema(engine)
    settings = ServiceSettings(service_name=name, var_dir=tmp_path, handler_retry_delay=0.0, handler_attempts=2)
    return ServiceRuntime(settings, title=name, engine=engine, clock=FixedClock(NOW))


def consent_event(**changes: Any) -> CloudEvent:
    data = ConsentGiven.model_validate({**EXAMPLES[CONSENT_GIVEN], **changes})
    return CloudEvent.create(type=CONSENT_GIVEN, source_org=data.recorded_by, data=data)


def disclosure_event() -> CloudEvent:
    data = DisclosureRecorded.model_validate(EXAMPLES[DisclosureRecorded.event_type])
    return CloudEvent.create(type=data.event_type, source_org=data.discloser, data=data)


def publish(runtime: ServiceRuntime, *events: tuple[CloudEvent, str]) -> None:
    with runtime.uow() as uow:
        for event, topic in events:
            uow.publish(event, topic)
        uow.commit()


@pytest.fixture
def sender(tmp_path: Path) -> ServiceRuntime:
    return runtime_named("sender", tmp_path)


@pytest.fixture
def receiver(tmp_path: Path) -> ServiceRuntime:
    return runtime_named("receiver", tmp_path)


async def test_an_event_reaches_every_runtime_subscribed_to_its_topic_once_and_is_marked_sent(
    sender: ServiceRuntime, receiver: ServiceRuntime
) -> None:
    seen: list[tuple[str, str]] = []

    def record(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        assert isinstance(data, ConsentGiven)
        seen.append((event.id, data.consent_id))

    receiver.subscribe(topics.CONSENT, {CONSENT_GIVEN: record})
    bus = InProcessBus([sender, receiver])
    event = consent_event(consent_id="con-bus-1")
    publish(sender, (event, topics.CONSENT))

    assert await bus.drain() == 1
    assert seen == [(event.id, "con-bus-1")]
    assert bus.delivered == [("receiver", "handled")]
    [sent] = outbox_events(sender.engine, sent=True)
    assert sent["id"] == event.id and outbox_events(sender.engine, sent=False) == []
    assert await bus.drain() == 0 and len(seen) == 1


async def test_what_a_handler_publishes_is_carried_on_in_the_same_drain(
    sender: ServiceRuntime, receiver: ServiceRuntime
) -> None:
    audited: list[str] = []

    def answer(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        uow.publish(disclosure_event(), topics.AUDIT)

    def audit(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        audited.append(event.type)

    receiver.subscribe(topics.CONSENT, {CONSENT_GIVEN: answer})
    sender.subscribe(topics.AUDIT, {DisclosureRecorded.event_type: audit})
    publish(sender, (consent_event(), topics.CONSENT))

    bus = InProcessBus([sender, receiver])
    assert await bus.drain() == 2
    assert audited == [DisclosureRecorded.event_type]
    assert bus.delivered == [("receiver", "handled"), ("sender", "handled")]


async def test_a_redelivered_event_is_a_duplicate_and_an_unhandled_type_is_skipped(
    sender: ServiceRuntime, receiver: ServiceRuntime
) -> None:
    calls: list[str] = []
    receiver.subscribe(topics.CONSENT, {CONSENT_GIVEN: lambda uow, event, data: calls.append(event.id)})
    event = consent_event()
    withdrawn = ConsentWithdrawn.model_validate(EXAMPLES[ConsentWithdrawn.event_type])
    other = CloudEvent.create(type=withdrawn.event_type, source_org="CGL-WSX", data=withdrawn)
    publish(sender, (event, topics.CONSENT), (event, topics.CONSENT), (other, topics.CONSENT))

    bus = InProcessBus([sender, receiver])
    assert await bus.drain() == 3
    assert calls == [event.id]
    assert [outcome for _, outcome in bus.delivered] == ["handled", "duplicate", "skipped"]


async def test_a_rejected_or_failing_event_is_dead_lettered_with_its_reason_and_the_drain_goes_on(
    sender: ServiceRuntime, receiver: ServiceRuntime
) -> None:
    def refuse(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        if data.consent_id == "con-rejected":
            raise EventRejected("not this one")
        raise RuntimeError("the database is on fire")

    receiver.subscribe(topics.CONSENT, {CONSENT_GIVEN: refuse})
    publish(
        sender,
        (consent_event(consent_id="con-rejected"), topics.CONSENT),
        (consent_event(consent_id="con-failing"), topics.CONSENT),
    )

    bus = InProcessBus([sender, receiver])
    assert await bus.drain() == 2
    assert [outcome for _, outcome in bus.delivered] == ["deadlettered", "deadlettered"]
    assert bus.deadlettered == [
        (topics.DEADLETTER, "rejected: not this one"),
        (topics.DEADLETTER, "handler failed after 2 attempts: RuntimeError"),
    ]


async def test_an_event_nobody_consumes_is_marked_sent_and_counted(sender: ServiceRuntime) -> None:
    publish(sender, (disclosure_event(), topics.AUDIT))
    bus = InProcessBus([sender])
    assert await bus.drain() == 1 and bus.delivered == []
    assert outbox_events(sender.engine, sent=False) == []


async def test_a_drain_that_never_settles_fails_instead_of_spinning(
    sender: ServiceRuntime, receiver: ServiceRuntime
) -> None:
    def echo(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        uow.publish(consent_event(), topics.CONSENT)  # every consent makes another one

    receiver.subscribe(topics.CONSENT, {CONSENT_GIVEN: echo})
    publish(sender, (consent_event(), topics.CONSENT))
    with pytest.raises(AssertionError, match="still not empty after 3 rounds"):
        await InProcessBus([sender, receiver]).drain(max_rounds=3)


async def test_a_partners_event_is_delivered_then_everything_it_causes(
    sender: ServiceRuntime, receiver: ServiceRuntime
) -> None:
    def answer(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        uow.publish(disclosure_event(), topics.AUDIT)

    receiver.subscribe(topics.CONSENT, {CONSENT_GIVEN: answer})
    bus = InProcessBus([sender, receiver])
    partners = consent_event()
    assert await bus.publish(partners, topics.CONSENT) == 2
    assert bus.delivered == [("receiver", "handled")]
    assert [e["id"] for e in bus.events(topics.CONSENT)] == [partners.id]
    assert [e["type"] for e in bus.events()] == [CONSENT_GIVEN, DisclosureRecorded.event_type]
    assert bus.events(type=DisclosureRecorded.event_type) == bus.events(topics.AUDIT)
    assert bus.events(topics.AUDIT, CONSENT_GIVEN) == []
