"""Checking a webhook URL against :mod:`isp_notifications.domain.webhook_urls`, with the host
name resolved by DNS (production only: the embedded default does not resolve)."""

from __future__ import annotations

import socket

from ..domain.errors import InvalidWebhookUrl
from ..domain.webhook_urls import validate_webhook_url


def resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to; :class:`InvalidWebhookUrl` when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise InvalidWebhookUrl(f"host {host!r} does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


def check_webhook_url(url: str, environment: str) -> str:
    """``url`` if a subscription may use it, else :class:`InvalidWebhookUrl`."""
    return validate_webhook_url(url, environment, resolve)
