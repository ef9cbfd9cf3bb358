"""The one consumer path checks where an event came from (CONTRACT §10) before any handler runs:
an event whose origin is not proven is dead-lettered with the reason, and nothing else stops."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.consumer import EventProcessor
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.directory import private_jwk, public_jwk
from isp_common.provenance import SIGNATURE_HEADER, Signer, Trust, check
from isp_common.testing import RecordingDeadLetters
from isp_schemas import topics
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person

KEY = Ed25519PrivateKey.generate()
SIGNER = Signer.from_jwk(private_jwk(KEY))
TRUST = Trust(org_keys={"CGL-WSX": {"keys": [public_jwk(KEY.public_key())]}}.get)


def withdrawal(event_id: str) -> bytes:
    data = ConsentWithdrawn(
        consent_id=f"con-{event_id}", person=Person(nhs_number="9434765919"), withdrawn_on=date(2026, 11, 2)
    )
    return CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=event_id).to_json_bytes()


@pytest.fixture
def setup() -> tuple[EventProcessor, RecordingDeadLetters, list[str]]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    handled: list[str] = []
    dead = RecordingDeadLetters()

    def handler(uow: UnitOfWork, event: CloudEvent, data: Any) -> None:
        handled.append(event.id)

    processor = EventProcessor(
        consumer_name="test:consent",
        handlers={ConsentWithdrawn.event_type: handler},
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=dead,  # type: ignore[arg-type]  # a fake with the one method the processor calls
        retry_delay=0.0,
        provenance=lambda value, headers, event: check(value, headers, event.source_org, event.type, event.data, TRUST),
    )
    return processor, dead, handled


def signed(value: bytes, signer: Signer = SIGNER) -> list[tuple[str, bytes]]:
    return [(SIGNATURE_HEADER, signer.sign(value).encode())]


async def test_a_batch_handles_the_proven_events_and_dead_letters_the_forged_ones(setup: Any) -> None:
    processor, dead, handled = setup
    forger = Signer.from_jwk(private_jwk(Ed25519PrivateKey.generate()))
    good, unsigned, forged, good_too = (withdrawal(n) for n in ("e1", "e2", "e3", "e4"))
    outcomes = await processor.process_batch(
        [
            (None, good, signed(good)),
            (None, unsigned, []),
            (None, forged, signed(forged, forger)),
            (None, good_too, signed(good_too)),
        ],
        topics.CONSENT,
    )
    assert outcomes == ["handled", "deadlettered", "deadlettered", "handled"]
    assert handled == ["e1", "e4"]
    assert dead.reasons == [
        "provenance: isp-signature is missing",
        "provenance: the kid is not a key of the source organisation in the directory",
    ]


async def test_one_event_at_a_time_is_checked_the_same_way(setup: Any) -> None:
    processor, dead, handled = setup
    value = withdrawal("e9")
    assert await processor.process(None, value, [], topics.CONSENT) == "deadlettered"
    assert await processor.process(None, value, signed(value), topics.CONSENT) == "handled"
    assert handled == ["e9"] and len(dead.sent) == 1


async def test_a_signature_over_other_bytes_is_dead_lettered_not_handled(setup: Any) -> None:
    processor, dead, handled = setup
    value, other = withdrawal("e5"), withdrawal("e6")
    assert await processor.process(None, value, signed(other), topics.CONSENT) == "deadlettered"
    assert handled == [] and "does not verify" in dead.reasons[0]


async def test_a_handler_knows_how_the_event_it_handles_proved_its_origin() -> None:
    from isp_common import provenance

    engine = make_engine("sqlite://")
    create_schema(engine)
    seen: list[str | None] = []
    processor = EventProcessor(
        consumer_name="test:consent",
        handlers={ConsentWithdrawn.event_type: lambda uow, event, data: seen.append(provenance.current())},
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=RecordingDeadLetters(),  # type: ignore[arg-type]  # the one method the processor calls
        provenance=lambda value, headers, event: check(value, headers, event.source_org, event.type, {}, TRUST),
    )
    value = withdrawal("e20")
    assert await processor.process_batch([(None, value, signed(value))], topics.CONSENT) == ["handled"]
    assert seen == ["signed"] and provenance.current() is None  # only while it is handled


async def test_a_long_batch_is_checked_on_two_threads_and_ends_exactly_as_one_checked_in_turn() -> None:
    """The signatures of a long batch are checked in two worker threads at once (Ed25519 releases the
    GIL), off the event loop; the outcomes, what is handled and what is dead-lettered, in order, are
    as when they are checked in turn."""
    import threading

    from isp_common.consumer import PARALLEL_PROOFS_FROM

    forger = Signer.from_jwk(private_jwk(Ed25519PrivateKey.generate()))
    messages: list[tuple[None, bytes, list[tuple[str, bytes]]]] = []
    expected: list[str] = []
    for i in range(3 * PARALLEL_PROOFS_FROM):
        value = withdrawal(f"e{i}")
        if i % 7 == 3:
            messages.append((None, value, []))
            expected.append("deadlettered")
        elif i % 11 == 5:
            messages.append((None, value, signed(value, forger)))
            expected.append("deadlettered")
        elif i % 13 == 6:
            messages.append((None, b"{not json", []))
            expected.append("deadlettered")
        else:
            messages.append((None, value, signed(value)))
            expected.append("handled")

    async def run(parallel_from: int) -> tuple[list[str], list[str], list[str], set[int]]:
        engine = make_engine("sqlite://")
        create_schema(engine)
        handled: list[str] = []
        threads: set[int] = set()
        dead = RecordingDeadLetters()

        def proven(value: bytes, headers: list[tuple[str, bytes]], event: CloudEvent) -> str:
            threads.add(threading.get_ident())
            return check(value, headers, event.source_org, event.type, event.data, TRUST)

        processor = EventProcessor(
            consumer_name="test:consent",
            handlers={ConsentWithdrawn.event_type: lambda uow, event, data: handled.append(event.id)},
            uow_factory=lambda: UnitOfWork(engine),
            deadletters=dead,  # type: ignore[arg-type]  # the one method the processor calls
            provenance=proven,
            parallel_proofs_from=parallel_from,
        )
        outcomes = await processor.process_batch(messages, topics.CONSENT)
        return list(outcomes), handled, dead.reasons, threads

    in_turn = await run(len(messages) + 1)
    at_once = await run(PARALLEL_PROOFS_FROM)
    assert in_turn[0] == expected
    assert at_once[:3] == in_turn[:3]
    assert in_turn[3] == {threading.get_ident()}  # checked in turn on the event loop's thread
    assert threading.get_ident() not in at_once[3]  # in worker threads (one may take both halves)
