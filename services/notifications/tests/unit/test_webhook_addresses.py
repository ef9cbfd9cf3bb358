"""Webhooks an attacker cannot turn inward (issue 11, "Webhooks"): the ``is_global`` rule, the
check before every try (heartbeats included), and connections pinned to the checked address,
so a DNS answer that changes between the check and the connection (rebinding) reaches nothing.

A loopback listener plays the internal service an attacker aims at; resolvers are functions
(or a patched ``socket.getaddrinfo``) whose answers change from one call to the next."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import httpcore
import httpx
import pytest
from isp_common.testing import FakeHttpClient, outbox_events
from isp_notifications.delivery import escalation, urls
from isp_notifications.delivery.urls import PinnedTransport, webhook_client
from isp_notifications.domain.errors import InvalidWebhookUrl
from isp_notifications.domain.webhook_urls import validate_webhook_url
from isp_notifications.tables import AlertRecord, Delivery, DeliveryAttempt
from isp_schemas import topics

from ..kit import CSC
from .test_delivery import ESCALATION, FAST, PRODUCTION, consent_and_dna, loop_of, queue_delivery, rows, subscribe

PUBLIC = "93.184.216.34"
REMINDER = "uk.isp.alert.register_review_due.v1"


@dataclass
class Listener:
    """A loopback HTTP endpoint answering 200 to anything, keeping each request's head."""

    port: int = 0
    heads: list[bytes] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = Listener()
    server = await asyncio.start_server(found.serve, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    async with server:
        yield found


def answers(*each: list[str]) -> tuple[list[str], object]:
    """A resolver answering ``each`` in turn (the last for ever after), and the names it was asked."""
    asked: list[str] = []
    turns = itertools.chain(each, itertools.repeat(each[-1]))

    def resolve(host: str) -> Iterable[str]:
        asked.append(host)
        return next(turns)

    return asked, resolve


class Recording(httpcore.AsyncNetworkBackend):
    """A network that records where it is asked to connect and connects nowhere."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001, ANN201
        self.connects.append((host, port))
        raise httpcore.ConnectError("unreachable (test network)")


# -- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["100.64.0.1", "100.127.255.254", "192.0.2.7", "198.18.0.1", "[64:ff9b::a00:1]", "[2002:a00:1::]"]
)
def test_in_production_an_address_that_is_not_globally_routable_is_refused(address):
    """100.64.0.0/10 (carrier-grade NAT) is neither private nor global: the old is_private rule let it through."""
    with pytest.raises(InvalidWebhookUrl, match="refused"):
        validate_webhook_url(f"https://{address}/hook", "production", lambda _host: [])


def test_a_name_resolving_to_a_cgnat_address_is_refused():
    with pytest.raises(InvalidWebhookUrl, match="not globally routable"):
        validate_webhook_url("https://hooks.example.org/", "production", lambda _host: [PUBLIC, "100.100.100.100"])


# -- the pinned transport ----------------------------------------------------------------------


async def test_the_transport_connects_to_the_address_it_resolved_keeping_the_host_name(listener):
    asked, resolve = answers(["127.0.0.1"])
    async with httpx.AsyncClient(transport=PinnedTransport("embedded", resolve)) as client:
        response = await client.post(f"http://hooks.example.test:{listener.port}/hook", content=b"{}")
    assert response.status_code == 200 and asked == ["hooks.example.test"]
    [head] = listener.heads
    assert f"host: hooks.example.test:{listener.port}".encode() in head.lower()  # Host is the URL's (and so is SNI)


async def test_dns_rebinding_between_the_check_and_the_connection_cannot_reach_a_loopback_listener(listener):
    """The name answers a public address to the check and loopback after: the connection goes to
    the checked address, and nothing asks the name again."""
    asked, resolve = answers([PUBLIC], ["127.0.0.1"])
    network = Recording()
    async with httpx.AsyncClient(transport=PinnedTransport("production", resolve, inner=network)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"https://rebind.example.test:{listener.port}/hook", content=b"{}")
    assert network.connects == [(PUBLIC, listener.port)] and asked == ["rebind.example.test"]
    assert listener.heads == []


async def test_the_transport_refuses_a_name_that_answers_loopback_in_production(listener):
    _, resolve = answers(["127.0.0.1"])
    async with httpx.AsyncClient(transport=PinnedTransport("production", resolve)) as client:
        with pytest.raises(httpx.ConnectError) as raised:
            await client.post(f"https://inside.example.test:{listener.port}/hook", content=b"{}")
    assert urls.refusal(raised.value) == "loopback addresses are refused"
    assert listener.heads == []


async def test_a_name_rebound_after_the_loops_check_is_refused_by_the_connection_it_would_use(
    make_runtime, listener, monkeypatch
):
    """Through the delivery loop with the service's own client: the loop's check sees a public
    address, the name then answers loopback; the try is refused, the listener hears nothing."""
    turns = itertools.chain([PUBLIC], itertools.repeat("127.0.0.1"))

    def getaddrinfo(host, port, *args, **kwargs):  # noqa: ANN001, ANN202
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(turns), port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    client = webhook_client("production", timeout=5)
    runtime = make_runtime(client, **FAST, **PRODUCTION)
    alert = consent_and_dna(runtime)
    queue_delivery(runtime, alert["id"], "sub-rebind", f"https://rebind.example.test:{listener.port}/hook")
    await loop_of(runtime).pass_once()
    await client.aclose()
    [attempt] = rows(runtime, DeliveryAttempt, DeliveryAttempt.delivery_id == "msg_sub-rebind")
    assert attempt.outcome == "retry" and attempt.error == "refused: loopback addresses are refused"
    assert listener.heads == []


# -- every try, heartbeats included ------------------------------------------------------------


async def test_a_heartbeat_checks_the_address_too(make_runtime):
    http = FakeHttpClient()
    runtime = make_runtime(http, **{**FAST, "heartbeat_interval": 60}, **PRODUCTION)
    subscribe(runtime, url="https://100.64.0.9/hook")  # made before the rule, or re-pointed since
    runtime.clock.advance(seconds=61)
    await loop_of(runtime).pass_once()
    assert http.requests == []
    [beat] = rows(runtime, DeliveryAttempt, DeliveryAttempt.kind == "heartbeat")
    assert beat.outcome == "failed" and beat.error == "refused: addresses that are not globally routable are refused"


def test_an_escalation_never_tells_an_organisation_what_answered_at_its_own_endpoint(make_runtime):
    """An organisation's own alert (a register reminder) failing at its own URL is escalated without the error."""
    runtime = make_runtime()
    sub = subscribe(runtime, url="http://10.0.0.5:6379/")
    now = runtime.clock.now()
    with runtime.uow() as uow:
        uow.session.add(
            AlertRecord(id="own", type=REMINDER, recipient=CSC, sender=CSC, event={"data": {}}, created_at=now)
        )
        uow.session.add(
            Delivery(
                id="msg_own",
                alert_id="own",
                subscription_id=sub.id,
                org=CSC,
                event_number=1,
                body="{}",
                next_attempt_at=now,
                attempts=3,
                first_failure_at=now,
                last_error="HTTP 401",
            )
        )
        uow.commit()
        assert escalation.escalate_failing_endpoints(uow, now + timedelta(hours=2), 3600) == 1
        uow.commit()
    [escalated] = outbox_events(runtime.engine, topics.alerts(CSC), ESCALATION)
    assert escalated["data"]["escalated_alert_id"] == "own" and "last_error" not in escalated["data"]
