"""Dead-lettering: a message that cannot be processed goes to ``isp.deadletter.v1`` byte for byte
(same key and value), with headers saying what was wrong and where it came from:

- ``isp-error``: the reason (never personal data: see :func:`isp_common.consumer.safe_error`);
- ``isp-source-topic``, and ``isp-source-partition`` / ``isp-source-offset`` when the consumer
  knows them: together they name the original message, so the audit service (the keeper of the
  dead-letter topic) keeps one rejection per event however many services dead-letter it;
- ``isp-consumer``: which service rejected it.

The original headers are kept (a replay needs them, the event's signature included).
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from isp_schemas import topics

log = logging.getLogger(__name__)

ERROR = "isp-error"
SOURCE_TOPIC = "isp-source-topic"
SOURCE_PARTITION = "isp-source-partition"
SOURCE_OFFSET = "isp-source-offset"
CONSUMER = "isp-consumer"
DEADLETTER_HEADERS = (ERROR, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET, CONSUMER)
"""The headers dead-lettering adds (and replaces when a dead letter is dead-lettered again)."""

Position = tuple[int, int]
"""Where a consumed message was read: (partition, offset) on its topic."""


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer | None, consumer_name: str):
        self.producer = producer
        self.consumer_name = consumer_name
        self.count = 0

    async def send(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        reason: str,
        source_topic: str,
        position: Position | None = None,
    ) -> None:
        kept = [(k, v) for k, v in headers if k not in DEADLETTER_HEADERS]
        kept += [
            (ERROR, reason.encode("utf-8")[:4000]),
            (SOURCE_TOPIC, source_topic.encode()),
            (CONSUMER, self.consumer_name.encode()),
        ]
        if position is not None:
            kept += [(SOURCE_PARTITION, str(position[0]).encode()), (SOURCE_OFFSET, str(position[1]).encode())]
        if self.producer is None:
            raise RuntimeError("dead-letter producer not started")
        await (await self.producer.send(topics.DEADLETTER, value=value, key=key, headers=kept))
        self.count += 1
        log.warning("dead-lettered a message from %s: %s", source_topic, reason)
