"""Kafka clients built with aiokafka: the outbox relay's producer and the admin client.

The embedded broker does not support idempotent producers, so the producer uses
``acks="all"`` without idempotence; consumers are idempotent on the CloudEvent id.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


def new_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        request_timeout_ms=15000,
    )


class TopicAdmin:
    """Creates topics on demand (static topics at start, ``isp.alerts.<ORG>.v1`` when first used)."""

    def __init__(self, bootstrap: str, partitions: int, replication: int):
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.replication = replication
        self._known: set[str] = set()
        self._client: AIOKafkaAdminClient | None = None

    async def start(self) -> None:
        self._client = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000)
        await self._client.start()
        self._known.update(await self._client.list_topics())

    async def stop(self) -> None:
        if self._client:
            await self._client.close()
            self._client = None

    async def ensure(self, names: list[str] | set[str]) -> None:
        missing = [n for n in names if n not in self._known]
        if not missing or self._client is None:
            return
        self._known.update(await self._client.list_topics())
        missing = [n for n in missing if n not in self._known]
        if not missing:
            return
        topics = [NewTopic(n, self.partitions, self.replication) for n in missing]
        try:
            await self._client.create_topics(topics)
        except TopicAlreadyExistsError:
            pass
        except Exception as exc:  # some brokers answer per-topic errors for races
            if "already exists" not in str(exc).lower():
                raise
        self._known.update(missing)

    async def ping(self) -> bool:
        if self._client is None:
            return False
        try:
            await self._client.list_topics()
            return True
        except Exception:
            return False
