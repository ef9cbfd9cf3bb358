"""Publishing a validated request: sign each event on the caller's behalf, send them all, and
return only once the broker has acknowledged every one (``acks=all``)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from isp_common import telemetry
from isp_common.errors import DomainError
from isp_common.provenance import SIGNATURE_HEADER, SIGNED_FOR_HEADER

from .context import Gateway
from .domain.events import Outgoing


class BrokerUnavailable(DomainError):
    status = 503
    title = "The broker did not acknowledge"
    problem_type = "urn:isp:problem:broker-unavailable"


class TooManyEvents(DomainError):
    status = 429
    title = "Too many events"
    problem_type = "urn:isp:problem:rate-limited"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def admit(gateway: Gateway, org: str, events: int) -> None:
    """Spend the organisation's rate for ``events`` or refuse with when to try again."""
    wait = gateway.limit.take(org, events, gateway.monotonic())
    if wait is None:
        return
    if wait == float("inf"):
        raise TooManyEvents(f"at most {gateway.limit.burst} events in one request", retry_after=60)
    raise TooManyEvents(
        f"{org} may publish {gateway.limit.rate:g} events a second (bursts of {gateway.limit.burst})",
        retry_after=wait,
    )


async def publish(producer: AIOKafkaProducer, gateway: Gateway, org: str, events: list[Outgoing]) -> list[str]:
    """Send ``events`` signed for ``org``; their ids once all are acknowledged, else BrokerUnavailable
    (some may have been published: sending the same ids again is a no-op for every consumer)."""
    traceparent = telemetry.current_traceparent()
    sends = []
    for event in events:
        headers = [
            (SIGNATURE_HEADER, gateway.signer.sign(event.value).encode()),
            (SIGNED_FOR_HEADER, org.encode()),
        ]
        if traceparent:
            headers.append(("traceparent", traceparent.encode()))
        sends.append(await producer.send(event.topic, event.value, key=event.key.encode(), headers=headers))
    try:
        await asyncio.wait_for(asyncio.gather(*sends), timeout=gateway.send_timeout)
    except Exception as exc:
        raise BrokerUnavailable(
            f"not every event was acknowledged ({type(exc).__name__}); send the request again: "
            "events already published are ignored by id"
        ) from None
    return [event.event_id for event in events]
