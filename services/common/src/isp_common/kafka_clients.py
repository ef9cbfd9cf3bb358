"""Kafka clients that need no faust: the topic admin, the outbox relay's producer, and the probe a
service makes of its broker before it builds anything.

Kept apart from :mod:`isp_common.kafka` (faust's consumer and app, which take most of a second to
import) so that the launcher and the command line can use them without loading faust.
The embedded broker does not support idempotent producers, so the producer uses ``acks="all"``
without idempotence; consumers are idempotent on the CloudEvent id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from isp_schemas.topics import DEFAULT_PARTITIONS, partitions_for

log = logging.getLogger(__name__)

PLAINTEXT: Mapping[str, Any] = {"security_protocol": "PLAINTEXT"}


async def reach_broker(bootstrap: str, auth: Mapping[str, Any], timeout: float, logger: logging.Logger = log) -> bool:
    """Whether the broker at ``bootstrap`` answered (its cluster's metadata read) within ``timeout``
    seconds, asked again with back-off (0.5 s, doubling up to 10 s) while it could not be reached;
    each unanswered try is logged in one line, without a traceback, and aiokafka's own log lines are
    quiet meanwhile (for a service's start, before anything else of it runs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.5
    aiokafka_log = logging.getLogger("aiokafka")  # its "Unable connect to ..." says what ours says
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        while True:
            admin = TopicAdmin(bootstrap, DEFAULT_PARTITIONS, 1, auth)  # the service's own client; makes no topic
            try:
                await admin.start()
                return True
            except (KafkaConnectionError, OSError) as exc:  # not there (yet); anything else is raised
                reason = type(exc).__name__
            finally:
                await admin.stop()
            left = deadline - loop.time()
            if left <= 0:
                return False
            wait = min(delay, left)
            logger.warning(
                "the Kafka broker at %s does not answer (%s); asking again in %.1fs", bootstrap, reason, wait
            )
            await asyncio.sleep(wait)
            delay = min(delay * 2, 10.0)
    finally:
        aiokafka_log.setLevel(level)


def new_producer(bootstrap: str, client_id: str, auth: Mapping[str, Any] = PLAINTEXT) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        request_timeout_ms=15000,
        **auth,
    )


class TopicAdmin:
    """Creates topics on demand (static topics at start, ``isp.alerts.<ORG>.v1`` when first used)."""

    def __init__(self, bootstrap: str, partitions: int, replication: int, auth: Mapping[str, Any] = PLAINTEXT):
        self.bootstrap = bootstrap
        self.auth = auth
        self.partitions = partitions
        self.replication = replication
        self._known: set[str] = set()
        self._client: AIOKafkaAdminClient | None = None

    async def start(self) -> None:
        self._client = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000, **self.auth)
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
        topics = [NewTopic(n, partitions_for(n, self.partitions), self.replication) for n in missing]
        try:
            await self._client.create_topics(topics)
        except TopicAlreadyExistsError:
            pass
        except Exception as exc:  # some brokers answer per-topic errors for races
            if "already exists" not in str(exc).lower():
                # with ACLs a service may create only its own topics: the deployment makes the rest
                # (kafka-init); publishing to a topic that is truly missing fails, and is retried, later
                log.warning(
                    "could not create topics %s (%s): they must be made by the deployment", missing, type(exc).__name__
                )
                return
        self._known.update(missing)

    async def ping(self) -> bool:
        if self._client is None:
            return False
        try:
            await self._client.list_topics()
            return True
        except Exception:
            return False
