"""The protocol's rules about a referral's kind: priority, emergency, the DNA to report, what may be amended."""

from __future__ import annotations

PRIORITY_DIRECTION = "to_treatment"
"""A referral from children's social care to treatment is a priority referral (protocol)."""
EMERGENCY_THRESHOLD = "emergency"


def is_emergency(threshold: str | None) -> bool:
    """An emergency referral (risk of immediate harm): shared on the statutory ground
    significant_harm and not held for the weekly allocation."""
    return threshold == EMERGENCY_THRESHOLD


def missed_appointment_is_dna_to_report(direction: str | None, kind: str) -> bool:
    """The DNA rule: a parent referred by social care who misses the *assessment*
    appointment must be reported to social care within 24 hours."""
    return direction == PRIORITY_DIRECTION and kind == "assessment"


AMENDABLE_FIELDS: tuple[str, ...] = (
    "rag",
    "threshold",
    "summary",
    "children",
    "consent_id",
    "parent_agreed",
    "concerns",
    "history",
    "known_to_treatment",
)
"""The fields of a requested referral its sender may change until it is accepted."""
