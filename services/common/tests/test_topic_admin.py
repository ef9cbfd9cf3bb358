"""Making topics at start: under Kafka ACLs a service may create only its own topics; the
deployment makes the rest, so a refusal is logged, never fatal to the start."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from isp_common.kafka import TopicAdmin


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
