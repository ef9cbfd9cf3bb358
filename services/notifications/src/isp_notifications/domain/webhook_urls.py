"""Which webhook URLs a subscription may use.

Production: ``https`` only, and never an address inside the partnership's own network or
the host itself (loopback, private, link-local, unspecified, reserved, multicast), checked
on the literal address and on every address the host name resolves to, so a subscription
cannot be pointed at internal services (server-side request forgery). The embedded default
also allows ``http`` and loopback, so a partner can try it on a laptop.

The host name is resolved by the ``resolver`` passed in (DNS in the service: see
:func:`isp_notifications.delivery.urls.check_webhook_url`), so the rule itself does no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from .errors import InvalidWebhookUrl

Resolver = Callable[[str], Iterable[str]]


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address, production: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if not production else "loopback addresses are refused"
    if address.is_link_local:
        return "link-local addresses are refused"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "unspecified, multicast and reserved addresses are refused"
    if production and address.is_private:
        return "private addresses are refused"
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
        reason = _refused(address, production)
        if reason:
            raise InvalidWebhookUrl(reason)
    return url
