"""Pure referral rules: no I/O, no framework imports."""

from __future__ import annotations

PRIORITY_DIRECTION = "to_treatment"


def is_priority(direction: str) -> bool:
    """A referral from children's social care to treatment is a priority referral (protocol)."""
    return direction == PRIORITY_DIRECTION


def missed_appointment_is_dna_to_report(direction: str | None, kind: str) -> bool:
    """The DNA rule: a parent referred by social care who misses the *assessment*
    appointment must be reported to social care within 24 hours."""
    return direction == PRIORITY_DIRECTION and kind == "assessment"
