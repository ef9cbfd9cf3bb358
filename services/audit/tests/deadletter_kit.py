"""Dead letters as the services' consumers write them, for the rejection tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from isp_audit import rejections
from isp_audit.bootstrap import build
from isp_audit.settings import Settings
from isp_common import deadletter
from isp_common.db import make_engine
from isp_common.testing import FixedClock, nhs_number, unique
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.treatment import AppointmentMissed
from sqlalchemy.engine import Engine
from sqlmodel import Session

from .kit import START

REASON = "rejected: organisation NEW-CSC is not in the partnership directory"


def missed(source_org: str = "CGL-WSX", **overrides: Any) -> CloudEvent:
    data = {**EXAMPLES[AppointmentMissed.event_type], "appointment_id": unique("apt-"), **overrides}
    data["person"] = {**data["person"], "nhs_number": nhs_number(7)}
    return CloudEvent.create(
        type=AppointmentMissed.event_type, source_org=source_org, data=AppointmentMissed.model_validate(data)
    )


def letter(
    value: bytes,
    *,
    consumer: str = "isp-notifications",
    reason: str = REASON,
    topic: str = topics.TREATMENT,
    position: tuple[int, int] | None = (0, 1),
    at: datetime = START,
    headers: list[tuple[str, bytes]] | None = None,
    key: bytes | None = b"key",
) -> rejections.DeadLetter:
    """``value`` as ``consumer`` dead-letters it (read at ``position`` of ``topic``)."""
    added = [
        (deadletter.ERROR, reason.encode()),
        (deadletter.SOURCE_TOPIC, topic.encode()),
        (deadletter.CONSUMER, consumer.encode()),
    ]
    if position is not None:
        added += [(deadletter.SOURCE_PARTITION, str(position[0]).encode())]
        added += [(deadletter.SOURCE_OFFSET, str(position[1]).encode())]
    return rejections.DeadLetter(key, value, [*(headers or []), *added], at)


def keep(engine: Engine, *letters: rejections.DeadLetter) -> None:
    with Session(engine) as session:
        for one in letters:
            rejections.keep(session, one)
        session.commit()


class FakeProducer:
    """Stands in for the runtime's aiokafka producer: keeps what it was asked to publish."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send_and_wait(self, topic, value=None, key=None, headers=None):
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": dict(headers or [])})


def api_client(var_dir: Path) -> TestClient:
    """The audit API in process on an in-memory database, with a fake producer behind replays;
    ``client.runtime`` is the runtime."""
    runtime = build(Settings(var_dir=var_dir), engine=make_engine("sqlite://"), clock=FixedClock(START))
    runtime.producer = FakeProducer()  # type: ignore[assignment]  # the one method replay calls
    client = TestClient(runtime.api, raise_server_exceptions=False)
    client.runtime = runtime  # type: ignore[attr-defined]  # the tests read the runtime back from the client
    return client


def reject(api, *events, topic: str = topics.TREATMENT, reason: str = REASON, offset: int = 0) -> None:
    """Each event dead-lettered twice (by two services), an hour apart from START."""
    letters = []
    for i, event in enumerate(events):
        at, position = START + timedelta(hours=i), (0, offset + i)
        value = event if isinstance(event, bytes) else event.to_json_bytes()
        for consumer in ("isp-notifications", "isp-referrals"):
            letters.append(letter(value, consumer=consumer, topic=topic, reason=reason, position=position, at=at))
    keep(api.runtime.engine, *letters)
