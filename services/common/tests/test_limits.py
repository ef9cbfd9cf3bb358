"""CONTRACT §11 limits: an HTTP body over 1 MiB is refused with 413 before it is read further; a
Kafka message over 256 KiB, a string over 20,000 characters or a list over 1,000 items is invalid."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from isp_common.limits import MAX_BODY_BYTES, BodyLimit
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from isp_schemas.registry import SMALLEST_OVERSIZED, InvalidEvent, oversized, parse_event


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.add_middleware(BodyLimit)
    seen: list[int] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    client = TestClient(app)
    client.seen = seen  # type: ignore[attr-defined]  # what the route read, for the tests
    return client


def test_a_body_up_to_the_limit_is_taken(client):
    assert client.post("/echo", content=b"x" * MAX_BODY_BYTES).json() == {"bytes": MAX_BODY_BYTES}


def test_a_declared_body_over_the_limit_is_refused_before_the_route_reads_it(client):
    response = client.post("/echo", content=b"x" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413 and "1,048,576 bytes" in response.json()["detail"]
    assert client.seen == []


def test_a_chunked_body_over_the_limit_is_cut_off_and_refused(client):
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 65_536  # 2.5 MiB in all, no Content-Length

    response = client.post("/echo", content=chunks())
    assert response.status_code == 413
    assert all(n <= MAX_BODY_BYTES for n in client.seen)


def _event(**data_overrides: object) -> bytes:
    data = ConsentWithdrawn(consent_id="con-1", person=Person(nhs_number="9434765919"), withdrawn_on="2026-11-02")
    event = CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data)
    document = json.loads(event.to_json_bytes())
    document["data"].update(data_overrides)
    return json.dumps(document).encode()


def test_a_message_over_256_kib_is_invalid():
    with pytest.raises(InvalidEvent, match="the limit is 262,144"):
        parse_event(_event(note="x" * 19_999) * 14)


def test_a_string_over_20000_characters_is_invalid_and_named_not_shown():
    with pytest.raises(InvalidEvent) as caught:
        parse_event(_event(consent_id="c" * 20_001))
    assert str(caught.value) == "data.consent_id: a string of 20,001 characters; the limit is 20,000"


def test_a_list_over_1000_items_is_invalid():
    with pytest.raises(InvalidEvent, match=r"data.extra: a list of 1,001 items; the limit is 1,000"):
        parse_event(_event(extra=list(range(1001))))
    parse_event(_event())  # and an ordinary event still parses


@settings(max_examples=300, deadline=None)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers(0, 9) | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=1_200) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
        max_leaves=1_500,
    )
)
def test_a_message_too_small_to_break_a_limit_needs_no_walk(document: object) -> None:
    """parse_event skips the walk of messages of at most SMALLEST_OVERSIZED bytes: no JSON that
    small holds a list of over 1,000 items or a string of over 20,000 characters."""
    raw = json.dumps(document, separators=(",", ":")).encode()
    if len(raw) <= SMALLEST_OVERSIZED:
        assert oversized(document, "data") is None


def test_the_smallest_list_over_the_limit_is_just_over_the_size_skipped() -> None:
    raw = json.dumps([0] * 1_001, separators=(",", ":")).encode()
    assert len(raw) > SMALLEST_OVERSIZED
    assert oversized(json.loads(raw), "data") is not None
