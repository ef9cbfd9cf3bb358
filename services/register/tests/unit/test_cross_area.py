"""Cross-area flags: the index built from isp.register.v1 events and one match per pair."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from isp_common.consumer import EventRejected
from isp_register import handlers, matching
from isp_register.models import EntryClose
from isp_register.tables import RegisterCrossAreaMatch, RegisterPersonIndex
from isp_schemas.register import RegisterCrossAreaMatch as MatchEvent
from isp_schemas.registry import parse_event
from sqlmodel import select

A, B, C = "CGL-WSX", "TURNING-PT", "WDP-LDN"
NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def consume_outbox(reg) -> None:
    """Feed every register event in the outbox through the consumer's handlers, once, in order."""
    seen = getattr(reg, "_seen", set())
    for event in reg.published():
        if event.id in seen:
            continue
        seen.add(event.id)
        handler = matching.HANDLERS_BY_TOPIC["isp.register.v1"].get(event.type)
        if handler is not None:
            _, data = parse_event(event.to_json_bytes())
            handler(reg.uow, event, data)
            reg.uow.commit()
    reg._seen = seen


def matches(reg) -> list:
    return reg.published(MatchEvent.event_type)


def test_opening_at_a_second_org_matches_the_first_once(reg):
    number = reg.nhs(1)
    first = reg.open(A, number, NOW, category="vulnerable_adult")
    consume_outbox(reg)
    second = reg.open(B, number, NOW, category="child_concern")
    consume_outbox(reg)
    consume_outbox(reg)

    [match] = matches(reg)
    assert match.data["entry_id"] == second.id and match.data["org"] == B
    assert match.data["other_entry_id"] == first.id and match.data["other_org"] == A
    assert (match.data["category"], match.data["other_category"]) == ("child_concern", "vulnerable_adult")
    assert match.subject == first.person_key == second.person_key
    assert number.encode() not in match.to_json_bytes()


def test_a_redelivered_opened_event_does_not_match_again(reg):
    number = reg.nhs(2)
    reg.open(A, number, NOW)
    consume_outbox(reg)
    reg.open(B, number, NOW)
    consume_outbox(reg)
    opened_b = reg.published("uk.isp.register.entry.opened.v1")[-1]
    _, data = parse_event(opened_b.to_json_bytes())
    matching.entry_opened(reg.uow, opened_b, data)  # at-least-once delivery
    reg.uow.commit()
    assert len(matches(reg)) == 1


def test_the_same_org_twice_is_not_cross_area(reg):
    number = reg.nhs(3)
    reg.open(A, number, NOW, category="child_concern")
    reg.open(A, number, NOW, category="vulnerable_adult")
    consume_outbox(reg)
    assert matches(reg) == []


def test_a_different_person_does_not_match(reg):
    reg.open(A, reg.nhs(4), NOW)
    reg.open(B, reg.nhs(5), NOW)
    consume_outbox(reg)
    assert matches(reg) == []


def test_a_closed_entry_drops_out_of_the_index(reg):
    number = reg.nhs(6)
    first = reg.open(A, number, NOW)
    handlers.close_entry(reg.uow, first, by="dsl", command=EntryClose(), now=NOW)
    reg.uow.commit()
    consume_outbox(reg)
    reg.open(B, number, NOW)
    consume_outbox(reg)

    assert matches(reg) == []
    assert reg.uow.session.get(RegisterPersonIndex, first.id).open is False


def test_a_third_org_matches_each_of_the_other_two(reg):
    number = reg.nhs(7)
    reg.open(A, number, NOW)
    consume_outbox(reg)
    reg.open(B, number, NOW)
    consume_outbox(reg)
    reg.open(C, number, NOW)
    consume_outbox(reg)

    pairs = {(m.data["org"], m.data["other_org"]) for m in matches(reg)}
    assert pairs == {(B, A), (C, A), (C, B)}
    assert len(reg.uow.session.exec(select(RegisterCrossAreaMatch)).all()) == 3


def test_an_event_whose_source_is_not_the_entrys_org_is_rejected(reg):
    reg.open(A, reg.nhs(8), NOW)
    [opened] = reg.published("uk.isp.register.entry.opened.v1")
    forged = opened.model_copy(update={"source": f"urn:isp:org:{B}"})
    _, data = parse_event(forged.to_json_bytes())
    with pytest.raises(EventRejected):
        matching.entry_opened(reg.uow, forged, data)
