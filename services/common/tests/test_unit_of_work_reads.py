"""The unit of work's speed-ups keep what a query would see (issue 12).

Outbox rows and inbox marks are written with one INSERT each at the commit, yet a query of them in
the same transaction finds them; a memo of reads is emptied whenever the transaction changes what
it holds; a key noted absent is looked up again once the transaction adds it; and a consumer's
read-ahead runs once per batch and can never stop the batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from isp_common.consumer import EventProcessor
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.tables import OutboxMessage, ProcessedEvent, QuarantinedOutboxMessage
from isp_common.testing import RecordingDeadLetters
from isp_schemas import topics
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from sqlalchemy import delete, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

PERSON = Person(nhs_number="9434765919")


@pytest.fixture
def engine(tmp_path: Any) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path}/uow.db")
    create_schema(e)
    return e


@pytest.fixture
def either_engine(sqlite_or_postgres_url: str) -> Iterator[Engine]:
    """A migrated engine on SQLite, then on PostgreSQL."""
    e = make_engine(sqlite_or_postgres_url)
    create_schema(e)
    yield e
    e.dispose()


def event(event_id: str = "evt-1") -> CloudEvent:
    data = ConsentWithdrawn(consent_id="con-1", person=PERSON, withdrawn_on=date(2026, 11, 2))
    return CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=event_id)


def held(engine: Engine) -> tuple[list[str], list[str]]:
    with Session(engine) as session:
        outbox = [row.event_id for row in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))]
        inbox = [row.event_id for row in session.exec(select(ProcessedEvent))]
    return outbox, inbox


def test_outbox_rows_and_inbox_marks_are_written_at_the_commit_in_order(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        for n in range(3):
            uow.publish(event(f"e{n}"), topics.CONSENT)
            uow.mark_processed("c", f"in{n}", "t")
        assert held(engine) == ([], [])  # nothing written before the commit
        uow.commit()
    assert held(engine) == (["e0", "e1", "e2"], ["in0", "in1", "in2"])


def test_a_query_of_the_outbox_or_inbox_in_the_same_transaction_finds_what_is_pending(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.publish(event("e1"), topics.CONSENT)
        uow.mark_processed("c", "in1")
        assert uow.already_processed("c", "in1")
        assert uow.processed_among("c", ["in1", "other"]) == {"in1"}
        found = uow.session.exec(select(OutboxMessage).where(OutboxMessage.event_id == "e1")).all()
        assert [row.event_id for row in found] == ["e1"]
        uow.commit()
    assert held(engine) == (["e1"], ["in1"])  # written once, not twice


def test_a_query_of_another_table_leaves_them_pending_and_text_writes_them(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.publish(event("e1"), topics.CONSENT)
        uow.session.exec(select(QuarantinedOutboxMessage)).all()
        assert uow.session.pending(OutboxMessage)  # not needed by that query
        assert uow.session.execute(text("SELECT count(*) FROM outbox_message")).scalar() == 1  # unknown tables
        uow.commit()


def test_rolled_back_rows_are_never_written(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.publish(event("e1"), topics.CONSENT)
        uow.mark_processed("c", "in1")
        uow.rollback()
        uow.commit()
    with UnitOfWork(engine) as uow:
        uow.publish(event("e2"), topics.CONSENT)  # left without commit
    assert held(engine) == ([], [])


def test_the_memo_is_emptied_by_a_change_to_a_watched_table(engine: Engine) -> None:
    watched = (OutboxMessage,)
    with UnitOfWork(engine) as uow:
        memo = uow.session.memo(watched)
        memo["k"] = 1
        assert uow.session.memo(watched) == {"k": 1}
        uow.session.add(
            QuarantinedOutboxMessage(
                outbox_id=1, topic="t", event_id="x", event_type="t", value=b"", created_at=uow_now(), reason="r"
            )
        )
        assert uow.session.memo(watched) == {"k": 1}  # another table: kept
        uow.session.add(OutboxMessage(topic="t", event_id="x", event_type="t", value=b""))
        assert uow.session.memo(watched) == {}  # pending change to a watched table
        uow.session.memo(watched)["k"] = 2
        uow.session.flush()
        assert uow.session.memo(watched) == {}  # the flush wrote one
        uow.session.memo(watched)["k"] = 3
        row = uow.session.exec(select(OutboxMessage)).first()
        assert row is not None
        row.topic = "changed"
        assert uow.session.memo(watched) == {}  # a dirty row
        uow.session.flush()
        uow.session.memo(watched)["k"] = 4
        uow.session.exec(delete(QuarantinedOutboxMessage))
        assert uow.session.memo(watched) == {}  # any DELETE, UPDATE or INSERT statement
        uow.session.memo(watched)["k"] = 5
        uow.commit()
        assert uow.session.memo(watched) == {}  # the next transaction reads afresh


def test_the_memo_is_emptied_by_a_change_made_after_it_was_found_clean(engine: Engine) -> None:
    """The session's changes are looked through again only when they may have changed since the
    memo was last found clean: each kind of change after such a check still empties it."""
    watched = (OutboxMessage,)
    with UnitOfWork(engine) as uow:
        uow.session.add_all(
            [
                OutboxMessage(topic="t", event_id="a", event_type="t", value=b""),
                QuarantinedOutboxMessage(
                    outbox_id=1, topic="t", event_id="q", event_type="t", value=b"", created_at=uow_now(), reason="r"
                ),
            ]
        )
        uow.commit()
    with UnitOfWork(engine) as uow:
        other = uow.session.exec(select(QuarantinedOutboxMessage)).one()
        row = uow.session.exec(select(OutboxMessage)).one()
        uow.session.memo(watched)["k"] = 1
        other.reason = "changed"  # another table's row dirtied: looked at, kept
        assert uow.session.memo(watched) == {"k": 1}
        assert uow.session.memo(watched) == {"k": 1}  # nothing changed since: not looked at again
        uow.session.expire(other)  # no longer dirty: one modified object fewer...
        row.topic = "changed"  # ...and one more, of a watched table
        assert uow.session.memo(watched) == {}
        uow.session.flush()
        uow.session.memo(watched)["k"] = 2
        uow.session.insert_later(OutboxMessage, {"topic": "t", "event_id": "b", "event_type": "t", "value": b""})
        uow.session.write_pending()  # written before any look at the memo
        assert uow.session.memo(watched) == {}
        uow.session.memo(watched)["k"] = 3
        uow.session.delete(row)
        assert uow.session.memo(watched) == {}


def test_a_row_held_to_insert_empties_the_memos_of_its_table_only(engine: Engine) -> None:
    """``insert_later`` empties the memos of the row's table at once, and leaves the others (it is
    not a change that has every memo look through the session's changes again)."""
    with UnitOfWork(engine) as uow:
        uow.session.memo((OutboxMessage,))["k"] = 1
        uow.session.memo((ProcessedEvent,))["k"] = 2
        uow.session.insert_later(OutboxMessage, {"topic": "t", "event_id": "a", "event_type": "t", "value": b""})
        assert uow.session.memo((OutboxMessage,)) == {}
        assert uow.session.memo((ProcessedEvent,)) == {"k": 2}
        uow.session.memo((OutboxMessage,))["k"] = 3  # read again (its query writes the row first)
        uow.session.insert_later(OutboxMessage, {"topic": "t", "event_id": "b", "event_type": "t", "value": b""})
        assert uow.session.memo((OutboxMessage,)) == {}
        uow.mark_processed("c", "e1", "t")
        assert uow.session.memo((ProcessedEvent,)) == {}


def test_rows_held_before_a_savepoint_outlive_its_rollback(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.publish(event("evt-before"), topics.CONSENT)
        savepoint = uow.session.begin_nested()
        uow.publish(event("evt-inside"), topics.CONSENT)
        assert len(uow.session.exec(select(OutboxMessage)).all()) == 2  # the query writes what is held
        savepoint.rollback()
        uow.commit()
    assert held(engine)[0] == ["evt-before"]


def uow_now() -> Any:
    from isp_common.times import utcnow

    return utcnow()


def test_a_key_noted_absent_is_asked_again_once_the_transaction_adds_it(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.session.known_absent(ProcessedEvent, [("c", "e1"), ("c", "e2")])
        with uow.session.no_autoflush:
            assert uow.session.get_known(ProcessedEvent, ("c", "e1")) is None
        mark = ProcessedEvent(consumer="c", event_id="e1", event_type="t")
        uow.session.add(mark)
        assert uow.session.get_known(ProcessedEvent, ("c", "e1")) is mark
        assert uow.session.get_known(ProcessedEvent, ("c", "e2")) is None


def test_a_key_already_pending_is_never_noted_absent(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        mark = ProcessedEvent(consumer="c", event_id="e1", event_type="t")
        uow.session.add(mark)
        uow.session.known_absent(ProcessedEvent, [("c", "e1")])
        assert uow.session.get_known(ProcessedEvent, ("c", "e1")) is mark


def test_what_was_noted_absent_is_forgotten_at_the_commit(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.session.known_absent(ProcessedEvent, [("c", "e1")])
        uow.commit()
    with Session(engine) as other:
        other.add(ProcessedEvent(consumer="c", event_id="e1", event_type="t"))
        other.commit()
    with UnitOfWork(engine) as uow:
        assert uow.session.get_known(ProcessedEvent, ("c", "e1")) is not None


def _processor(engine: Engine, prefetch: Any) -> EventProcessor:
    def handler(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        uow.publish(CloudEvent.create(type=event.type, source_org="CGL-WSX", data=data), topics.CONSENT)

    return EventProcessor(
        consumer_name="test:consent",
        handlers={ConsentWithdrawn.event_type: handler},
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=RecordingDeadLetters(),  # type: ignore[arg-type]
        retry_delay=0.0,
        prefetch=prefetch,
    )


async def test_read_ahead_sees_each_batch_once_without_what_was_processed(engine: Engine) -> None:
    seen: list[list[str]] = []
    processor = _processor(engine, lambda uow, events: seen.append([e.id for e, _data in events]))
    assert await processor.process_batch([(None, event("a").to_json_bytes(), [])], topics.CONSENT) == ["handled"]
    batch = [(None, event(i).to_json_bytes(), []) for i in ("a", "b", "c")]
    assert await processor.process_batch(batch, topics.CONSENT) == ["duplicate", "handled", "handled"]
    assert seen == [["a"], ["b", "c"]]


async def test_a_failing_read_ahead_never_stops_the_batch(engine: Engine, caplog: Any) -> None:
    def broken(uow: UnitOfWork, events: Any) -> None:
        uow.session.execute(text("SELECT * FROM no_such_table"))

    processor = _processor(engine, broken)
    batch = [(None, event(i).to_json_bytes(), []) for i in ("a", "b")]
    assert await processor.process_batch(batch, topics.CONSENT) == ["handled", "handled"]
    assert len(held(engine)[0]) == 2
    assert "reading ahead failed (OperationalError" in caplog.text


def test_kept_objects_are_found_without_a_query_until_the_transaction_ends(engine: Engine) -> None:
    import gc

    from sqlalchemy import event as sa_event

    with Session(engine) as other:
        other.add(ProcessedEvent(consumer="c", event_id="e1", event_type="t"))
        other.commit()
    queries: list[object] = []
    with UnitOfWork(engine) as uow:
        sa_event.listen(uow.session, "do_orm_execute", queries.append)
        uow.session.keep(uow.session.exec(select(ProcessedEvent)).all())
        gc.collect()
        assert uow.session.get(ProcessedEvent, ("c", "e1")) is not None
        assert len(queries) == 1  # the read-ahead's only
        uow.commit()
        gc.collect()
        uow.session.get(ProcessedEvent, ("c", "e1"))
        assert len(queries) == 2  # let go at the commit: asked again


def test_a_key_noted_absent_and_then_inserted_later_is_found(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.session.known_absent(ProcessedEvent, [("c", "e1")])
        uow.mark_processed("c", "e1", "t")  # insert_later of the inbox
        uow.publish(event("x"), topics.CONSENT)  # a row whose key the database assigns
        found = uow.session.get_known(ProcessedEvent, ("c", "e1"))
        assert found is not None and found.event_type == "t"


def test_a_row_inserted_later_gets_the_defaults_a_new_object_would(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.session.insert_later(OutboxMessage, {"topic": "t", "event_id": "e1", "event_type": "t", "value": b"v"})
        uow.session.insert_later(OutboxMessage, {"topic": "t", "event_id": "e2", "event_type": "t", "value": b"v"})
        uow.commit()
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        assert [(r.id, r.key, r.sent_at) for r in rows] == [(1, None, None), (2, None, None)]
        assert all(r.created_at is not None for r in rows)


async def test_an_event_a_guarded_handler_ignores_is_skipped_unchecked_and_unmarked(engine: Engine) -> None:
    from isp_common.consumer import Guarded

    checked: list[str] = []
    handled: list[str] = []

    def handler(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        handled.append(event.id)

    def provenance(value: bytes, headers: Any, envelope: CloudEvent) -> str:
        checked.append(envelope.id)
        return "unsigned"

    processor = EventProcessor(
        consumer_name="test:guarded",
        handlers={ConsentWithdrawn.event_type: Guarded(handler, lambda event, data: event.id.startswith("wanted"))},
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=RecordingDeadLetters(),  # type: ignore[arg-type]
        provenance=provenance,
    )
    batch = [(None, event(i).to_json_bytes(), []) for i in ("wanted-1", "other", "wanted-2")]
    assert await processor.process_batch(batch, topics.CONSENT) == ["handled", "skipped", "handled"]
    assert await processor.process(None, event("other-2").to_json_bytes(), [], topics.CONSENT) == "skipped"
    assert checked == handled == ["wanted-1", "wanted-2"]
    with UnitOfWork(engine) as uow:
        assert uow.processed_among("test:guarded", ["wanted-1", "other", "wanted-2", "other-2"]) == {
            "wanted-1",
            "wanted-2",
        }


async def test_an_event_a_guarded_handler_tells_from_its_raw_data_it_ignores_is_skipped_unvalidated(
    engine: Engine,
) -> None:
    """``irrelevant_data`` skips an event on its raw data, before it is validated (a malformed one
    too); what it lets through is validated and asked ``relevant`` as before."""
    import json

    from isp_common.consumer import Guarded

    handled: list[str] = []
    dead = RecordingDeadLetters()

    def handler(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        handled.append(event.id)

    def raw(event_id: str, consent_id: str, *, malformed: bool = False) -> bytes:
        document = event(event_id).model_dump(mode="json")
        document["data"]["consent_id"] = consent_id
        if malformed:
            document["data"]["withdrawn_on"] = "not a date"
        return json.dumps(document).encode()

    processor = EventProcessor(
        consumer_name="test:guarded-raw",
        handlers={
            ConsentWithdrawn.event_type: Guarded(
                handler,
                lambda event, data: data.consent_id.startswith("con-wanted"),
                lambda data: not data["consent_id"].startswith("con-"),  # raises on a record without one
            )
        },
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=dead,  # type: ignore[arg-type]
    )
    batch = [
        (None, raw("e1", "con-wanted-1"), []),
        (None, raw("e2", "other", malformed=True), []),  # skipped on its raw data: never validated
        (None, raw("e3", "con-other"), []),  # let through, validated, then not relevant
        (None, raw("e4", "con-wanted-2", malformed=True), []),  # let through and validated: dead-lettered
        (None, raw("e5", "con-x").replace(b'"consent_id"', b'"consentid"'), []),  # the check raises: validated
    ]
    outcomes = ["handled", "skipped", "skipped", "deadlettered", "deadlettered"]
    assert await processor.process_batch(batch, topics.CONSENT) == outcomes
    assert handled == ["e1"]
    assert len(dead.sent) == 2 and "withdrawn_on" in dead.sent[0]["reason"] and "consentid" in dead.sent[1]["reason"]


def test_a_json_column_takes_what_json_dumps_takes() -> None:
    """JSON columns are written with orjson; an integer over 64 bits, or keys that are not
    strings, are written as json.dumps writes them."""
    import json

    from isp_common.db import _json_text

    for value in ({"a": [1, "é"]}, {"big": 2**70}, {1: "b"}):
        assert json.loads(_json_text(value)) == json.loads(json.dumps(value))


def test_processed_among_finds_a_batchs_marks_beyond_one_in_list_on_either_database(either_engine: Engine) -> None:
    from isp_common.db import IN_LIST_SIZE

    marked = [f"ev-{i}" for i in range(0, 2 * IN_LIST_SIZE + 10, 2)]  # every other id of the batch
    with UnitOfWork(either_engine) as uow:
        for event_id in marked:
            uow.mark_processed("c", event_id, "t")
        uow.mark_processed("other-consumer", "ev-1", "t")  # another consumer's mark is not this one's
        uow.commit()
    batch = [f"ev-{i}" for i in range(2 * IN_LIST_SIZE + 10)]
    with UnitOfWork(either_engine) as uow:
        assert uow.processed_among("c", batch) == set(marked)
        assert uow.processed_among("c", []) == set()
        uow.mark_processed("c", "ev-1", "t")  # pending: written before the lookup reads
        assert uow.processed_among("c", ["ev-1", "ev-3"]) == {"ev-1"}


def test_load_reads_rows_by_key_beyond_one_in_list_keeps_them_and_notes_the_rest_absent(
    either_engine: Engine,
) -> None:
    from isp_common.db import IN_LIST_SIZE
    from sqlalchemy import event as sa_event

    with UnitOfWork(either_engine) as uow:
        for i in range(IN_LIST_SIZE + 5):
            uow.publish(event(f"e{i}"), topics.CONSENT)
        uow.commit()
    with Session(either_engine) as session:
        ids = sorted(row.id for row in session.exec(select(OutboxMessage)))
    absent = [max(ids) + 1, max(ids) + 2]
    with UnitOfWork(either_engine) as uow:
        found = uow.session.load(OutboxMessage, [*ids, *absent, ids[0]])
        assert sorted(row.id for row in found) == ids  # two IN lists' worth, each once
        queries: list[object] = []
        sa_event.listen(uow.session, "do_orm_execute", queries.append)
        assert uow.session.get(OutboxMessage, ids[-1]) is not None
        assert uow.session.get_known(OutboxMessage, absent[0]) is None
        assert queries == []  # found kept, the others known absent: nothing asked again
