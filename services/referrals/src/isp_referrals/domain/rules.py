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

REFERRER_KINDS: dict[str, frozenset[str]] = {
    "to_social_care": frozenset({"treatment_provider", "health", "police", "education"}),
    "to_treatment": frozenset({"children_social_care"}),
}
"""The directory kinds that may make a referral in each direction.

To treatment: children's social care only (the protocol's priority referral). To social care: the
treatment services, and the health, police and education services that the protocol counts among
the front-line practitioners who share safeguarding concerns about a child (the national
protocol's scope) and that the law expects to refer them to the local authority. Not children's
social care itself (it opens its own enquiries, it does not refer to itself), not the partnership's
information governance and not an organisation of kind ``other``."""

SOCIAL_CARE_THRESHOLDS = frozenset({"child_protection_s47", "child_in_need_s17", EMERGENCY_THRESHOLD})
"""Thresholds of social care's duties (s47 enquiry, s17 child in need, risk of immediate harm): a
referral *to* social care asks social care to act on them, so only such a referral may carry one.
Each is a statutory ground to share (an emergency: significant harm), so a referral to treatment
that carried one would make its sender "the social care organisation working with" the parent."""

ROLE_OF_KIND: dict[str, str] = {"children_social_care": "social_care"}
"""The token role (CONTRACT section 2) a practitioner of an organisation of each kind refers with;
every other kind that may refer (treatment, health, police, education) refers with ``provider``."""
PROVIDER_ROLE = "provider"


def party_refusal(direction: str, from_kind: str | None, to_kind: str | None) -> tuple[str, str] | None:
    """Why the directory does not allow this referral, as ``(field, reason)``; None when it does.

    The referring organisation must be in the partnership directory and of a kind that may refer
    in this direction (:data:`REFERRER_KINDS`; refused naming ``direction``); a referral to social
    care goes to an organisation of kind ``children_social_care``, one to treatment to a
    ``treatment_provider``. A kind of None means the organisation is not in the directory."""
    if from_kind is None:
        return "from_org", "the referring organisation is not in the partnership directory"
    if from_kind not in REFERRER_KINDS[direction]:
        allowed = ", ".join(sorted(REFERRER_KINDS[direction]))
        return "direction", f"a referral {direction} is made by an organisation of kind {allowed}, not {from_kind}"
    wanted = RECEIVER_KIND[direction]
    if to_kind is None:
        return "to_org", "the organisation referred to is not in the partnership directory"
    if to_kind != wanted:
        return "to_org", f"a referral {direction} goes to an organisation of kind {wanted}, not {to_kind}"
    return None


def threshold_refusal(direction: str, threshold: str | None) -> tuple[str, str] | None:
    """Why ``threshold`` does not fit ``direction``, as ``(field, reason)``; None when it does
    (:data:`SOCIAL_CARE_THRESHOLDS` only on a referral to social care)."""
    if threshold in SOCIAL_CARE_THRESHOLDS and direction != "to_social_care":
        return "threshold", f"threshold {threshold} is only for a referral to_social_care"
    return None


def role_refusal(kind: str | None, roles: frozenset[str]) -> str | None:
    """Why a caller with ``roles`` may not refer for an organisation of ``kind`` (its own); None
    when it may. A kind that may not refer at all is left to :func:`party_refusal`."""
    if kind is None or not any(kind in kinds for kinds in REFERRER_KINDS.values()):
        return None
    wanted = ROLE_OF_KIND.get(kind, PROVIDER_ROLE)
    if wanted in roles:
        return None
    return f"an organisation of kind {kind} refers with role {wanted}"


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
