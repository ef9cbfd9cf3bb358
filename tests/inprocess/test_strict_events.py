"""Strict events (issue 13), one test per consumed topic: every service reading a topic dead-letters
an event whose data has a field its schema lacks (the reason names the field's path, never its value),
and an event of a known type on a topic it does not belong on (the reason names the right topic),
instead of skipping it. The four services in one process, each consuming what it consumes in
production (its own bootstrap's subscriptions), joined by an InProcessBus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from isp_audit.bootstrap import build as build_audit
from isp_audit.settings import Settings as AuditSettings
from isp_common.consumer import Guarded, HandledElsewhere
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FakeHttpClient, InProcessBus, unique
from isp_notifications.bootstrap import build as build_notifications
from isp_notifications.settings import Settings as NotificationsSettings
from isp_referrals.bootstrap import build as build_referrals
from isp_referrals.settings import Settings as ReferralsSettings
from isp_register.bootstrap import build as build_register
from isp_register.settings import Settings as RegisterSettings
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.registry import EVENT_TYPES, topic_of

CONSUMED = [topics.TREATMENT, topics.SOCIALCARE, topics.REFERRALS, topics.CONSENT, topics.REGISTER, topics.AUDIT]
CONSUMED += [topics.DIRECTORY]
SECRET = "9434765919"
"""The mistyped field's value: an NHS number, which no dead-letter reason may carry."""


@pytest.fixture
def services(tmp_path: Path) -> list[ServiceRuntime]:
    shared: dict[str, Any] = {"var_dir": tmp_path, "handler_retry_delay": 0.0}
    return [
        build_referrals(ReferralsSettings(**shared), engine=make_engine("sqlite://")),
        build_notifications(
            NotificationsSettings(**shared), engine=make_engine("sqlite://"), http_client=FakeHttpClient()
        ),
        build_audit(AuditSettings(**shared), engine=make_engine("sqlite://")),
        build_register(RegisterSettings(**shared), engine=make_engine("sqlite://")),
    ]


def _readers(services: list[ServiceRuntime], topic: str) -> list[str]:
    return sorted(runtime.name for runtime in services if topic in runtime.processors)


def _handled_type(services: list[ServiceRuntime], topic: str) -> str:
    """A type of ``topic`` that some service reading it handles (so skipping it would lose it)."""
    handled = {t for runtime in services if topic in runtime.processors for t in runtime.processors[topic].handlers}
    return sorted(t for t in handled if EVENT_TYPES[t].topic == topic)[0]


def _skips_unvalidated(services: list[ServiceRuntime], name: str, topic: str, event_type: str, data: Any) -> bool:
    runtime = next(runtime for runtime in services if runtime.name == name)
    handler = runtime.processors[topic].handlers.get(event_type)
    return isinstance(handler, Guarded) and handler.ignores_raw(data)


async def _publish(services: list[ServiceRuntime], topic: str, event_type: str, data: dict[str, Any]) -> InProcessBus:
    bus = InProcessBus(services)
    event = CloudEvent.create(event_type, "CGL-WSX", data, id=unique("evt-strict-"))
    await bus.publish(event, topic, key=event.id)
    return bus


def test_every_consumed_topic_is_covered(services):
    assert sorted({topic for runtime in services for topic in runtime.processors}) == sorted(CONSUMED)


@pytest.mark.parametrize("topic", CONSUMED)
async def test_an_unknown_data_field_is_dead_lettered_naming_its_path(services, topic):
    event_type = _handled_type(services, topic)
    data = {**json.loads(json.dumps(EXAMPLES[event_type])), "consentId": SECRET}
    bus = await _publish(services, topic, event_type, data)
    # every reader but one whose guard skips the event on its raw data, unvalidated (referrals, for an
    # audit record about another alert): and at least one, so nothing is silently dropped (§4)
    expected = [
        name for name in _readers(services, topic) if not _skips_unvalidated(services, name, topic, event_type, data)
    ]
    assert expected
    assert sorted(name for name, outcome in bus.delivered if outcome == "deadlettered") == expected
    reasons = {reason for _, reason in bus.deadlettered}
    assert reasons == {"data.consentId: unknown field (not in the schema)"}
    assert SECRET not in json.dumps(sorted(reasons))


@pytest.mark.parametrize("topic", CONSUMED)
async def test_a_known_type_on_the_wrong_topic_is_dead_lettered_naming_the_right_topic(services, topic):
    event_type = "uk.isp.consent.withdrawn.v1" if topic != topics.CONSENT else "uk.isp.treatment.appointment.missed.v1"
    bus = await _publish(services, topic, event_type, EXAMPLES[event_type])
    assert sorted(name for name, outcome in bus.delivered if outcome == "deadlettered") == _readers(services, topic)
    assert {reason for _, reason in bus.deadlettered} == {
        f"event type {event_type!r} does not belong on topic {topic!r}; it belongs on {topic_of(event_type)!r}"
    }


def _left_elsewhere(services: list[ServiceRuntime]) -> list[tuple[str, str, str, str]]:
    """(service, topic, type, the service it is left to) for every type a service skips unvalidated
    because another handles it (:class:`HandledElsewhere`)."""
    return [
        (runtime.name, topic, event_type, handler.by)
        for runtime in services
        for topic, processor in runtime.processors.items()
        for event_type, handler in processor.handlers.items()
        if isinstance(handler, HandledElsewhere)
    ]


def test_a_type_left_to_another_service_is_validated_in_full_there(services):
    left = _left_elsewhere(services)
    # referrals reads back the news it publishes for notifications; notifications skips appointments
    assert {(name, topic, by) for name, topic, _, by in left} == {
        ("referrals", topics.REFERRALS, "notifications"),
        ("notifications", topics.TREATMENT, "referrals"),
    }
    names = {runtime.name for runtime in services}
    for name, topic, event_type, by in left:
        assert by in names and by != name, (name, event_type, by)
        there = next(runtime for runtime in services if runtime.name == by).processors[topic].handlers.get(event_type)
        # handled there, and not by a guard that could skip it unvalidated in its turn
        assert there is not None, (event_type, by)
        assert not (isinstance(there, Guarded) and there.irrelevant_data is not None), (event_type, by)


@pytest.mark.parametrize(
    "event_type",
    [
        "uk.isp.referral.assessment_missed.v1",
        "uk.isp.referral.accepted.v1",
        "uk.isp.treatment.appointment.missed.v1",
        "uk.isp.treatment.appointment.booked.v1",
    ],
)
async def test_a_malformed_event_left_to_another_service_is_dead_lettered_there_once(services, event_type):
    topic = topic_of(event_type)
    left = {(name, by) for name, t, e, by in _left_elsewhere(services) if (t, e) == (topic, event_type)}
    assert len(left) == 1
    [(skipper, handler)] = left
    data = {**json.loads(json.dumps(EXAMPLES[event_type])), "consentId": SECRET}
    bus = await _publish(services, topic, event_type, data)
    assert [name for name, outcome in bus.delivered if outcome == "deadlettered"] == [handler]
    assert (skipper, "skipped") in bus.delivered
    assert {reason for _, reason in bus.deadlettered} == {"data.consentId: unknown field (not in the schema)"}
