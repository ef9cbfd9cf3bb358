"""The alerts ledger: which alerts were delivered on ``isp.alerts.<ORG>.v1`` topics.

faust's pattern subscriptions do not work (its aiokafka driver says so), so this is a plain
aiokafka consumer in the service's own consumer group, subscribed by pattern, committing its
offsets only after the alerts it read are in the database. A new organisation's topic is
noticed within ``alerts_metadata_max_age_ms``.

Nothing waits on the ledger (reconciliation looks at alerts minutes old), so it asks the broker for
large fetches (``fetch_min_bytes``, or what came within ``fetch_max_wait_ms``): at a few hundred alerts a
second, batches of hundreds instead of about ten, and a fraction of the CPU per alert (each batch is a
transaction and an offset commit). The batch is noted in a worker thread, so the service's event loop
does not wait on the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from isp_common.clock import Clock
from isp_common.db import UnitOfWork
from isp_common.kafka_clients import PLAINTEXT
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from pydantic import ValidationError

from .handlers import alert_row, note_alerts

log = logging.getLogger(__name__)


class AlertsLedger:
    def __init__(
        self,
        bootstrap: str,
        group: str,
        uow_factory: Callable[[], UnitOfWork],
        metadata_max_age_ms: int,
        clock: Clock,
        auth: Mapping[str, Any] = PLAINTEXT,
        *,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 500,
    ):
        self.bootstrap = bootstrap
        self.auth = auth
        self.group = group
        self.uow_factory = uow_factory
        self.metadata_max_age_ms = metadata_max_age_ms
        self.clock = clock
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alerts ledger failed; restarting in 2s")
                await asyncio.sleep(2.0)
            finally:
                if self.consumer is not None:
                    await self.consumer.stop()
                    self.consumer = None

    async def _consume(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=self.metadata_max_age_ms,
            fetch_min_bytes=self.fetch_min_bytes,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            **self.auth,
        )
        await self.consumer.start()
        self.consumer.subscribe(pattern=topics.ALERTS_PATTERN)
        while True:
            batch = await self.consumer.getmany(timeout_ms=1000, max_records=500)
            if not batch:
                continue
            messages = [(tp.topic, r.value) for tp, records in batch.items() for r in records]
            await asyncio.to_thread(self._note_and_commit, messages)
            await self.consumer.commit()

    def _note_and_commit(self, messages: list[tuple[str, bytes | None]]) -> None:
        with self.uow_factory() as uow:
            self.note_all(uow, messages, self.clock)
            uow.commit()

    @staticmethod
    def note_all(uow: UnitOfWork, messages: Iterable[tuple[str, bytes | None]], clock: Clock) -> None:
        """Note the alerts among ``messages`` (topic, value) in ``uow``: each seen at ``clock.now()``
        as it is read, unreadable ones skipped, alerts already noted kept as they were."""
        rows = []
        for topic, value in messages:
            now = clock.now()
            try:
                event = CloudEvent.from_json_bytes(value or b"")
            except ValidationError:
                log.warning("alerts ledger: skipped an unreadable message on %s", topic)
                continue
            row = alert_row(topic, event, now)
            if row is not None:
                rows.append(row)
        note_alerts(uow, rows)
