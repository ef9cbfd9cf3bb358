"""Which webhook URLs a subscription may use.

Production: ``https`` only, and only globally routable addresses (``is_global``): never the
host itself, a private or shared (100.64.0.0/10, carrier-grade NAT) network, link-local,
unspecified, reserved or multicast, nor an IPv6 address that carries such an IPv4 address
(IPv4-mapped, 6to4, NAT64), checked on the literal address and on every address the host
name resolves to, so a subscription cannot be pointed at internal services (server-side
request forgery). The delivery loop applies the same rule to every connection it makes
(:mod:`isp_notifications.delivery.urls`). The embedded default also allows ``http``,
loopback and private addresses, so a partner can try it on a laptop.

The host name is resolved by the ``resolver`` passed in (DNS in the service: see
:func:`isp_notifications.delivery.urls.check_webhook_url`), so the rule itself does no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from .errors import InvalidWebhookUrl

Resolver = Callable[[str], Iterable[str]]


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _carried(address: Address) -> list[Address]:
    """``address`` and any IPv4 address it carries (IPv4-mapped, 6to4, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    if address.ipv4_mapped is not None:  # the IPv4 address itself, reached over IPv6
        return [address.ipv4_mapped]
    carried: list[Address] = []
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address in NAT64:
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [*carried, address]


def address_refused(address: Address, production: bool) -> str | None:
    """Why a webhook may not go to ``address`` (None when it may)."""
    for each in _carried(address):
        reason = _refused(each, production)
        if reason:
            return reason
    return None


def _refused(address: Address, production: bool) -> str | None:
    if address.is_loopback:
        return None if not production else "loopback addresses are refused"
    if address.is_link_local:
        return "link-local addresses are refused"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "unspecified, multicast and reserved addresses are refused"
    if not production:
        return None
    if address.is_private:
        return "private addresses are refused"
    if not address.is_global:  # e.g. 100.64.0.0/10, shared by carrier-grade NAT, is neither private nor global
        return "addresses that are not globally routable are refused"
    return None


def validate_webhook_url(url: str, environment: str, resolver: Resolver) -> str:
    """Return ``url`` if a subscription may use it, else raise :class:`InvalidWebhookUrl`."""
    production = environment == "production"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidWebhookUrl(f"not a valid URL: {exc}") from None
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        raise InvalidWebhookUrl(f"the scheme must be {' or '.join(allowed)}")
    if not parts.hostname:
        raise InvalidWebhookUrl("the URL has no host")
    if parts.username or parts.password:
        raise InvalidWebhookUrl("credentials in the URL are refused; verify signatures instead")
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
            addresses = [ipaddress.ip_address("127.0.0.1")]
        else:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolver(host)] if production else []
    for address in addresses:
        reason = address_refused(address, production)
        if reason:
            raise InvalidWebhookUrl(reason)
    return url
