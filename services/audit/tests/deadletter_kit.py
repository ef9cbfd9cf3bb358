"""Dead letters as the services' consumers write them, for the rejection tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from isp_audit import rejections
from isp_common import deadletter
from isp_common.testing import nhs_number, unique
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
