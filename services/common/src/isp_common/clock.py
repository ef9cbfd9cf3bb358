"""The one clock. Every "now" in a service comes from the runtime's clock, so tests fix time
instead of patching ``datetime``. Instants are aware UTC (see :mod:`isp_common.times`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told: ``FixedClock(at)``, ``.advance(hours=2)``, ``.set(at)``."""

    def __init__(self, at: datetime | None = None) -> None:
        self._now = (at or datetime(2026, 3, 2, 10, 0, tzinfo=UTC)).astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**parts)
        return self._now
