"""The register's own collaborators, on ``runtime.context`` (set by :mod:`.bootstrap`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Register:
    """What the register's routes and timer need besides the runtime's engine and clock."""

    partnership_key: bytes
    """HMAC key of the pseudonymous ``person_key`` shared with the other services."""
    review_reminder_days: int
    """How many days before an entry's review date ReviewDue is raised."""
