"""isp_common.metrics: one registry per runtime (several in one process never mix), counts made in
a unit of work land only when it commits, scrape-time outbox and relay figures, consumer lag
from the consumer's high-water marks and committed offsets, and /metrics served without a token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from isp_common import metrics
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.settings import ServiceSettings
from isp_common.tables import OutboxMessage
from isp_common.times import utcnow


def sample(runtime: ServiceRuntime, name: str, **labels: str) -> float | None:
    return runtime.metrics.registry.get_sample_value(name, {"service": runtime.name, **labels})


def demo(tmp_path: Path, name: str) -> ServiceRuntime:
    engine = make_engine("sqlite://")
    create_schema(engine)
    return ServiceRuntime(ServiceSettings(service_name=name, var_dir=tmp_path / name), title=name, engine=engine)


def test_metrics_are_served_without_a_token_labelled_with_the_service(runtime):
    scraped = TestClient(runtime.api).get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert 'isp_outbox_depth{service="demo"} 0.0' in scraped.text
    assert "_created" not in scraped.text


def test_two_runtimes_in_one_process_keep_their_own_counts(tmp_path):
    one, two = demo(tmp_path, "one"), demo(tmp_path, "two")
    with one.uow() as uow:
        metrics.count_on_commit(uow, "isp_decisions", basis="consent", outcome="shared")
        uow.commit()
    assert sample(one, "isp_decisions_total", basis="consent", outcome="shared") == 1
    assert sample(two, "isp_decisions_total", basis="consent", outcome="shared") is None


def test_a_count_in_a_unit_of_work_lands_only_if_it_commits(runtime):
    with runtime.uow() as uow:
        metrics.count_on_commit(uow, "isp_deadlines_missed", type="a")
        uow.rollback()  # a batch that failed: its events are applied again and counted then
        metrics.count_on_commit(uow, "isp_deadlines_missed", type="a")
        uow.commit()
    with runtime.uow() as uow:
        metrics.count_on_commit(uow, "isp_deadlines_missed", type="a")  # left without commit
    assert sample(runtime, "isp_deadlines_missed_total", type="a") == 1


def test_a_unit_of_work_without_a_runtime_counts_where_no_one_scrapes():
    engine = make_engine("sqlite://")
    with UnitOfWork(engine) as uow:
        metrics.count_on_commit(uow, "isp_decisions", basis="none", outcome="withheld")
        uow.commit()
    assert metrics.of(engine).service == "none"


def test_outbox_depth_and_the_age_of_the_oldest_unsent_row_are_read_at_scrape_time(runtime):
    with runtime.uow() as uow:
        for age, sent in ((120, False), (30, False), (600, True)):
            at = utcnow() - timedelta(seconds=age)
            uow.session.add(
                OutboxMessage(
                    topic="t",
                    event_id=f"e{age}",
                    event_type="x",
                    value=b"{}",
                    created_at=at,
                    sent_at=at if sent else None,
                )
            )
        uow.commit()
    assert sample(runtime, "isp_outbox_depth") == 2
    assert 120 <= (sample(runtime, "isp_outbox_oldest_age_seconds") or 0) < 180


def test_the_relays_counts_are_exported_as_counters(runtime):
    @dataclass
    class Relay:
        published: int = 7
        given_up: int = 1
        pruned: int = 3

    runtime.relay = Relay()  # type: ignore[assignment]  # a stand-in with the three counts the collector reads
    assert sample(runtime, "isp_outbox_published_total") == 7
    assert sample(runtime, "isp_outbox_given_up_total") == 1
    assert sample(runtime, "isp_outbox_pruned_total") == 3


@dataclass(frozen=True, order=True)
class TP:
    topic: str
    partition: int


class FakeConsumer:
    """What the lag collector reads from faust's consumer."""

    def __init__(self) -> None:
        self.high = {TP("isp.treatment.v1", 0): 10, TP("isp.treatment.v1", 1): 4, TP("isp.consent.v1", 0): None}
        self._committed_offset = {TP("isp.treatment.v1", 0): 7}

    def assignment(self) -> set[TP]:
        return set(self.high)

    def highwater(self, tp: TP) -> int | None:
        return self.high[tp]


async def test_consumer_lag_is_the_high_water_mark_less_the_committed_offset(runtime):
    consumer = FakeConsumer()
    lag = metrics.ConsumerLag(runtime.metrics, lambda: consumer)
    runtime.metrics.before_scrape(lag.read)
    runtime.metrics.collect_with(lag.families)
    text = (await runtime.metrics.scrape()).decode()
    assert 'isp_consumer_lag{partition="0",service="demo",topic="isp.treatment.v1"} 3.0' in text
    assert 'isp_consumer_lag{partition="1",service="demo",topic="isp.treatment.v1"} 4.0' in text  # none committed
    assert 'topic="isp.consent.v1"' not in text  # nothing fetched yet: not known, not zero


def test_a_collector_that_fails_does_not_fail_the_scrape(runtime):
    def broken():
        raise RuntimeError("database away")

    runtime.metrics.collect_with(broken)
    assert TestClient(runtime.api).get("/metrics").status_code == 200
