"""Standard Webhooks signing and one HTTP attempt.

Signature: ``webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``
(https://www.standardwebhooks.com), computed by the ``standardwebhooks`` package; while a
rotated secret's overlap lasts, one signature per secret, space-separated (the specification
allows several, and a receiver accepts the message when any one verifies). The
``webhook-id`` is the delivery's id, the same on every retry, so a receiver dedupes on it.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from isp_schemas.envelope import CONTENT_TYPE
from standardwebhooks.webhooks import Webhook

from .urls import refusal


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(keys: str | Sequence[str], webhook_id: str, at: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers, signed with each of ``keys`` (the newest first)."""
    signing = [keys] if isinstance(keys, str) else list(keys)
    signature = " ".join(Webhook(key).sign(msg_id=webhook_id, timestamp=at, data=body) for key in signing)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": CONTENT_TYPE,
    }


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


async def post(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: str) -> Outcome:
    """One try. Errors are described by status or exception class, never by the body."""
    started = time.perf_counter()
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        reason = refusal(exc)
        error = f"refused: {reason}" if reason else type(exc).__name__
        return Outcome(False, None, error, _elapsed_ms(started))
    ok = 200 <= response.status_code < 300
    return Outcome(ok, response.status_code, None if ok else f"HTTP {response.status_code}", _elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
