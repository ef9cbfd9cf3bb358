"""Unit-test fixtures: a real unit of work on in-memory SQLite, and helpers to feed events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.tables import OutboxMessage
from isp_notifications.tables import AlertRecord
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from sqlmodel import select


class Store:
    def __init__(self):
        self.engine = make_engine("sqlite://")
        create_schema(self.engine)

    def handle(
        self, handler, data, source: str, now: datetime | None = None, event_time: datetime | None = None, **kw
    ) -> CloudEvent:
        event = CloudEvent.create(type=data.event_type, source_org=source, data=data, time=event_time)
        with UnitOfWork(self.engine) as uow:
            handler(uow, event, data, now=now or datetime.now(UTC), **kw)
            uow.commit()
        return event

    def run(self, fn, *args, **kw):
        with UnitOfWork(self.engine) as uow:
            result = fn(uow, *args, **kw)
            uow.commit()
            return result

    def published(self, topic: str, type_: str | None = None, sent: bool | None = None) -> list[dict]:
        with UnitOfWork(self.engine) as uow:
            stmt = select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)
            rows = [(r.event_type, r.sent_at, r.value) for r in uow.session.exec(stmt).all()]
        out = []
        for event_type, sent_at, value in rows:
            if type_ and event_type != type_:
                continue
            if sent is not None and (sent_at is not None) != sent:
                continue
            out.append(json.loads(value))
        return out

    def alerts_to(self, org: str, type_: str | None = None) -> list[dict]:
        return self.published(topics.alerts(org), type_)

    def audit(self, decision: str | None = None) -> list[dict]:
        records = [e["data"] for e in self.published(topics.AUDIT)]
        return [r for r in records if decision is None or r["decision"] == decision]

    def alert(self, alert_id: str) -> AlertRecord:
        with UnitOfWork(self.engine) as uow:
            alert = uow.session.get(AlertRecord, alert_id)
            uow.session.expunge(alert)
            return alert

    def mark_outbox_sent(self) -> None:
        with UnitOfWork(self.engine) as uow:
            for row in uow.session.exec(select(OutboxMessage)).all():
                row.sent_at = datetime.now(UTC)
                uow.session.add(row)
            uow.commit()


@pytest.fixture
def store() -> Store:
    return Store()
