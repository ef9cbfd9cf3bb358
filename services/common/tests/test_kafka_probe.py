"""The test kit's Kafka probe reads without sleeping: up to a sentinel, or what a topic holds now."""

from __future__ import annotations

import pytest
from isp_common.testing import KafkaProbe, unique

pytestmark = pytest.mark.integration


async def test_collect_until_returns_what_came_before_the_sentinel_on_its_key(kafka: KafkaProbe) -> None:
    topic = unique("test.probe.")
    for value in (b"one", b"two", b"other", b"three"):
        await kafka.send(topic, value, key=b"person-1")
    await kafka.send(topic, b"sentinel", key=b"person-1")
    await kafka.send(topic, b"after", key=b"person-1")
    before = await kafka.collect_until(topic, lambda r: r.value != b"other", lambda r: r.value == b"sentinel")
    assert [r.value for r in before] == [b"one", b"two", b"three"]
    with pytest.raises(AssertionError, match="no sentinel"):
        await kafka.collect_until(topic, lambda r: True, lambda r: r.value == b"never", timeout=1)


async def test_read_all_reads_what_a_topic_holds_now(kafka: KafkaProbe) -> None:
    topic = unique("test.probe.")
    assert await kafka.read_all(topic) == []  # no such topic yet
    for i in range(7):
        await kafka.send(topic, f"m{i}".encode(), key=f"k{i}".encode())
    assert sorted(r.value for r in await kafka.read_all(topic)) == [f"m{i}".encode() for i in range(7)]
    assert [r.value for r in await kafka.read_all(topic, lambda r: r.key == b"k3")] == [b"m3"]
