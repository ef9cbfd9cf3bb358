"""The gateway's own collaborators, on ``runtime.context``: its signer and the rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from isp_common.provenance import Signer
from isp_common.ratelimit import RateLimit


@dataclass
class Gateway:
    signer: Signer
    limit: RateLimit
    max_batch: int
    send_timeout: float
    monotonic: Callable[[], float] = field(default=time.monotonic)
