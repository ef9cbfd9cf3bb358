"""Cross-area flags: the index built from isp.register.v1 events and one match per pair."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from isp_common.consumer import EventRejected
from isp_common.testing import nhs_number
from isp_register import commands, handlers
from isp_register.models import EntryClose
from isp_register.tables import RegisterCrossAreaMatch, RegisterPersonIndex
from isp_schemas.envelope import CloudEvent
from isp_schemas.register import RegisterCrossAreaMatch as MatchEvent
from isp_schemas.registry import parse_event
from sqlmodel import select

A, B, C = "CGL-WSX", "TURNING-PT", "WDP-LDN"
NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def consume(uow, published) -> Callable[[], None]:
    """Feed every register event in the outbox through the consumer's handlers, once, in order."""
    seen: set[str] = set()

    def run() -> None:
        for event in published():
            if event.id in seen:
                continue
            seen.add(event.id)
            handler = handlers.HANDLERS_BY_TOPIC["isp.register.v1"].get(event.type)
            if handler is not None:
                _, data = parse_event(event.to_json_bytes())
                handler(uow, event, data)
                uow.commit()

    return run


@pytest.fixture
def matches(published) -> Callable[[], list[CloudEvent]]:
    return lambda: published(MatchEvent.event_type)


def test_opening_at_a_second_org_matches_the_first_once(open_entry, consume, matches):
    number = nhs_number(1)
    first = open_entry(A, number, NOW, category="vulnerable_adult")
    consume()
    second = open_entry(B, number, NOW, category="child_concern")
    consume()
    consume()

    [match] = matches()
    assert match.data["entry_id"] == second.id and match.data["org"] == B
    assert match.data["other_entry_id"] == first.id and match.data["other_org"] == A
    assert (match.data["category"], match.data["other_category"]) == ("child_concern", "vulnerable_adult")
    assert match.subject == first.person_key == second.person_key
    assert number.encode() not in match.to_json_bytes()


def test_a_redelivered_opened_event_does_not_match_again(uow, open_entry, published, consume, matches):
    number = nhs_number(2)
    open_entry(A, number, NOW)
    consume()
    open_entry(B, number, NOW)
    consume()
    opened_b = published("uk.isp.register.entry.opened.v1")[-1]
    _, data = parse_event(opened_b.to_json_bytes())
    handlers.entry_opened(uow, opened_b, data)  # at-least-once delivery
    uow.commit()
    assert len(matches()) == 1


def test_the_same_org_twice_is_not_cross_area(open_entry, consume, matches):
    number = nhs_number(3)
    open_entry(A, number, NOW, category="child_concern")
    open_entry(A, number, NOW, category="vulnerable_adult")
    consume()
    assert matches() == []


def test_a_different_person_does_not_match(open_entry, consume, matches):
    open_entry(A, nhs_number(4), NOW)
    open_entry(B, nhs_number(5), NOW)
    consume()
    assert matches() == []


def test_a_closed_entry_drops_out_of_the_index(uow, open_entry, consume, matches):
    number = nhs_number(6)
    first = open_entry(A, number, NOW)
    commands.close_entry(uow, first, by="dsl", command=EntryClose(reason="Moved away"), now=NOW)
    uow.commit()
    consume()
    open_entry(B, number, NOW)
    consume()

    assert matches() == []
    assert uow.session.get(RegisterPersonIndex, first.id).open is False


def test_a_third_org_matches_each_of_the_other_two(uow, open_entry, consume, matches):
    number = nhs_number(7)
    open_entry(A, number, NOW)
    consume()
    open_entry(B, number, NOW)
    consume()
    open_entry(C, number, NOW)
    consume()

    pairs = {(m.data["org"], m.data["other_org"]) for m in matches()}
    assert pairs == {(B, A), (C, A), (C, B)}
    assert len(uow.session.exec(select(RegisterCrossAreaMatch)).all()) == 3


def test_an_event_whose_source_is_not_the_entrys_org_is_rejected(uow, open_entry, published):
    open_entry(A, nhs_number(8), NOW)
    [opened] = published("uk.isp.register.entry.opened.v1")
    forged = opened.model_copy(update={"source": f"urn:isp:org:{B}"})
    _, data = parse_event(forged.to_json_bytes())
    with pytest.raises(EventRejected):
        handlers.entry_opened(uow, forged, data)
