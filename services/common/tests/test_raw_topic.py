"""A raw-bytes topic decodes a message to the event faust's own decoding makes
(``isp_common.kafka.RawTopic``); a topic of any other schema keeps faust's decoding. The producer buffer
the conductor asks about for each message is sized as faust sizes it."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

import faust
import pytest
from faust.transport.producer import ProducerBuffer
from faust.types import TP
from faust.types.tuples import Message
from isp_common.kafka import FaustApp, RawTopic, _UnthreadedProducerBuffer


def app() -> FaustApp:
    return FaustApp("test-raw-topic", fetch_max_wait_ms=50, autodiscover=False, datadir=tempfile.mkdtemp())


def message(key: bytes | None, value: bytes | None) -> Message:
    return Message("t", 0, 7, 0.0, 0, [("ce_id", b"1")], key, value, None, tp=TP("t", 0))


def decoded(topic: Any, msg: Message, decode: Any = None) -> tuple[Any, ...]:
    event = asyncio.run((decode or topic.decode)(msg, propagate=True))
    return type(event), event.key, event.value, event.headers, event.message


@pytest.mark.parametrize(("key", "value"), [(b"k", b'{"a": 1}'), (None, b"x"), (b"k", None), (None, None)])
def test_a_raw_topic_decodes_as_faust_does(key: bytes | None, value: bytes | None) -> None:
    faust_app = app()
    topic = faust_app.topic("t", key_serializer="raw", value_serializer="raw")
    assert isinstance(topic, RawTopic)
    fausts = topic.schema.compile(faust_app, on_key_decode_error=None, on_value_decode_error=None)
    assert topic.decode.__qualname__.startswith("RawTopic.")  # the shortcut is taken
    msg = message(key, value)
    assert decoded(topic, msg) == decoded(topic, msg, fausts)


def test_a_topic_of_another_schema_keeps_fausts_decoding() -> None:
    faust_app = app()
    topic = faust_app.topic("t", value_serializer="json")
    assert not topic.decode.__qualname__.startswith("RawTopic.")
    assert decoded(topic, message(b"k", b'{"a": 1}'))[2] == {"a": 1}
    typed = faust_app.topic("t", key_serializer="raw", value_serializer="raw", value_type=bytes)
    assert not typed.decode.__qualname__.startswith("RawTopic.")
    assert isinstance(typed, faust.Topic)


def test_the_producer_buffer_is_sized_as_fausts() -> None:
    async def run() -> None:
        buffer = app().producer.buffer
        assert isinstance(buffer, _UnthreadedProducerBuffer)
        for waiting in range(3):
            assert buffer.size == ProducerBuffer.size.fget(buffer) == waiting  # type: ignore[attr-defined]
            buffer.pending.put_nowait(waiting)

    asyncio.run(run())
