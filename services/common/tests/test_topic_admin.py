"""Making topics at start: under Kafka ACLs a service may create only its own topics; the
deployment makes the rest, so a refusal is logged, never fatal to the start."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from isp_common.kafka_clients import TopicAdmin


class Refusing:
    def __init__(self, existing: list[str]) -> None:
        self.existing, self.created = existing, []

    async def list_topics(self) -> list[str]:
        return self.existing

    async def create_topics(self, topics: list[Any]) -> None:
        raise TopicAuthorizationFailedError()


async def test_a_service_not_allowed_to_create_a_topic_starts_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    admin = TopicAdmin("kafka:9092", 6, 3)
    admin._client = Refusing(["isp.referrals.v1"])  # type: ignore[assignment]  # the admin client's two calls
    await admin.ensure({"isp.referrals.v1", "isp.register.v1"})
    assert "could not create topics ['isp.register.v1']" in caplog.text
    assert "isp.register.v1" not in admin._known  # asked again next time, in case it is made meanwhile


class Recording(Refusing):
    async def create_topics(self, topics: list[Any]) -> None:
        self.created.extend((t.name, t.num_partitions, t.replication_factor) for t in topics)


async def test_a_topic_the_catalogue_gives_its_own_partitions_is_made_with_them() -> None:
    """The audit checkpoints are one ordered log (one partition, as deploy/kafka/init.sh makes
    it); every other topic takes the deployment's number."""
    admin = TopicAdmin("kafka:9092", 4, 3)
    admin._client = Recording([])  # type: ignore[assignment]  # the admin client's two calls
    await admin.ensure(["isp.audit.checkpoints.v1", "isp.audit.v1", "isp.alerts.WSCC-CSC.v1"])
    assert sorted(admin._client.created) == [  # type: ignore[attr-defined]
        ("isp.alerts.WSCC-CSC.v1", 4, 3),
        ("isp.audit.checkpoints.v1", 1, 3),
        ("isp.audit.v1", 4, 3),
    ]
