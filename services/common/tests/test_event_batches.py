"""Consuming in batches gives the same outcomes and effects, in the same order, as one by one.

A batch commits runs of events in one transaction; an event whose handler fails must not take
the others with it, and events after it must still be applied after it (per-key order)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isp_common.consumer import EventProcessor, EventRejected, Outcome, PreparedBatch, in_turn
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.testing import RecordingDeadLetters, outbox_events
from isp_schemas import topics
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.people import Person
from sqlalchemy.engine import Engine

PERSON = Person(nhs_number="9434765919")
OTHER_TYPE = "uk.isp.consent.given.v1"  # a known type this processor has no handler for


def withdrawn(consent_id: str, event_id: str) -> bytes:
    data = ConsentWithdrawn(consent_id=consent_id, person=PERSON, withdrawn_on=date(2026, 11, 2))
    return CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=event_id).to_json_bytes()


def handler(uow: UnitOfWork, event: CloudEvent, data: ConsentWithdrawn) -> None:
    """Publishes one row per event; consent ids say how to misbehave."""
    if data.consent_id.startswith("fail"):
        raise RuntimeError("the handler failed")
    if data.consent_id.startswith("reject"):
        raise EventRejected("not for us")
    uow.publish(CloudEvent.create(type=event.type, source_org="CGL-WSX", data=data), topics.CONSENT)


def fresh() -> tuple[Engine, EventProcessor, RecordingDeadLetters]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    dead = RecordingDeadLetters()
    processor = EventProcessor(
        consumer_name="test:batches",
        handlers={ConsentWithdrawn.event_type: handler},
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=dead,  # type: ignore[arg-type]  # a fake with the one method the processor calls
        attempts=2,
        retry_delay=0.0,
    )
    return engine, processor, dead


def effects(engine: Engine) -> list[str]:
    """The consent ids of the published rows, in commit order."""
    return [event["data"]["consent_id"] for event in outbox_events(engine)]


KINDS = st.sampled_from(["ok", "ok", "ok", "fail", "reject", "garbage", "unhandled", "repeat"])


def messages_of(kinds: list[str]) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    out: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
    for i, kind in enumerate(kinds):
        if kind == "garbage":
            value = b"{not json"
        elif kind == "unhandled":
            data = EXAMPLES[OTHER_TYPE]
            value = CloudEvent.create(type=OTHER_TYPE, source_org="CGL-WSX", data=data, id=f"u{i}").to_json_bytes()
        elif kind == "repeat" and out:
            value = out[-1][1]  # the same event again
        else:
            prefix = {"fail": "fail", "reject": "reject"}.get(kind, "con")
            value = withdrawn(f"{prefix}-{i}", f"evt-{i}")
        out.append((b"key", value, []))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(KINDS, max_size=25))
async def test_a_batch_ends_exactly_as_one_by_one(kinds: list[str]) -> None:
    messages = messages_of(kinds)
    one_engine, one, one_dead = fresh()
    expected: list[Outcome] = [await one.process(k, v, h, topics.CONSENT) for k, v, h in messages]
    batch_engine, batch, batch_dead = fresh()
    assert await batch.process_batch(messages, topics.CONSENT) == expected
    assert ("unhandled" in kinds) <= ("skipped" in expected)
    assert effects(batch_engine) == effects(one_engine)
    assert batch_dead.reasons == one_dead.reasons


async def test_a_failing_event_is_dead_lettered_and_the_events_around_it_are_applied_in_order() -> None:
    engine, processor, dead = fresh()
    messages = [(b"k", withdrawn(cid, f"e{i}"), []) for i, cid in enumerate(["con-a", "fail-b", "con-c"])]
    outcomes = await processor.process_batch(messages, topics.CONSENT)
    assert outcomes == ["handled", "deadlettered", "handled"]
    assert effects(engine) == ["con-a", "con-c"]
    assert dead.reasons == ["handler failed after 2 attempts: RuntimeError"]


async def test_a_batch_redelivered_is_all_duplicates() -> None:
    engine, processor, _ = fresh()
    messages = [(b"k", withdrawn(f"con-{i}", f"e{i}"), []) for i in range(5)]
    assert await processor.process_batch(messages, topics.CONSENT) == ["handled"] * 5
    assert await processor.process_batch(messages, topics.CONSENT) == ["duplicate"] * 5
    assert len(effects(engine)) == 5


@pytest.mark.parametrize("size", [1, 50])
async def test_a_batch_commits_once(size: int) -> None:
    engine, processor, _ = fresh()
    commits: list[int] = []
    processor.uow_factory = lambda: _Counting(engine, commits)
    messages = [(b"k", withdrawn(f"con-{i}", f"e{i}"), []) for i in range(size)]
    assert await processor.process_batch(messages, topics.CONSENT) == ["handled"] * size
    assert len(commits) == 1


class _Counting(UnitOfWork):
    def __init__(self, engine: Engine, commits: list[int]) -> None:
        super().__init__(engine)
        self.commits = commits

    def commit(self) -> None:
        super().commit()
        self.commits.append(1)


def test_a_handler_errors_personal_data_never_reaches_the_dead_letter_reason():
    from isp_common.consumer import safe_error
    from isp_schemas.people import Person
    from pydantic import ValidationError
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    assert safe_error(KeyError("9434765919")) == "KeyError"
    try:
        Person(nhs_number="9434765918", given_name="Sam")  # a bad check digit
    except ValidationError as exc:
        reason = safe_error(exc)
    assert reason.startswith("ValidationError: nhs_number") and "9434765918" not in reason and "Sam" not in reason
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (nhs TEXT PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES ('9434765919')"))
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:nhs)"), {"nhs": "9434765919"})
    except IntegrityError as exc:
        reason = safe_error(exc)
        assert "9434765919" not in str(exc)  # hide_parameters: not in the exception either
    assert reason == "IntegrityError: IntegrityError: UNIQUE constraint failed: t.nhs"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(KINDS, max_size=25), cuts=st.lists(st.integers(min_value=1, max_value=6), max_size=8))
async def test_batches_prepared_while_the_one_before_is_finished_end_exactly_as_one_by_one(
    kinds: list[str], cuts: list[int]
) -> None:
    """As the services consume (``isp_common.runtime``): each batch prepared, then finished once the
    batch before it has finished, through :func:`isp_common.consumer.in_turn`."""
    messages = messages_of(kinds)
    one_engine, one, one_dead = fresh()
    expected: list[Outcome] = [await one.process(k, v, h, topics.CONSENT) for k, v, h in messages]
    batches, start = [], 0
    for cut in [*cuts, len(messages)]:
        if start < len(messages):
            batches.append(messages[start : start + cut])
            start += cut
    engine, processor, dead = fresh()
    outcomes: list[Outcome] = []

    async def each() -> AsyncIterator[list[Any]]:
        for batch in batches:
            yield batch

    async def prepare(batch: list[Any]) -> PreparedBatch:
        return await processor.prepare_batch(batch, topics.CONSENT)

    async def finish(_batch: list[Any], prepared: PreparedBatch) -> None:
        outcomes.extend(await processor.finish_batch(prepared, topics.CONSENT))

    await in_turn(each(), prepare, finish)
    assert outcomes == expected
    assert effects(engine) == effects(one_engine)
    assert dead.reasons == one_dead.reasons


async def test_preparing_a_batch_changes_nothing_until_it_is_finished() -> None:
    engine, processor, dead = fresh()
    messages = [(b"k", withdrawn(cid, f"e{i}"), []) for i, cid in enumerate(["con-a", "fail-b"])] + [(b"k", b"{", [])]
    prepared = await processor.prepare_batch(messages, topics.CONSENT)
    assert effects(engine) == [] and dead.reasons == []
    assert await processor.finish_batch(prepared, topics.CONSENT) == ["handled", "deadlettered", "deadlettered"]
    assert effects(engine) == ["con-a"] and len(dead.reasons) == 2
