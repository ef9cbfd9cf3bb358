"""Standard Webhooks signing, the retry schedule, and one HTTP attempt.

Signature: ``webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``
(https://www.standardwebhooks.com), computed by the ``standardwebhooks`` package. The
``webhook-id`` is the delivery's id, the same on every retry, so a receiver dedupes on it.
"""

from __future__ import annotations

import base64
import random
import secrets
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

CONTENT_TYPE = "application/cloudevents+json"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, webhook_id: str, at: datetime, body: str) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=webhook_id, timestamp=at, data=body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": CONTENT_TYPE,
    }


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based): exponential, capped, with
    "equal jitter" (half the step fixed, half random) so retries spread out but never bunch
    up at zero."""
    step = min(cap, base * 2 ** (attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


async def post(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: str) -> Outcome:
    """One try. Errors are described by status or exception class, never by the body."""
    started = datetime.now().timestamp()
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        elapsed = int((datetime.now().timestamp() - started) * 1000)
        return Outcome(False, None, type(exc).__name__, elapsed)
    elapsed = int((datetime.now().timestamp() - started) * 1000)
    ok = 200 <= response.status_code < 300
    return Outcome(ok, response.status_code, None if ok else f"HTTP {response.status_code}", elapsed)
