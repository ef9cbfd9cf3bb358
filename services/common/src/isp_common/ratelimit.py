"""A per-organisation rate limit: a token bucket counted in units of work (the events gateway counts
events, a batch of 500 costing 500; the audit service counts whole-chain verifications)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RateLimit:
    rate: float
    """Events per second each organisation may publish on average."""
    burst: int
    """Events an organisation may publish at once."""
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per organisation: tokens left, and when they were counted (seconds, monotonic)."""

    def take(self, org: str, events: int, now: float) -> float | None:
        """Spend ``events`` of ``org``'s tokens at ``now``: None when allowed, else the seconds to
        wait before the same request would be (nothing is spent on a refusal)."""
        tokens, at = self._buckets.get(org, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if events > self.burst:
            return float("inf")
        if tokens >= events:
            self._buckets[org] = (tokens - events, now)
            return None
        self._buckets[org] = (tokens, now)
        return (events - tokens) / self.rate
