"""The disclosure policy (CONTRACT §6): may this be shared with that organisation?

Pure: no I/O. The caller gathers the facts from its store and asks; the answer is
either *shared* (with the lawful basis and the data categories it covers) or
*withheld* (with the reason).

Order (CONTRACT §6, DOMAIN rule 6):

1. A statutory ground, for purpose ``safeguarding`` only: an open section 47 enquiry
   or an active child protection plan for a child of the person (the enquiry or plan
   names the person as a parent, or names one of the children linked to them; unborn
   children count), an open emergency referral (significant harm), or, for the
   register's data only, a cross-area register match. A ground covers the
   safeguarding categories (:data:`STATUTORY_CATEGORIES`); the register match covers
   ``register`` alone.
2. Otherwise one active consent of the person (given on or before today, not past its
   ``expires_on`` (the last day it holds), not withdrawn at or before the decision)
   naming the recipient (or ``*``), the purpose and every *required* category.
3. Otherwise withheld, with the most specific reason.

A request names *required* categories (the alert's core: without them nothing is sent)
and *optional* ones (sent only if the same basis covers them). Only covered categories
are returned, and the caller puts only those in the payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from isp_common.workingdays import london_date

SAFEGUARDING = "safeguarding"
WHOLE_PARTNERSHIP = "*"

StatutoryGround = Literal[
    "child_protection_enquiry", "child_protection_plan", "significant_harm", "safeguarding_register_match"
]
SAFEGUARDING_CATEGORIES = frozenset({"referral", "attendance", "treatment_status", "risk", "conference"})
STATUTORY_CATEGORIES: dict[str, frozenset[str]] = {
    "significant_harm": SAFEGUARDING_CATEGORIES,
    "child_protection_enquiry": SAFEGUARDING_CATEGORIES,
    "child_protection_plan": SAFEGUARDING_CATEGORIES,
    "safeguarding_register_match": frozenset({"register"}),
}


@dataclass(frozen=True)
class ChildRef:
    """A child as the facts know it. Two refs are the same child when an identifier agrees."""

    nhs_number: str | None = None
    local_id: str | None = None
    expected_due_date: date | None = None

    @classmethod
    def of(cls, child: dict[str, Any]) -> ChildRef:
        edd = child.get("expected_due_date")
        if isinstance(edd, str):
            edd = date.fromisoformat(edd)
        return cls(child.get("nhs_number"), child.get("local_id"), edd)

    def same_child(self, other: ChildRef) -> bool:
        return bool(
            (self.nhs_number and self.nhs_number == other.nhs_number)
            or (self.local_id and self.local_id == other.local_id)
        )


@dataclass(frozen=True)
class Consent:
    consent_id: str
    recipients: Sequence[str]
    purposes: Sequence[str]
    data_categories: Sequence[str]
    given_on: date
    expires_on: date | None = None
    withdrawn_at: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        today = london_date(at)
        if self.given_on > today:
            return False
        if self.expires_on is not None and today > self.expires_on:
            return False
        return not (self.withdrawn_at is not None and self.withdrawn_at <= at)

    def names(self, recipient: str) -> bool:
        return WHOLE_PARTNERSHIP in self.recipients or recipient in self.recipients

    def covers(self, recipient: str, purpose: str, category: str) -> bool:
        return self.names(recipient) and purpose in self.purposes and category in self.data_categories


@dataclass(frozen=True)
class Enquiry:
    """A section 47 enquiry: open from ``opened_on`` until (not including) ``closed_on``."""

    enquiry_id: str
    child: ChildRef
    parents: frozenset[str]
    opened_on: date
    closed_on: date | None = None

    def open_on(self, day: date) -> bool:
        return self.opened_on <= day and (self.closed_on is None or day < self.closed_on)


@dataclass(frozen=True)
class Plan:
    """A child protection or child in need plan: active from ``started_on`` until ``ended_on``."""

    plan_id: str
    kind: str
    child: ChildRef
    parents: frozenset[str]
    started_on: date
    ended_on: date | None = None

    def active_on(self, day: date) -> bool:
        return self.started_on <= day and (self.ended_on is None or day < self.ended_on)


@dataclass(frozen=True)
class Facts:
    """What the service knows when deciding."""

    consents: Sequence[Consent] = ()
    enquiries: Sequence[Enquiry] = ()
    plans: Sequence[Plan] = ()
    emergency: bool = False
    """An emergency referral (risk of significant harm) about the person is open."""
    register_match: bool = False
    """The share is the fact of a cross-area register match."""


@dataclass(frozen=True)
class Request:
    """Share categories of information about ``person`` (NHS number) with ``recipient``."""

    recipient: str
    purpose: str
    required: Sequence[str]
    at: datetime
    person: str | None = None
    children: Sequence[ChildRef] = ()
    optional: Sequence[str] = ()


@dataclass(frozen=True)
class Decision:
    shared: bool
    basis: dict[str, Any] | None = None
    categories: tuple[str, ...] = ()
    reason: str | None = None
    withheld_categories: tuple[str, ...] = field(default=())

    @property
    def statutory(self) -> bool:
        return bool(self.basis and self.basis.get("kind") == "statutory")


def _concerns_person(parents: frozenset[str], child: ChildRef, request: Request) -> bool:
    if request.person and request.person in parents:
        return True
    return any(child.same_child(c) for c in request.children)


def statutory_grounds(request: Request, facts: Facts) -> list[StatutoryGround]:
    """Every statutory ground that holds for the request, strongest first."""
    if request.purpose != SAFEGUARDING:
        return []
    today = london_date(request.at)
    grounds: list[StatutoryGround] = []
    if facts.emergency:
        grounds.append("significant_harm")
    if any(e.open_on(today) and _concerns_person(e.parents, e.child, request) for e in facts.enquiries):
        grounds.append("child_protection_enquiry")
    if any(
        p.kind == "child_protection" and p.active_on(today) and _concerns_person(p.parents, p.child, request)
        for p in facts.plans
    ):
        grounds.append("child_protection_plan")
    if facts.register_match:
        grounds.append("safeguarding_register_match")
    return grounds


def decide(request: Request, facts: Facts) -> Decision:
    required = tuple(dict.fromkeys(request.required))
    optional = tuple(c for c in dict.fromkeys(request.optional) if c not in required)
    for ground in statutory_grounds(request, facts):
        covered = STATUTORY_CATEGORIES[ground]
        if set(required) <= covered:
            return _shared({"kind": "statutory", "ground": ground}, required, optional, covered)
    best: tuple[int, Consent] | None = None
    for consent in facts.consents:
        if not consent.active_at(request.at):
            continue
        if all(consent.covers(request.recipient, request.purpose, c) for c in required):
            extra = sum(consent.covers(request.recipient, request.purpose, c) for c in optional)
            if best is None or extra > best[0]:
                best = (extra, consent)
    if best is not None:
        consent = best[1]
        by_consent = {c for c in (*required, *optional) if consent.covers(request.recipient, request.purpose, c)}
        return _shared({"kind": "consent", "consent_id": consent.consent_id}, required, optional, by_consent)
    return Decision(False, None, (), reason=why_withheld(request, facts), withheld_categories=(*required, *optional))


def _shared(
    basis: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...], covered: Iterable[str]
) -> Decision:
    covering = set(covered)
    sent = required + tuple(c for c in optional if c in covering)
    left = tuple(c for c in optional if c not in covering)
    return Decision(True, basis, sent, withheld_categories=left)


def basis_still_holds(decision_basis: dict[str, Any] | None, request: Request, facts: Facts) -> bool:
    """Before a queued alert goes out again (a webhook retry), does its basis still hold?

    A consent basis must still be active and cover the required categories ("a consent
    withdrawn at 10:00 stops every share decided after 10:00, including alerts already
    queued"). A statutory basis does not rest on consent, so a withdrawal does not stop it.
    """
    if not decision_basis:
        return True
    if decision_basis.get("kind") == "statutory":
        return True
    consent = next((c for c in facts.consents if c.consent_id == decision_basis.get("consent_id")), None)
    if consent is None or not consent.active_at(request.at):
        return False
    return all(consent.covers(request.recipient, request.purpose, c) for c in request.required)


def why_withheld(request: Request, facts: Facts) -> str:
    """The most specific reason no basis holds (ids and category names only, no personal data)."""
    ground = "no statutory ground"
    if statutory_grounds(request, facts):
        ground = "the statutory ground does not cover " + ", ".join(request.required)
    if not facts.consents:
        return f"no consent recorded; {ground}"
    at = request.at
    active = [c for c in facts.consents if c.active_at(at)]
    if not active:
        if any(c.withdrawn_at is not None and c.withdrawn_at <= at for c in facts.consents):
            return f"consent withdrawn; {ground}"
        if any(c.given_on > london_date(at) for c in facts.consents):
            return f"consent not yet in force; {ground}"
        return f"consent expired; {ground}"
    if not any(c.names(request.recipient) for c in active):
        return f"no active consent names recipient {request.recipient}; {ground}"
    if not any(request.purpose in c.purposes for c in active if c.names(request.recipient)):
        return f"no active consent covers purpose {request.purpose}; {ground}"
    missing = sorted(
        {cat for cat in request.required if not any(c.covers(request.recipient, request.purpose, cat) for c in active)}
    )
    return f"no active consent covers categories {', '.join(missing or request.required)}; {ground}"
