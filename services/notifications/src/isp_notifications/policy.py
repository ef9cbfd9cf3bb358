"""The disclosure policy (CONTRACT §6): may this be shared with that organisation?

Pure: no I/O. The caller gathers the facts from its store and asks; the answer
is either *shared* (with the lawful basis and the data categories it covers) or
*withheld* (with the reason). Statutory grounds come first, then consent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

StatutoryGround = Literal[
    "child_protection_enquiry", "child_protection_plan", "significant_harm", "safeguarding_register_match"
]


@dataclass(frozen=True)
class Consent:
    consent_id: str
    recipients: Sequence[str]
    purposes: Sequence[str]
    data_categories: Sequence[str]
    given_on: date
    expires_on: date | None = None
    withdrawn_at: datetime | None = None

    def active_at(self, at: datetime, today: date) -> bool:
        if self.given_on > today:
            return False
        if self.expires_on is not None and today > self.expires_on:
            return False
        return not (self.withdrawn_at is not None and self.withdrawn_at <= at)

    def covers(self, recipient: str, purpose: str, category: str) -> bool:
        return (
            ("*" in self.recipients or recipient in self.recipients)
            and purpose in self.purposes
            and category in self.data_categories
        )


@dataclass(frozen=True)
class Facts:
    """What the service knows about the person when deciding."""

    consents: Sequence[Consent] = ()
    open_enquiry: bool = False
    active_child_protection_plan: bool = False
    emergency: bool = False
    register_match: bool = False


@dataclass(frozen=True)
class Request:
    recipient: str
    purpose: str
    data_categories: Sequence[str]
    at: datetime
    today: date


@dataclass(frozen=True)
class Decision:
    shared: bool
    basis: dict | None = None
    categories: tuple[str, ...] = ()
    reason: str | None = None
    withheld_categories: tuple[str, ...] = field(default=())


def statutory_ground(facts: Facts) -> StatutoryGround | None:
    if facts.emergency:
        return "significant_harm"
    if facts.open_enquiry:
        return "child_protection_enquiry"
    if facts.active_child_protection_plan:
        return "child_protection_plan"
    if facts.register_match:
        return "safeguarding_register_match"
    return None


def decide(request: Request, facts: Facts) -> Decision:
    ground = statutory_ground(facts)
    if ground is not None:
        return Decision(True, {"kind": "statutory", "ground": ground}, tuple(request.data_categories))
    for consent in facts.consents:
        if not consent.active_at(request.at, request.today):
            continue
        covered = tuple(c for c in request.data_categories if consent.covers(request.recipient, request.purpose, c))
        if covered:
            withheld = tuple(c for c in request.data_categories if c not in covered)
            return Decision(
                True, {"kind": "consent", "consent_id": consent.consent_id}, covered, withheld_categories=withheld
            )
    return Decision(False, None, (), reason=_why_withheld(request, facts))


def _why_withheld(request: Request, facts: Facts) -> str:
    if not facts.consents:
        return "no consent recorded and no statutory ground"
    active = [c for c in facts.consents if c.active_at(request.at, request.today)]
    if not active:
        return "consent withdrawn or expired and no statutory ground"
    return (
        f"no active consent covers recipient {request.recipient}, purpose {request.purpose} "
        f"and categories {', '.join(request.data_categories)}; no statutory ground"
    )
