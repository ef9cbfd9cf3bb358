"""Checking a webhook URL against :mod:`isp_notifications.domain.webhook_urls`, with the host
name resolved by DNS, and the HTTP transport that applies the same rule to every connection.

:class:`PinnedTransport` resolves a host name once per connection, checks every address it
resolved to, and connects to the first of them: the socket goes to the address that was
checked, while the URL's host name stays the request's ``Host`` and the TLS server name (SNI
and certificate verification are httpcore's, against the host name). A name that answers a
public address to the check and an internal one a moment later (DNS rebinding) cannot move
the connection, since nothing resolves the name again. A kept-alive connection was checked
when it was opened. Production refuses every address that is not globally routable; the
embedded default allows loopback and private addresses (a receiver on a laptop).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import anyio
import httpcore
import httpx

from ..domain.errors import InvalidWebhookUrl
from ..domain.webhook_urls import Address, address_refused, validate_webhook_url

Resolver = Callable[[str], Iterable[str]]
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


def resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to; :class:`InvalidWebhookUrl` when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise InvalidWebhookUrl(f"host {host!r} does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


def check_webhook_url(url: str, environment: str, resolver: Resolver = resolve) -> str:
    """``url`` if a subscription may use it, else :class:`InvalidWebhookUrl`."""
    return validate_webhook_url(url, environment, resolver)


class AddressRefused(httpcore.ConnectError):
    """A connection the address rule refused (httpx raises it as an ``httpx.ConnectError`` from this)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"refused: {reason}")


def checked_address(host: str, production: bool, resolver: Resolver) -> str:
    """The one address to connect to for ``host``: resolved once, every answer checked."""
    try:
        answers = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            answers = [ipaddress.ip_address(a.split("%")[0]) for a in resolver(host)]
        except InvalidWebhookUrl as exc:
            raise AddressRefused(exc.reason) from None
    if not answers:
        raise AddressRefused(f"host {host!r} does not resolve")
    for address in answers:
        reason = address_refused(address, production)
        if reason:
            raise AddressRefused(reason)
    return _connectable(answers[0])


def _connectable(address: Address) -> str:
    return str(address.ipv4_mapped or address) if isinstance(address, ipaddress.IPv6Address) else str(address)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address rule between the name and the socket."""

    def __init__(self, production: bool, resolver: Resolver, inner: httpcore.AsyncNetworkBackend) -> None:
        self.production = production
        self.resolver = resolver
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await anyio.to_thread.run_sync(checked_address, host, self.production, self.resolver)
        return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are refused")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection goes to an address the rule allowed (no proxies)."""

    def __init__(
        self,
        environment: str,
        resolver: Resolver = resolve,
        *,
        inner: httpcore.AsyncNetworkBackend | None = None,
        limits: httpx.Limits = LIMITS,
    ) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(environment == "production", resolver, inner or httpcore.AnyIOBackend()),
        )


def webhook_client(environment: str, timeout: float, resolver: Resolver = resolve) -> httpx.AsyncClient:
    """The HTTP client webhooks are posted with: pinned connections, no redirects, no proxies
    from the environment (a proxy would connect on the service's behalf, unchecked)."""
    return httpx.AsyncClient(
        transport=PinnedTransport(environment, resolver),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


def refusal(exc: BaseException) -> str | None:
    """The rule's reason when ``exc`` (raised by httpx) is a refused connection."""
    cause = exc.__cause__ or exc.__context__
    return cause.reason if isinstance(cause, AddressRefused) else None
