"""The keeper of the dead-letter topic: one rejection per original event, whoever rejected it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from isp_audit import rejections
from isp_audit.tables import Rejection
from isp_common.db import UnitOfWork
from isp_common.deadletter import DeadLetters
from isp_schemas import topics
from sqlmodel import Session, select

from ..deadletter_kit import REASON, keep, letter, missed
from ..kit import START, audit_engine


@pytest.fixture
def engine():
    return audit_engine()


def kept(engine) -> list[Rejection]:
    with Session(engine) as session:
        return list(session.exec(select(Rejection).order_by(Rejection.seq)))


def test_an_event_dead_lettered_by_two_services_is_one_rejection_naming_both(engine):
    value = missed().to_json_bytes()
    keep(
        engine,
        letter(value, consumer="isp-notifications"),
        letter(value, consumer="isp-referrals", reason="rejected: something else", at=START + timedelta(seconds=1)),
    )
    [rejection] = kept(engine)
    assert rejection.reason == REASON and rejection.at == START
    by = {"isp-notifications": REASON, "isp-referrals": "rejected: something else"}
    assert json.loads(rejection.rejected_by) == by


def test_the_same_service_dead_lettering_again_after_a_restart_changes_nothing(engine):
    value = missed().to_json_bytes()
    keep(engine, letter(value), letter(value))
    assert len(kept(engine)) == 1


def test_other_positions_are_other_rejections(engine):
    value = missed().to_json_bytes()
    keep(engine, letter(value, position=(0, 1)), letter(value, position=(1, 1)), letter(value, position=(0, 2)))
    assert len(kept(engine)) == 3


def test_without_a_position_the_event_id_names_the_event_then_a_hash_of_its_bytes(engine):
    event = missed()
    keep(
        engine,
        letter(event.to_json_bytes(), position=None, consumer="a"),
        letter(event.to_json_bytes(), position=None, consumer="b"),
        letter(b"{not json", position=None, consumer="a"),
        letter(b"{not json", position=None, consumer="b"),
    )
    first, second = kept(engine)
    assert first.origin == f"{topics.TREATMENT}:event:{event.id}" and first.event_id == event.id
    assert second.origin.startswith(f"{topics.TREATMENT}:sha256:") and second.event_id is None
    assert [len(json.loads(r.rejected_by)) for r in (first, second)] == [2, 2]


def test_a_rejection_belongs_to_the_events_source_and_unreadable_bytes_to_nobody(engine):
    event = missed(source_org="CGL-WSX")
    keep(engine, letter(event.to_json_bytes(), position=(0, 1)), letter(b"\xff\xfe", position=(0, 2)))
    readable, unreadable = kept(engine)
    assert (readable.org, readable.type, readable.event_id) == ("CGL-WSX", event.type, event.id)
    assert (unreadable.org, unreadable.type, unreadable.event_id) == (rejections.UNKNOWN_ORG, None, None)


def test_without_a_valid_source_the_organisation_fields_name_the_organisation():
    value = json.dumps({"id": "e-1", "source": "nonsense", "data": {"recorded_by": "CGL-WSX"}}).encode()
    assert rejections.describe(value).org == "CGL-WSX"
    assert rejections.describe(b"[1, 2]").org == rejections.UNKNOWN_ORG
    assert rejections.describe(json.dumps({"id": "x" * 500}).encode()).event_id is None  # not a name


def test_the_original_message_is_kept_for_repair(engine):
    value = missed().to_json_bytes()
    keep(engine, letter(value, key=b"9434765919", headers=[("isp-signature", b"jws")]))
    [rejection] = kept(engine)
    assert rejection.key == b"9434765919" and rejection.value == value
    assert ("isp-signature", b"jws") in rejections.original_headers(rejection)


def test_a_replay_carries_the_original_without_dead_letter_headers_and_names_the_rejection(engine):
    keep(engine, letter(missed().to_json_bytes(), headers=[("isp-signature", b"jws")]))
    [rejection] = kept(engine)
    replay = rejections.replay_of(rejection)
    names = [name for name, _ in replay.headers]
    assert replay.topic == topics.TREATMENT and replay.value == rejection.value and replay.key == rejection.key
    assert names == ["isp-signature", rejections.REPLAY_OF, rejections.REPLAY_ID]
    assert dict(replay.headers)[rejections.REPLAY_OF] == rejection.id.encode()


def test_a_replay_that_fails_again_is_a_new_rejection_linked_to_the_one_replayed(engine):
    event = missed()
    keep(engine, letter(event.to_json_bytes(), position=None))
    [first] = kept(engine)
    replay = rejections.replay_of(first)
    again = letter(replay.value or b"", position=None, headers=replay.headers)
    keep(engine, again, again)  # two services reject the replay: still one new rejection
    _, second = kept(engine)
    assert second.replay_of == first.id and second.event_id == event.id


def test_keep_all_keeps_a_batch_with_repeats_once(engine):
    value = missed().to_json_bytes()
    batch = [letter(value, consumer="a"), letter(value, consumer="b"), letter(b"x", position=(0, 9))]
    rejections.keep_all(lambda: UnitOfWork(engine), batch)
    rejections.keep_all(lambda: UnitOfWork(engine), batch)
    assert len(kept(engine)) == 2


def test_a_rejection_can_be_marked_replayed_the_append_only_guard_is_for_disclosures_only(engine):
    keep(engine, letter(missed().to_json_bytes()))
    [rejection] = kept(engine)
    with Session(engine) as session:
        rejections.mark_replayed(session, rejection.id, "ops", START)
        session.commit()
    [marked] = kept(engine)
    assert (marked.replays, marked.replayed_by, marked.replayed_at) == (1, "ops", START)


class _Producer:
    def __init__(self) -> None:
        self.records: list[tuple] = []

    async def send(self, topic, *, value, key, headers):
        self.records.append((key, value, headers, None))
        return self._acked()

    @staticmethod
    async def _acked() -> None:
        return None


async def test_what_two_services_dead_letter_for_one_message_is_kept_once(engine):
    """Through the services' own DeadLetters: the headers they write are the ones kept on."""
    producer = _Producer()
    value = missed().to_json_bytes()
    for service in ("isp-notifications", "isp-referrals"):
        sink = DeadLetters(producer, service)  # type: ignore[arg-type]  # a fake producer's send
        await sink.send(b"k", value, [], REASON, topics.TREATMENT, position=(3, 14))
    rejections.keep_all(lambda: UnitOfWork(engine), rejections.letters_of(producer.records, START))
    [rejection] = kept(engine)
    assert (rejection.partition, rejection.offset) == (3, 14)
    assert set(json.loads(rejection.rejected_by)) == {"isp-notifications", "isp-referrals"}
