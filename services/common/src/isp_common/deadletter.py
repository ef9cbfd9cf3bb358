"""Dead-lettering: a message that cannot be processed goes to ``isp.deadletter.v1``
byte for byte (same key and value), with ``isp-error`` and ``isp-source-topic`` headers."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from isp_schemas import topics

log = logging.getLogger(__name__)


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
    ) -> None:
        kept = [(k, v) for k, v in headers if k not in ("isp-error", "isp-source-topic", "isp-consumer")]
        kept += [
            ("isp-error", reason.encode("utf-8")[:4000]),
            ("isp-source-topic", source_topic.encode()),
            ("isp-consumer", self.consumer_name.encode()),
        ]
        if self.producer is None:
            raise RuntimeError("dead-letter producer not started")
        await (await self.producer.send(topics.DEADLETTER, value=value, key=key, headers=kept))
        self.count += 1
        log.warning("dead-lettered a message from %s: %s", source_topic, reason)
