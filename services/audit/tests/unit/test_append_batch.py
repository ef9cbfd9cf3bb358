"""Appending in batches: records are built by the fast path exactly as by the reference encoder,
the chain's head is read once per transaction and kept right by every append in it, and a batch
of disclosure records (and of alerts noted by the ledger) ends exactly as one by one."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isp_audit import handlers
from isp_audit.domain import chain
from isp_audit.domain.records import build_row, chained_row
from isp_audit.handlers import alert_delivered, append_disclosure, by_topic
from isp_audit.ledger import AlertsLedger
from isp_audit.tables import AlertSeen, DisclosureRecord
from isp_audit.verify import verify
from isp_common.clock import FixedClock
from isp_common.consumer import EventProcessor
from isp_common.db import UnitOfWork
from isp_common.testing import RecordingDeadLetters
from isp_schemas import topics
from isp_schemas.alerts import DidNotAttendAlert
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..kit import NOW, START, audit_engine, disclosure

texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)), max_size=12)
maybe = st.none() | texts
bases = st.one_of(
    st.none(),
    st.builds(lambda c: {"kind": "consent", "consent_id": c}, texts),
    st.builds(lambda g: {"kind": "statutory", "ground": g}, texts),
    st.builds(lambda by, r: {"kind": "professional_judgement", "by": by, "reason": r}, texts, texts),
)


@settings(max_examples=300, deadline=None)
@given(
    strings=st.fixed_dictionaries(
        {
            name: maybe
            for name in (
                "alert_id",
                "alert_type",
                "channel",
                "decision",
                "discloser",
                "id",
                "purpose",
                "recipient",
                "shared_at",
                "source_event_id",
                "trace_id",
                "supersedes",
                "provenance",
                "person",
                "not_informed_reason",
                "reason",
            )
        }
    ),
    basis=bases,
    informed=st.sampled_from([None, True, False]),
    categories=st.lists(texts, max_size=3),
    children=st.none() | st.lists(st.fixed_dictionaries({"local_id": texts}, optional={"date_of_birth": texts})),
    seq=st.integers(1, 10**12),
    prev_hash=st.sampled_from([chain.GENESIS, "ab" * 32]),
)
def test_the_fast_row_is_the_reference_row(strings, basis, informed, categories, children, seq, prev_hash):
    values = {
        **strings,
        "lawful_basis": basis,
        "service_user_informed": informed,
        "data_categories": categories,
        "children": children,
    }
    args = (seq, prev_hash, values, "2025-11-03T10:00:01.000000Z", "5a" * 32)
    assert chained_row(*args) == build_row(*args)


@pytest.mark.parametrize(
    "odd",
    [
        {"service_user_informed": 1},  # not a bool: JSON 1, not true
        {"person": 9434765919},  # not a string
        {"reason": "\ud800"},  # a lone surrogate: the reference's error
        {"data_categories": ["\udfff"]},
    ],
)
def test_values_outside_the_schema_get_the_reference_result_or_its_error(odd):
    values = {**handlers.disclosure_values(disclosure()), **odd}
    args = (1, chain.GENESIS, values, "2025-11-03T10:00:01.000000Z", "5a" * 32)
    try:
        expected: Any = build_row(*args)
    except Exception as exc:  # the reference's own failure is the one to keep
        with pytest.raises(type(exc)):
            chained_row(*args)
    else:
        assert chained_row(*args) == expected


def chain_rows(engine: Engine) -> list[DisclosureRecord]:
    with Session(engine) as session:
        return list(session.exec(select(DisclosureRecord).order_by(DisclosureRecord.seq)))


def test_many_appends_in_one_transaction_chain_each_after_the_last():
    engine = audit_engine()
    with UnitOfWork(engine) as uow:
        for i in range(20):
            assert append_disclosure(uow, disclosure(shared_at=START + timedelta(minutes=i)), NOW) is not None
        uow.commit()
    rows = chain_rows(engine)
    assert [r.seq for r in rows] == list(range(1, 21))
    assert [r.prev_hash for r in rows] == [chain.GENESIS] + [r.hash for r in rows[:-1]]
    assert verify(engine, [], None).ok


def test_the_head_is_read_again_after_a_rollback_a_savepoint_or_a_commit(tmp_path):
    engine = audit_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    with UnitOfWork(engine) as uow:
        append_disclosure(uow, disclosure(), NOW)
        uow.rollback()  # the append is gone: the next is record 1 again
        assert append_disclosure(uow, disclosure(), NOW).seq == 1  # type: ignore[union-attr]
        savepoint = uow.session.begin_nested()
        append_disclosure(uow, disclosure(), NOW)  # record 2, in the savepoint ...
        savepoint.rollback()  # ... undone
        assert append_disclosure(uow, disclosure(), NOW).seq == 2  # type: ignore[union-attr]
        with uow.session.begin_nested():
            assert append_disclosure(uow, disclosure(), NOW).seq == 3  # type: ignore[union-attr]
        assert append_disclosure(uow, disclosure(), NOW).seq == 4  # type: ignore[union-attr]
        uow.commit()
        with UnitOfWork(engine) as other:  # another writer appends between this one's transactions
            append_disclosure(other, disclosure(), NOW)
            other.commit()
        assert append_disclosure(uow, disclosure(), NOW).seq == 6  # type: ignore[union-attr]
        uow.commit()
    assert [r.seq for r in chain_rows(engine)] == [1, 2, 3, 4, 5, 6]
    assert verify(engine, [], None).ok


def test_the_same_share_twice_in_one_transaction_is_recorded_once():
    engine = audit_engine()
    share = disclosure()
    with UnitOfWork(engine) as uow:
        assert append_disclosure(uow, share, NOW) is not None
        assert append_disclosure(uow, disclosure(shared_at=START), NOW) is not None
        assert append_disclosure(uow, share, NOW) is None  # recorded earlier in this transaction
        received = disclosure(alert_id=share.alert_id, decision="received", channel="api")
        assert append_disclosure(uow, received, NOW).seq == 3  # type: ignore[union-attr]
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert append_disclosure(uow, share, NOW) is None  # recorded before this transaction
        uow.commit()
    assert [(r.seq, r.alert_id, r.decision) for r in chain_rows(engine)][::2] == [
        (1, share.alert_id, "shared"),
        (3, share.alert_id, "received"),
    ]
    assert verify(engine, [], None).ok


def audit_event(data: DisclosureRecorded, event_id: str) -> bytes:
    event = CloudEvent.create(type=data.event_type, source_org=data.discloser, data=data, id=event_id)
    return event.to_json_bytes()


def processor(engine: Engine) -> tuple[EventProcessor, RecordingDeadLetters]:
    dead = RecordingDeadLetters()
    clock = FixedClock(NOW)
    return (
        EventProcessor(
            consumer_name=f"audit:{topics.AUDIT}",
            handlers=by_topic(clock)[topics.AUDIT],
            uow_factory=lambda: UnitOfWork(engine),
            deadletters=dead,  # type: ignore[arg-type]  # the one method the processor calls
            attempts=2,
            retry_delay=0.0,
        ),
        dead,
    )


def stored(engine: Engine) -> list[tuple[Any, ...]]:
    return [tuple(r.model_dump().values()) for r in chain_rows(engine)]


async def test_a_batch_of_disclosure_records_ends_exactly_as_one_by_one(monkeypatch):
    monkeypatch.setattr(chain, "new_salt", lambda: "11" * 32)  # the same salts both ways, to compare rows
    build = handlers.chained_row

    def failing(seq: int, prev_hash: str, values: dict[str, Any], *rest: Any) -> dict[str, Any]:
        if values["alert_id"].startswith("fail-"):
            raise RuntimeError("cannot chain this one")
        return build(seq, prev_hash, values, *rest)

    monkeypatch.setattr(handlers, "chained_row", failing)
    shares = [disclosure(shared_at=START + timedelta(minutes=i)) for i in range(6)]
    judged = {"kind": "professional_judgement", "by": "dsl-7", "reason": "At risk"}
    data = [
        *shares[:3],
        disclosure(alert_id=shares[1].alert_id),  # the same share again, under another event id
        disclosure(alert_id="fail-1"),
        disclosure(alert_id=shares[0].alert_id, decision="received", channel="api"),
        disclosure(lawful_basis=judged, supersedes="w-1", provenance="signed"),
        *shares[3:],
    ]
    messages = [(b"key", audit_event(d, f"evt-{i}"), []) for i, d in enumerate(data)]
    messages.append(messages[2])  # an event redelivered

    one_engine, batch_engine = audit_engine(), audit_engine()
    one, one_dead = processor(one_engine)
    expected = [await one.process(k, v, h, topics.AUDIT) for k, v, h in messages]
    batch, batch_dead = processor(batch_engine)
    assert await batch.process_batch(messages, topics.AUDIT) == expected
    assert expected.count("handled") == 9 and expected[4] == "deadlettered" and expected[-1] == "duplicate"
    assert batch_dead.reasons == one_dead.reasons
    assert stored(batch_engine) == stored(one_engine)
    assert [r.seq for r in chain_rows(batch_engine)] == list(range(1, 9))
    assert verify(batch_engine, [], None).ok


def alert_message(alert_id: str, *, event_type: str = DidNotAttendAlert.event_type, sender: str = "CGL-WSX") -> bytes:
    data = {**EXAMPLES[DidNotAttendAlert.event_type], "alert_id": alert_id, "sender_org": sender}
    return CloudEvent.create(type=event_type, source_org=sender, data=data, time=START).to_json_bytes()


class TickingClock:
    """A clock that moves on a second each time it is read (which read noted which alert shows)."""

    def __init__(self) -> None:
        self.ticks = itertools.count()

    def now(self) -> datetime:
        return NOW + timedelta(seconds=next(self.ticks))


def note_one_by_one(uow: UnitOfWork, topic: str, value: bytes | None, now: datetime) -> None:
    """What the ledger did for each message before it noted a batch at once (ORM, flushed each)."""
    try:
        event = CloudEvent.from_json_bytes(value or b"")
    except ValidationError:
        return
    recipient = topics.alerts_org(topic)
    if recipient is None or not event.type.startswith("uk.isp.alert."):
        return
    alert_id = event.data.get("alert_id") or event.id
    if uow.session.get(AlertSeen, (alert_id, recipient)) is None:
        basis = event.data.get("lawful_basis")
        uow.session.add(
            AlertSeen(
                alert_id=alert_id,
                recipient=recipient,
                type=event.type,
                sender_org=event.data.get("sender_org") or event.source_org,
                basis=basis.get("kind") if isinstance(basis, dict) else None,
                event_time=chain.utc_text(event.time),
                seen_at=chain.utc_text(now),
            )
        )
    uow.session.flush()


def seen(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.exec(select(AlertSeen).order_by(AlertSeen.alert_id, AlertSeen.recipient))
        return [tuple(r.model_dump().values()) for r in rows]


def test_the_ledger_notes_a_batch_exactly_as_one_alert_at_a_time():
    csc, provider = topics.alerts("WSCC-CSC"), topics.alerts("CGL-WSX")
    messages: list[tuple[str, bytes | None]] = [
        (csc, alert_message("a-1")),
        (csc, alert_message("a-2", sender="WSCC-CSC")),
        (provider, alert_message("a-1")),  # the same alert to another recipient: a row of its own
        (csc, b"{not json"),  # unreadable: skipped
        (csc, alert_message("a-1", sender="OTHER-ORG")),  # seen already: the first row stays
        (csc, None),
        (csc, alert_message("a-3", event_type="uk.isp.referral.assessment_missed.v1")),  # not an alert
        (topics.AUDIT, alert_message("a-4")),  # not an alerts topic
        (csc, alert_message("before")),  # noted in an earlier batch: that row stays
        (csc, alert_message("a-5")),
    ]
    one_engine, batch_engine = audit_engine(), audit_engine()
    for engine in (one_engine, batch_engine):
        with UnitOfWork(engine) as uow:
            event = CloudEvent.from_json_bytes(alert_message("before", sender="EARLIER-ORG"))
            assert alert_delivered(uow, csc, event, NOW - timedelta(days=1))
            uow.commit()
    one_clock = TickingClock()
    with UnitOfWork(one_engine) as uow:
        for topic, value in messages:
            note_one_by_one(uow, topic, value, one_clock.now())
        uow.commit()
    with UnitOfWork(batch_engine) as uow:
        AlertsLedger.note_all(uow, messages, TickingClock())
        uow.commit()
    assert seen(batch_engine) == seen(one_engine)
    with Session(batch_engine) as session:
        senders = {(r.alert_id, r.recipient): r.sender_org for r in session.exec(select(AlertSeen))}
    assert set(senders) == {(a, "WSCC-CSC") for a in ("a-1", "a-2", "a-5", "before")} | {("a-1", "CGL-WSX")}
    assert senders[("a-1", "WSCC-CSC")] == "CGL-WSX"  # the first sighting's
    assert senders[("before", "WSCC-CSC")] == "EARLIER-ORG"


def reading_ahead(engine: Engine) -> EventProcessor:
    """The processor as the service runs it: each run of events read ahead (:data:`handlers.READ_AHEAD`)."""
    batch, _ = processor(engine)
    batch.prefetch = handlers.READ_AHEAD[topics.AUDIT]
    return batch


ALERTS = [f"alert-{i}" for i in range(4)]
RECIPIENTS = ["WSCC-CSC", "CGL-WSX"]
DECISIONS = ["shared", "withheld", "received"]


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.sampled_from(ALERTS), st.sampled_from(RECIPIENTS), st.sampled_from(DECISIONS), st.booleans()),
        min_size=1,
        max_size=24,
    ),
    cuts=st.lists(st.integers(1, 24), max_size=4),
)
def test_runs_read_ahead_record_every_share_once_as_one_by_one(picks, cuts):
    """Shares in any order, repeated within a run and across runs (under new event ids, or the same event
    redelivered), cut into runs anywhere: read ahead, each run's new records written together at its
    commit, the chain ends exactly as when each event is processed on its own."""
    messages: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    for i, (alert_id, recipient, decision, redelivered) in enumerate(picks):
        if redelivered and messages:
            messages.append(messages[i // 2])
            continue
        reason = "no consent covers the recipient" if decision == "withheld" else None
        data = disclosure(alert_id=alert_id, recipient=recipient, decision=decision, reason=reason, shared_at=START)
        messages.append((b"key", audit_event(data, f"evt-{i}"), []))
    bounds = sorted({0, len(messages), *(c for c in cuts if c < len(messages))})

    async def compare() -> None:
        one_engine, batch_engine = audit_engine(), audit_engine()
        one, _ = processor(one_engine)
        expected = [await one.process(k, v, h, topics.AUDIT) for k, v, h in messages]
        batch, outcomes = reading_ahead(batch_engine), []
        for start, end in itertools.pairwise(bounds):
            outcomes.extend(await batch.process_batch(messages[start:end], topics.AUDIT))
        assert outcomes == expected
        assert stored(batch_engine) == stored(one_engine)
        assert verify(batch_engine, [], None).ok

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain, "new_salt", lambda: "11" * 32)  # the same salts both ways, to compare rows
        asyncio.run(compare())


async def test_a_run_read_ahead_that_fails_part_way_keeps_the_records_before_the_failure(monkeypatch):
    """A handler failing in a run read ahead: the records queued before it are written with the run's
    first part (read ahead again), none is lost or doubled, and the failing event is dead-lettered."""
    monkeypatch.setattr(chain, "new_salt", lambda: "11" * 32)
    build = handlers.chained_row

    def failing(seq: int, prev_hash: str, values: dict[str, Any], *rest: Any) -> dict[str, Any]:
        if values["alert_id"] == "fail-1":
            raise RuntimeError("cannot chain this one")
        return build(seq, prev_hash, values, *rest)

    monkeypatch.setattr(handlers, "chained_row", failing)
    data = [disclosure(alert_id=a, shared_at=START) for a in ("a-1", "a-2", "fail-1", "a-1", "a-3")]
    messages = [(b"key", audit_event(d, f"evt-{i}"), []) for i, d in enumerate(data)]
    engine = audit_engine()
    outcomes = await reading_ahead(engine).process_batch(messages, topics.AUDIT)
    assert outcomes == ["handled", "handled", "deadlettered", "handled", "handled"]
    assert [(r.seq, r.alert_id) for r in chain_rows(engine)] == [(1, "a-1"), (2, "a-2"), (3, "a-3")]
    assert verify(engine, [], None).ok
