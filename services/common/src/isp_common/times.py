"""Instants as the services store them: UTC. SQLite hands stored datetimes back naive, so a
naive value read from a database means UTC. (Calendar dates are reckoned in Europe/London:
see :mod:`isp_common.workingdays`.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(dt: datetime) -> datetime: ...
@overload
def as_utc(dt: None) -> None: ...
def as_utc(dt: datetime | None) -> datetime | None:
    """An aware UTC datetime for a stored one (naive means UTC); None stays None."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
