"""The protocol's rules about a referral's kind: who may refer to whom, priority, emergency, the
practitioner's due dates, the DNA to report, what may be amended."""

from __future__ import annotations

PRIORITY_DIRECTION = "to_treatment"
"""A referral from children's social care to treatment is a priority referral (protocol)."""
EMERGENCY_THRESHOLD = "emergency"
S47_THRESHOLD = "child_protection_s47"

RECEIVER_KIND: dict[str, str] = {
    "to_social_care": "children_social_care",
    "to_treatment": "treatment_provider",
}
"""The directory kind (CONTRACT section 9) the receiving organisation of each direction must have."""


def party_refusal(direction: str, from_kind: str | None, to_kind: str | None) -> tuple[str, str] | None:
    """Why the directory does not allow this referral, as ``(field, reason)``; None when it does.

    The referring organisation must be in the partnership directory; a referral to social care
    goes to an organisation of kind ``children_social_care``, one to treatment to a
    ``treatment_provider``. A kind of None means the organisation is not in the directory."""
    if from_kind is None:
        return "from_org", "the referring organisation is not in the partnership directory"
    wanted = RECEIVER_KIND[direction]
    if to_kind is None:
        return "to_org", "the organisation referred to is not in the partnership directory"
    if to_kind != wanted:
        return "to_org", f"a referral {direction} goes to an organisation of kind {wanted}, not {to_kind}"
    return None


def practitioner_dues_apply(direction: str) -> bool:
    """The joint visit, the workbook and the monthly summary are the treatment practitioner's
    duties (practice guidance, "Allocation"): due on referrals to treatment only."""
    return direction == PRIORITY_DIRECTION


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
