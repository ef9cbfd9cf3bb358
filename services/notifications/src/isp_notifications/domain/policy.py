"""The disclosure policy (CONTRACT §6 v1.1): may this be shared with that organisation?

Pure: no I/O. The caller gathers the facts from its store and asks; the answer is
either *shared* (with the lawful basis and the data categories it covers) or
*withheld* (with the reason).

Order (CONTRACT §6, DOMAIN rule 6):

1. A statutory ground, for purpose ``safeguarding`` only, each allowed only to its own
   recipients (:data:`GROUNDS`, the table ``docs/decisions.md`` is generated from):

   * ``significant_harm``: a referral to children's social care at threshold
     ``child_protection_s47`` or ``emergency`` is open (not declined, cancelled or closed,
     and at most :data:`SIGNIFICANT_HARM_DAYS` days old) for the person; only to the
     organisation the referral was made to (the referral itself included);
   * ``child_protection_enquiry`` / ``child_protection_plan``: an open section 47 enquiry
     or an active child protection plan for a child of the person (the enquiry or plan
     names the person as a parent, or names one of the children linked to them, born or
     unborn: an unborn child matches on its expected due date with a parent in common);
     only to organisations of kind ``children_social_care`` (the partnership directory);
   * ``child_protection_conference``: the share is the invitation to an initial or review
     child protection conference; only to its invitees (the caller asks only for them);
   * ``safeguarding_register_match``: the share is the fact of a cross-area register match.

2. Otherwise one active consent of the person (given on or before today, not past its
   ``expires_on`` (the last day it holds), not withdrawn at or before the decision)
   naming the recipient (or ``*``), the purpose and every *required* category.
3. Otherwise withheld, with the most specific reason (and the date of any refusal of
   consent that no later consent has superseded).

A request names *required* categories (the alert's core: without them nothing is sent)
and *optional* ones (sent only if the same basis covers them). Only covered categories
are returned, and the caller puts only those in the payload. A DSL's release on
professional judgement (:func:`release`) sends what the request names, on that basis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from isp_common.workingdays import LONDON, london_date

SAFEGUARDING = "safeguarding"
WHOLE_PARTNERSHIP = "*"
CHILDREN_SOCIAL_CARE = "children_social_care"
SIGNIFICANT_HARM_DAYS = 30
"""A significant-harm referral is a ground for this many days after it was made, at most."""
CLOCK_SKEW = timedelta(minutes=5)
"""Two services' clocks disagree a little: a referral made this soon after an event counts for it."""
SIGNIFICANT_HARM_THRESHOLDS = frozenset({"child_protection_s47", "emergency"})
CHILD_PROTECTION_CONFERENCES = frozenset({"initial_child_protection", "review_child_protection"})

StatutoryGround = Literal[
    "child_protection_enquiry",
    "child_protection_plan",
    "significant_harm",
    "child_protection_conference",
    "safeguarding_register_match",
]
SAFEGUARDING_CATEGORIES = frozenset({"referral", "attendance", "treatment_status", "risk", "conference"})


@dataclass(frozen=True)
class GroundRule:
    """One statutory ground: when it holds, who may receive on it, and what it covers."""

    ground: StatutoryGround
    holds_when: str
    recipients: str
    categories: frozenset[str]
    source: str


GROUNDS: tuple[GroundRule, ...] = (
    GroundRule(
        "significant_harm",
        "a referral of the person to children's social care at threshold child_protection_s47 or emergency is open "
        f"(not declined, cancelled or closed) and at most {SIGNIFICANT_HARM_DAYS} days old",
        "only the children's social care organisation the referral was made to",
        SAFEGUARDING_CATEGORIES,
        "protocol 004, Information sharing: a statutory responsibility to refer; consent is not required",
    ),
    GroundRule(
        "child_protection_enquiry",
        "a section 47 enquiry is open for a child of the person (named as a parent, or the child linked to them; "
        "an unborn child by expected due date with a parent in common)",
        "organisations of kind children_social_care in the partnership directory",
        SAFEGUARDING_CATEGORIES,
        "Children Act 1989 s47; Working Together to Safeguard Children",
    ),
    GroundRule(
        "child_protection_plan",
        "a child protection plan is active for a child of the person (matched as for an enquiry)",
        "organisations of kind children_social_care in the partnership directory",
        SAFEGUARDING_CATEGORIES,
        "Children Act 1989 s47; Working Together to Safeguard Children",
    ),
    GroundRule(
        "child_protection_conference",
        "the share is the invitation to an initial or review child protection conference "
        "(with or without parents named)",
        "each organisation the conference invites",
        frozenset({"conference"}),
        "Working Together to Safeguard Children (child protection conferences)",
    ),
    GroundRule(
        "safeguarding_register_match",
        "the share is the fact of a cross-area safeguarding register match (entry ids, organisations, categories)",
        "the two organisations' designated safeguarding leads",
        frozenset({"register"}),
        "UK GDPR public task with DPA 2018 Schedule 1 paragraph 18",
    ),
)
STATUTORY_CATEGORIES: dict[str, frozenset[str]] = {rule.ground: rule.categories for rule in GROUNDS}


@dataclass(frozen=True)
class ChildRef:
    """A child as the facts know it. Two refs are the same child when an identifier agrees, or,
    for an unborn child, when the expected due dates agree and they have a parent in common."""

    nhs_number: str | None = None
    local_id: str | None = None
    expected_due_date: date | None = None
    parents: frozenset[str] = frozenset()

    @classmethod
    def of(cls, child: Mapping[str, Any], parents: Iterable[str] = ()) -> ChildRef:
        edd = child.get("expected_due_date")
        if isinstance(edd, str):
            edd = date.fromisoformat(edd)
        return cls(child.get("nhs_number"), child.get("local_id"), edd, frozenset(parents))

    def same_child(self, other: ChildRef) -> bool:
        return bool(
            (self.nhs_number and self.nhs_number == other.nhs_number)
            or (self.local_id and self.local_id == other.local_id)
            or (
                self.expected_due_date
                and self.expected_due_date == other.expected_due_date
                and self.parents & other.parents
            )
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

    def active_at(self, at: datetime, decided_at: datetime | None = None) -> bool:
        """In force for something that happened ``at`` and is decided ``decided_at`` (default ``at``):
        given on or before the decision's day (a consent recorded after the event still lets it be
        shared), not expired on the day of the event, and not withdrawn at or before the decision
        (a withdrawal stops every share decided after it)."""
        decided_at = decided_at or at
        if self.given_on > london_date(decided_at):
            return False
        if self.expires_on is not None and london_date(at) > self.expires_on:
            return False
        return not (self.withdrawn_at is not None and self.withdrawn_at <= decided_at)

    def names(self, recipient: str) -> bool:
        return WHOLE_PARTNERSHIP in self.recipients or recipient in self.recipients

    def covers(self, recipient: str, purpose: str, category: str) -> bool:
        return self.names(recipient) and purpose in self.purposes and category in self.data_categories


@dataclass(frozen=True)
class Refusal:
    """The person said no (``uk.isp.consent.refused.v1``); ``recipients`` empty: to everyone."""

    refused_on: date
    recipients: Sequence[str] = ()

    def names(self, recipient: str) -> bool:
        return not self.recipients or WHOLE_PARTNERSHIP in self.recipients or recipient in self.recipients


@dataclass(frozen=True)
class Enquiry:
    """A section 47 enquiry: open from ``opened_on`` until (not including) ``closed_on``."""

    enquiry_id: str
    child: ChildRef
    parents: frozenset[str]
    opened_on: date
    closed_on: date | None = None
    closed_at: datetime | None = None
    """When the close took effect, when known: an enquiry closed at 15:00 was open at 09:00 that day."""

    def open_between(self, start: datetime, end: datetime) -> bool:
        """Open at some instant from ``start`` to ``end`` (both included)."""
        return _overlaps(_day_start(self.opened_on), _end_of(self.closed_on, self.closed_at), start, end)

    def open_at(self, at: datetime) -> bool:
        return self.open_between(at, at)


@dataclass(frozen=True)
class Plan:
    """A child protection or child in need plan: active from ``started_on`` until ``ended_on``."""

    plan_id: str
    kind: str
    child: ChildRef
    parents: frozenset[str]
    started_on: date
    ended_on: date | None = None
    ended_at: datetime | None = None
    """When the end took effect, when known (as :attr:`Enquiry.closed_at`)."""

    def active_between(self, start: datetime, end: datetime) -> bool:
        """Active at some instant from ``start`` to ``end`` (both included)."""
        return _overlaps(_day_start(self.started_on), _end_of(self.ended_on, self.ended_at), start, end)

    def open_between(self, start: datetime, end: datetime) -> bool:
        """The same as :meth:`active_between` (a plan is "open" while active), of any kind."""
        return self.active_between(start, end)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON)


def _end_of(day: date | None, at: datetime | None) -> datetime | None:
    """When something ended: at ``at`` when known, else at the start of ``day`` (None: not ended)."""
    if at is not None:
        return at
    return _day_start(day) if day is not None else None


def _overlaps(since: datetime, until: datetime | None, start: datetime, end: datetime) -> bool:
    """Does [``since``, ``until``) (``until`` None: open-ended) meet [``start``, ``end``]?"""
    return since <= end and (until is None or until > start)


@dataclass(frozen=True)
class Referral:
    """A referral about the person, as far as the significant-harm ground needs it: its threshold
    over time (``threshold_changes``, oldest first; none: ``threshold`` throughout) and its end."""

    referral_id: str
    direction: str
    to_org: str
    threshold: str | None
    made_at: datetime
    ended: bool = False
    ended_at: datetime | None = None
    """When it was declined, cancelled or closed (None with ``ended``: at some unknown time)."""
    threshold_changes: tuple[tuple[datetime, str | None], ...] = ()

    def threshold_at(self, at: datetime) -> str | None:
        current = self.threshold_changes[0][1] if self.threshold_changes else self.threshold
        for since, threshold in self.threshold_changes:
            if since <= at:
                current = threshold
        return current

    def ended_by(self, at: datetime) -> bool:
        return self.ended and (self.ended_at is None or self.ended_at <= at)

    def open_between(self, start: datetime, end: datetime) -> bool:
        """Open (made, not yet ended) at some instant from ``start`` to ``end``."""
        if self.ended and self.ended_at is None:
            return False
        return _overlaps(self.made_at - CLOCK_SKEW, self.ended_at if self.ended else None, start, end)

    def significant_harm_between(self, recipient: str, start: datetime, end: datetime) -> bool:
        """A significant-harm ground for ``recipient`` at some instant from ``start`` to ``end``: the
        referral was to that social care organisation, open, at most 30 days old and at threshold
        s47 or emergency then."""
        if self.direction != "to_social_care" or self.to_org != recipient:
            return False
        if self.ended and self.ended_at is None:
            return False
        since = self.made_at - CLOCK_SKEW
        until = self.made_at + timedelta(days=SIGNIFICANT_HARM_DAYS, seconds=1)
        if self.ended and self.ended_at is not None:
            until = min(until, self.ended_at)
        changes = self.threshold_changes or ((self.made_at, self.threshold),)
        for i, (changed_at, threshold) in enumerate(changes):
            if threshold not in SIGNIFICANT_HARM_THRESHOLDS:
                continue
            segment_since = since if i == 0 else max(changed_at, since)
            segment_until = min(changes[i + 1][0], until) if i + 1 < len(changes) else until
            if segment_since < segment_until and _overlaps(segment_since, segment_until, start, end):
                return True
        return False


@dataclass(frozen=True)
class Facts:
    """What the service knows when deciding."""

    consents: Sequence[Consent] = ()
    enquiries: Sequence[Enquiry] = ()
    plans: Sequence[Plan] = ()
    referrals: Sequence[Referral] = ()
    refusals: Sequence[Refusal] = ()
    kinds: Mapping[str, str] = field(default_factory=dict)
    """Organisation id -> kind, from the partnership directory (an organisation not in it has no kind)."""
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
    conference_kind: str | None = None
    """Set when the share is the invitation to a conference of this kind (the recipient is an invitee)."""
    decided_at: datetime | None = None
    """When the decision is made (default ``at``, the time of the causing event): grounds are judged
    at ``at``; a consent must be in force at ``decided_at`` (see :meth:`Consent.active_at`)."""

    @property
    def deciding_at(self) -> datetime:
        return self.decided_at or self.at


@dataclass(frozen=True)
class Decision:
    shared: bool
    basis: dict[str, Any] | None = None
    categories: tuple[str, ...] = ()
    reason: str | None = None
    withheld_categories: tuple[str, ...] = field(default=())
    consent_refused_on: date | None = None

    @property
    def statutory(self) -> bool:
        return bool(self.basis and self.basis.get("kind") == "statutory")


def _concerns_person(parents: frozenset[str], child: ChildRef, request: Request) -> bool:
    if request.person and request.person in parents:
        return True
    named = ChildRef(child.nhs_number, child.local_id, child.expected_due_date, parents)
    return any(named.same_child(c) for c in request.children)


def statutory_grounds(request: Request, facts: Facts) -> list[StatutoryGround]:
    """Every statutory ground that holds for the request *and its recipient*, strongest first.

    A ground counts if it held at some instant from when the causing event happened (``at``) to
    when it is decided (``decided_at``): a close that arrives late does not lose a share that was
    lawful when it happened, and a basis that arrives later releases it (CONTRACT §6, "if a basis
    now holds"), however the events that tell of them are ordered."""
    if request.purpose != SAFEGUARDING:
        return []
    start, end = request.at, max(request.at, request.deciding_at)
    grounds: list[StatutoryGround] = []
    if any(r.significant_harm_between(request.recipient, start, end) for r in facts.referrals):
        grounds.append("significant_harm")
    if facts.kinds.get(request.recipient) == CHILDREN_SOCIAL_CARE:
        if any(e.open_between(start, end) and _concerns_person(e.parents, e.child, request) for e in facts.enquiries):
            grounds.append("child_protection_enquiry")
        if any(
            p.kind == "child_protection"
            and p.active_between(start, end)
            and _concerns_person(p.parents, p.child, request)
            for p in facts.plans
        ):
            grounds.append("child_protection_plan")
    if request.conference_kind in CHILD_PROTECTION_CONFERENCES:
        grounds.append("child_protection_conference")
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
        if not consent.active_at(request.at, request.decided_at):
            continue
        if all(consent.covers(request.recipient, request.purpose, c) for c in required):
            extra = sum(consent.covers(request.recipient, request.purpose, c) for c in optional)
            if best is None or extra > best[0]:
                best = (extra, consent)
    if best is not None:
        consent = best[1]
        by_consent = {c for c in (*required, *optional) if consent.covers(request.recipient, request.purpose, c)}
        return _shared({"kind": "consent", "consent_id": consent.consent_id}, required, optional, by_consent)
    return Decision(
        False,
        None,
        (),
        reason=why_withheld(request, facts),
        withheld_categories=(*required, *optional),
        consent_refused_on=refused_on(request, facts),
    )


def release(request: Request, by: str, reason: str) -> Decision:
    """A designated safeguarding lead's release of a withheld share on professional judgement:
    what the request names (required and optional categories), on that basis."""
    categories = tuple(dict.fromkeys((*request.required, *request.optional)))
    return Decision(True, judgement_basis(by, reason), categories)


def judgement_basis(by: str, reason: str) -> dict[str, Any]:
    return {"kind": "professional_judgement", "by": by, "reason": reason}


def _shared(
    basis: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...], covered: Iterable[str]
) -> Decision:
    covering = set(covered)
    sent = required + tuple(c for c in optional if c in covering)
    left = tuple(c for c in optional if c not in covering)
    return Decision(True, basis, sent, withheld_categories=left)


def refused_on(request: Request, facts: Facts) -> date | None:
    """The latest refusal of consent naming the recipient that no later consent supersedes."""
    refusals = [r.refused_on for r in facts.refusals if r.names(request.recipient)]
    if not refusals:
        return None
    latest = max(refusals)
    if any(c.given_on >= latest for c in facts.consents):
        return None
    return latest


def basis_still_holds(decision_basis: dict[str, Any] | None, request: Request, facts: Facts) -> bool:
    """Before a queued alert goes out again (a webhook retry), does its basis still hold?

    A consent basis must still be active and cover the required categories ("a consent
    withdrawn at 10:00 stops every share decided after 10:00, including alerts already
    queued"). A statutory basis does not rest on consent, so a withdrawal does not stop it;
    nor does a DSL's professional judgement.
    """
    if not decision_basis or decision_basis.get("kind") != "consent":
        return True
    consent = next((c for c in facts.consents if c.consent_id == decision_basis.get("consent_id")), None)
    if consent is None or not consent.active_at(request.at, request.decided_at):
        return False
    return all(consent.covers(request.recipient, request.purpose, c) for c in request.required)


def why_withheld(request: Request, facts: Facts) -> str:
    """The most specific reason no basis holds (ids and category names only, no personal data)."""
    ground = "no statutory ground"
    if statutory_grounds(request, facts):
        ground = "the statutory ground does not cover " + ", ".join(request.required)
    elif _ground_for_others(request, facts):
        ground = f"no statutory ground allows sharing with {request.recipient}"
    refused = refused_on(request, facts)
    if refused is not None:
        return f"consent refused on {refused.isoformat()}; {ground}"
    if not facts.consents:
        return f"no consent recorded; {ground}"
    at, decided_at = request.at, request.deciding_at
    active = [c for c in facts.consents if c.active_at(at, decided_at)]
    if not active:
        if any(c.withdrawn_at is not None and c.withdrawn_at <= decided_at for c in facts.consents):
            return f"consent withdrawn; {ground}"
        if any(c.given_on > london_date(decided_at) for c in facts.consents):
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


def _ground_for_others(request: Request, facts: Facts) -> bool:
    """Would a ground hold for some other recipient (so the reason can say it is not this one's)?"""
    if request.purpose != SAFEGUARDING:
        return False
    return any(
        r.direction == "to_social_care" and r.threshold_at(request.at) in SIGNIFICANT_HARM_THRESHOLDS
        for r in facts.referrals
        if not r.ended_by(request.at)
    ) or any(e.open_at(request.at) and _concerns_person(e.parents, e.child, request) for e in facts.enquiries)
