"""Shares do not depend on the order events arrive in (CONTRACT §6 v1.1, "Events arrive out of
order"; issue 10 point 4).

A family (a parent, maybe a second, a child born or unborn) and a day of its facts and causing
events across the consent, social care, referrals and treatment topics go through the composed
consumer handlers twice, one committed unit of work per event: once in causal order (the clock at
each event's time) and once in a shuffled arrival order (the clock late: never before the latest
event seen). The shares finally made must be equal: a share may come later, never be lost, never
be extra.

What the generated histories keep, because no service could do otherwise:

* a consent withdrawal comes causally before every causing event (a withdrawal stops decisions
  made after it: the law's own exception to order-independence), and a close, end, decline or
  lowering amendment that comes causally before a causing event arrives before it (a share made on
  a ground already ended cannot be unsent);
* a close, end, decline or amendment comes after what it changes; the DNA after its referral, its
  24-hour deadline not passed when the last event arrives.

The gaps this property found in the service (fixed by 8482899 and f7f5561) each keep a minimal
example at the end of this module: an enquiry closed later the same day judged closed all day; a
drop-out's recipients judged when it was first decided (one learnt later, or one whose referral
ended after the drop-out, missed); a referral keeping only its latest threshold; a share taken back
by a late withdrawal never decided again, or not at once when the basis it then needs was already
known.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, note, settings
from hypothesis import strategies as st
from isp_common.db import UnitOfWork
from isp_common.tables import OutboxMessage
from isp_common.testing import FixedClock, fresh_nhs_number, migrated_engine
from isp_common.workingdays import WorkingCalendar
from isp_notifications.handlers import handlers_by_topic, read_ahead
from isp_schemas import topics
from isp_schemas.audit import disclosure_record_id
from isp_schemas.consent import ConsentGiven, ConsentRefused, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent, EventData
from isp_schemas.people import Person
from isp_schemas.referrals import (
    ReferralAmended,
    ReferralAssessmentMissed,
    ReferralClosed,
    ReferralDeclined,
    ReferralRequested,
)
from isp_schemas.socialcare import EnquiryClosed, EnquiryOpened, PlanEnded, PlanStarted
from isp_schemas.treatment import EpisodeDisengaged
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

CSC, CSC2, PROVIDER = "WSCC-CSC", "BHCC-CSC", "CGL-WSX"
SOCIAL_CARE = frozenset({CSC, CSC2})
START = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # London is on GMT: 08:00 to 18:00 UTC is one London day
MOST_LATE = 180
"""Minutes an event may arrive after it happened (the DNA's 24-hour deadline is never reached)."""
RELEASED = "uk.isp.alert.disclosure_released.v1"
SIGNIFICANT = ("emergency", "child_protection_s47")
THRESHOLDS = (*SIGNIFICANT, "child_in_need_s17")
CAUSES = frozenset({"referral_csc", "referral_csc_end", "referral_csc_amended", "referral_tx", "dna", "disengaged"})
"""The steps that make shares (a referral's decline, close or amendment is news for the other side)."""
ENDS = frozenset({"enquiry_closed", "plan_ended", "referral_csc_end"})
"""Steps that end a ground, ``late`` (after every causing event) or not."""
AFTER: tuple[tuple[str, str], ...] = (
    ("consent", "withdrawal"),
    ("enquiry", "enquiry_closed"),
    ("plan", "plan_ended"),
    ("referral_csc", "referral_csc_amended"),
    ("referral_csc", "referral_csc_end"),
    ("referral_csc_amended", "referral_csc_end"),
    ("referral_tx", "dna"),
    *(("withdrawal", cause) for cause in sorted(CAUSES)),
)
"""(earlier, later): causal order every history keeps."""

ShareKey = tuple[str, str, str, str | None]
"""(causing step, alert type, recipient, the person's role): one share, the same in every run."""


@dataclass(frozen=True)
class Step:
    """One event of the history, named by what it is (``label``), with what varies (``params``)."""

    label: str
    params: tuple[tuple[str, Any], ...] = ()

    def __getitem__(self, name: str) -> Any:
        return dict(self.params)[name]

    @property
    def late_end(self) -> bool:
        return self.label in ENDS and bool(self["late"])

    @property
    def weakens(self) -> bool:
        """Ends a ground, or takes a referral below the significant-harm thresholds."""
        return self.label in ENDS or (self.label == "referral_csc_amended" and bool(self["lowers"]))


@dataclass(frozen=True)
class History:
    steps: tuple[Step, ...]
    """In causal order."""
    times: tuple[datetime, ...]
    """Each step's causal time (increasing)."""
    arrival: tuple[int, ...]
    """The order the steps arrive in (indexes into ``steps``)."""
    clocks: tuple[datetime, ...]
    """The clock when each arriving step is handled: late, never before a step already seen."""
    child: str = "local_id"
    two_parents: bool = False

    def describe(self) -> str:
        causal = [f"{t:%d %H:%M} {s.label} {dict(s.params)}" for s, t in zip(self.steps, self.times, strict=True)]
        arriving = [f"{c:%d %H:%M} {self.steps[i].label}" for i, c in zip(self.arrival, self.clocks, strict=True)]
        family = f"child {self.child}, two parents {self.two_parents}"
        return "\n".join([family, "causal:", *causal, "arrival:", *arriving])


def late_clocks(
    times: Sequence[datetime], arrival: Iterable[int], arriving: Sequence[datetime] = ()
) -> tuple[datetime, ...]:
    """The clock as each step arrives: never back, never before a step already seen, nor before
    the step's own arrival time (``arriving``, when given)."""
    clocks, clock = [], START
    for index in arrival:
        clock = max(clock, times[index], *arriving[index : index + 1])
        clocks.append(clock)
    return tuple(clocks)


# -- histories ------------------------------------------------------------------------------


def _parents(draw: st.DrawFn, two_parents: bool) -> tuple[str, ...]:
    return tuple(draw(st.sampled_from([("P1",), ("P2",), ("P1", "P2")] if two_parents else [("P1",)])))


@st.composite
def _steps(draw: st.DrawFn, two_parents: bool) -> list[Step]:
    people = ["P1", "P2"] if two_parents else ["P1"]
    steps: list[Step] = []
    if draw(st.booleans()):
        recipients = draw(st.sampled_from([(CSC,), (CSC, PROVIDER), ("*",), (CSC2,)]))
        categories = draw(st.sets(st.sampled_from(["attendance", "treatment_status", "referral", "risk"]), min_size=1))
        consent = (
            ("person", draw(st.sampled_from(people))),
            ("recipients", recipients),
            ("categories", tuple(sorted(categories))),
            ("days", draw(st.sampled_from([0, 0, 3]))),
        )
        steps.append(Step("consent", consent))
        if draw(st.booleans()):
            steps.append(Step("withdrawal"))
    if draw(st.booleans()):
        steps.append(Step("refusal", (("person", draw(st.sampled_from(people))), ("to_csc", draw(st.booleans())))))
    for fact, end, kinds in (
        ("enquiry", "enquiry_closed", ("s47",)),
        ("plan", "plan_ended", ("child_protection", "child_in_need")),
    ):
        if draw(st.booleans()):
            params: tuple[tuple[str, Any], ...] = (
                ("org", draw(st.sampled_from([CSC, CSC2]))),
                ("parents", _parents(draw, two_parents)),
                ("days", draw(st.sampled_from([0, 1, 7]))),
                ("kind", draw(st.sampled_from(kinds))),
            )
            steps.append(Step(fact, params))
            if draw(st.booleans()):
                steps.append(Step(end, (("late", draw(st.booleans())),)))
    if draw(st.booleans()):
        threshold = draw(st.sampled_from(THRESHOLDS))
        steps.append(Step("referral_csc", (("org", draw(st.sampled_from([CSC, CSC2]))), ("threshold", threshold))))
        if draw(st.booleans()):
            new = draw(st.sampled_from(THRESHOLDS))
            lowers = threshold in SIGNIFICANT and new not in SIGNIFICANT
            steps.append(Step("referral_csc_amended", (("threshold", new), ("lowers", lowers))))
        if draw(st.booleans()):
            steps.append(Step("referral_csc_end", (("declined", draw(st.booleans())), ("late", draw(st.booleans())))))
    if draw(st.booleans()):
        steps.append(Step("referral_tx", (("child", draw(st.booleans())),)))
    if draw(st.booleans()):
        steps.append(Step("disengaged", (("person", draw(st.sampled_from(people))),)))
    if draw(st.booleans()) or not any(s.label in CAUSES for s in steps):
        steps.append(Step("dna", (("scheduled_before", draw(st.integers(0, 120))),)))
    return steps


def _keep(preferred: list[int], pairs: set[tuple[int, int]]) -> list[int]:
    """``preferred`` reordered as little as needed so that ``a`` comes before ``b`` for each pair."""
    placed: list[int] = []
    while len(placed) < len(preferred):
        done = set(placed)
        placed.append(next(i for i in preferred if i not in done and {a for a, b in pairs if b == i} <= done))
    return placed


def _causal_pairs(steps: list[Step]) -> set[tuple[int, int]]:
    """The pairs of ``steps`` (all but the late ends, which come after them all) in causal order."""
    at = {s.label: i for i, s in enumerate(steps)}
    return {(at[a], at[b]) for a, b in AFTER if a in at and b in at}


def _arrival_pairs(steps: list[Step]) -> set[tuple[int, int]]:
    """What weakens a ground before a causing event arrives before it (a share made on a ground
    already ended cannot be unsent). A withdrawal may arrive at any point: a share it takes back is
    decided again at once."""
    causes = [i for i, s in enumerate(steps) if s.label in CAUSES]
    pairs = {(i, c) for i, step in enumerate(steps) if step.weakens for c in causes if c > i}
    return pairs


@st.composite
def histories(draw: st.DrawFn) -> History:
    two_parents = draw(st.booleans())
    child = draw(st.sampled_from(["local_id", "nhs_number", "unborn"]))
    drawn = draw(st.permutations(draw(_steps(two_parents))))
    day = [s for s in drawn if not s.late_end]
    steps = [day[i] for i in _keep(list(range(len(day))), _causal_pairs(day))] + [s for s in drawn if s.late_end]
    n = len(steps)
    gaps = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    times = [START + timedelta(minutes=sum(gaps[: i + 1])) for i in range(n)]
    delays = draw(st.lists(st.integers(0, MOST_LATE), min_size=n, max_size=n))  # each event's lateness
    arriving = [t + timedelta(minutes=d) for t, d in zip(times, delays, strict=True)]
    arrival = _keep(sorted(range(n), key=lambda i: (arriving[i], i)), _arrival_pairs(steps))
    if arrival == sorted(arrival):  # none late enough to overtake: the most shuffled order the rules allow
        arrival = _keep(list(reversed(range(n))), _arrival_pairs(steps))
    return History(
        tuple(steps), tuple(times), tuple(arrival), late_clocks(times, arrival, arriving), child, two_parents
    )


# -- one run: the history's events with fresh ids ---------------------------------------------


@dataclass
class Names:
    """The ids one run uses, fresh so that runs sharing a database never meet."""

    people: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=lambda: defaultdict(lambda: uuid.uuid4().hex[:16]))
    child: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fresh(cls, child: str) -> Names:
        numbers: set[str] = set()
        while len(numbers) < 3:
            numbers.add(fresh_nhs_number())
        p1, p2, child_nhs = sorted(numbers)
        names = cls(people={"P1": p1, "P2": p2})
        names.child = {
            "local_id": {"local_id": f"C-{uuid.uuid4().hex[:12]}"},
            "nhs_number": {"nhs_number": child_nhs},
            "unborn": {"expected_due_date": "2026-08-01"},
        }[child]
        return names

    def person(self, role: str) -> Person:
        return Person(nhs_number=self.people[role])

    def role_of(self, nhs_number: str | None) -> str | None:
        return next((role for role, nhs in self.people.items() if nhs == nhs_number), nhs_number)


def _event(step: Step, steps: dict[str, Step], names: Names, at: datetime) -> tuple[EventData, str]:
    """The event of ``step`` at ``at`` and the organisation that publishes it."""
    ids = names.ids
    match step.label:
        case "consent":
            return ConsentGiven(
                consent_id=ids["consent"],
                person=names.person(step["person"]),
                recorded_by=PROVIDER,
                recipients=list(step["recipients"]),
                purposes=["safeguarding"],
                data_categories=list(step["categories"]),
                given_on=at.date() - timedelta(days=step["days"]),
            ), PROVIDER
        case "withdrawal":
            person = names.person(steps["consent"]["person"])
            return ConsentWithdrawn(consent_id=ids["consent"], person=person, withdrawn_on=at.date()), PROVIDER
        case "refusal":
            recipients = [CSC] if step["to_csc"] else None
            person = names.person(step["person"])
            return ConsentRefused(
                person=person, recorded_by=PROVIDER, recipients=recipients, refused_on=at.date()
            ), PROVIDER
        case "enquiry":
            parents = [names.person(p) for p in step["parents"]]
            opened_on = at.date() - timedelta(days=step["days"])
            return EnquiryOpened(
                enquiry_id=ids["enquiry"], child=names.child, parents=parents, opened_on=opened_on
            ), step["org"]
        case "enquiry_closed":
            return EnquiryClosed(enquiry_id=ids["enquiry"], closed_on=at.date()), steps["enquiry"]["org"]
        case "plan":
            parents = [names.person(p) for p in step["parents"]]
            started_on = at.date() - timedelta(days=step["days"])
            plan = PlanStarted(
                plan_id=ids["plan"], kind=step["kind"], child=names.child, parents=parents, started_on=started_on
            )
            return plan, step["org"]
        case "plan_ended":
            return PlanEnded(plan_id=ids["plan"], ended_on=at.date()), steps["plan"]["org"]
    return _referral_event(step, steps, names, at)


def _referral_event(step: Step, steps: dict[str, Step], names: Names, at: datetime) -> tuple[EventData, str]:
    p1, ids = names.person("P1"), names.ids
    to_csc = steps.get("referral_csc")
    csc_fields: dict[str, Any] = {
        "referral_id": ids["referral_csc"],
        "direction": "to_social_care",
        "from_org": PROVIDER,
        "to_org": to_csc["org"] if to_csc else CSC,
        "person": p1,
        "at": at,
    }
    tx_fields = {
        **csc_fields,
        "referral_id": ids["referral_tx"],
        "direction": "to_treatment",
        "from_org": CSC,
        "to_org": PROVIDER,
    }
    match step.label:
        case "referral_csc" | "referral_tx":
            fields = csc_fields if step.label == "referral_csc" else tx_fields
            threshold = step["threshold"] if step.label == "referral_csc" else None
            children = [names.child] if step.label == "referral_csc" or step["child"] else []
            return ReferralRequested(
                **{k: v for k, v in fields.items() if k != "at"},
                children=children,
                threshold=threshold,
                rag="amber",
                summary="concern for the child",
            ), PROVIDER if step.label == "referral_csc" else CSC
        case "referral_csc_end":
            if step["declined"]:
                return ReferralDeclined(**csc_fields, reason="below threshold"), csc_fields["to_org"]
            return ReferralClosed(**csc_fields, outcome="completed"), csc_fields["to_org"]
        case "referral_csc_amended":
            return ReferralAmended(**csc_fields, changed=["threshold"], threshold=step["threshold"]), PROVIDER
        case "dna":
            scheduled_for = at - timedelta(minutes=step["scheduled_before"])
            missed = ReferralAssessmentMissed(
                **tx_fields, appointment_id=ids["appointment"], scheduled_for=scheduled_for, recorded_at=at
            )
            return missed, PROVIDER
        case "disengaged":
            person = names.person(step["person"])
            return EpisodeDisengaged(episode_id=ids["episode"], person=person, last_contact_on=at.date()), PROVIDER
    raise AssertionError(f"no event for step {step.label}")


# -- running a history, and what it shared --------------------------------------------------


class World:
    """One migrated database for every example of a test, and the consumers' handlers on a clock."""

    def __init__(self, engine: Engine, clock: FixedClock, routes: dict[str, Any]) -> None:
        self.engine, self.clock, self.routes = engine, clock, routes

    def __repr__(self) -> str:
        return "World()"


@pytest.fixture
def world() -> Iterator[World]:
    engine = migrated_engine("isp_notifications")
    clock = FixedClock(START)
    by_topic = handlers_by_topic(WorkingCalendar(), clock)
    yield World(engine, clock, {event_type: h for handlers in by_topic.values() for event_type, h in handlers.items()})
    engine.dispose()


@dataclass
class Outcome:
    shares: set[ShareKey]
    """Shares in force: alerts whose last audit record is ``shared`` (a share taken back when a
    withdrawal arrives late is recorded ``withheld`` after it)."""
    queued: set[ShareKey]
    """The audited alerts queued on their recipients' topics."""
    statutory: set[tuple[str, str]]
    """(ground, recipient) of every share in force on a statutory ground."""
    released: int = 0
    """How many shares were made after being withheld."""
    taken_back: int = 0
    """How many shares a late withdrawal took back."""
    problems: list[str] = field(default_factory=list)


def run(world: World, history: History, order: Iterable[int], clocks: Iterable[datetime]) -> Outcome:
    """Handle the history's events in ``order``, each at its clock, with ids of its own."""
    names, events, labels, after = _prepared(world, history)
    for index, now in zip(order, clocks, strict=True):
        event, data = events[index]
        world.clock.set(now)
        with UnitOfWork(world.engine) as uow:
            world.routes[event.type](uow, event, data)
            uow.commit()
    return _outcome(world.engine, after, names, labels)


def _prepared(world: World, history: History) -> tuple[Names, list[tuple[CloudEvent, EventData]], dict[str, str], int]:
    """The history's people, its events (with ids of their own), each event's step label, and the
    last outbox row before any of them is handled."""
    names = Names.fresh(history.child)
    by_label = {s.label: s for s in history.steps}
    events = []
    for step, at in zip(history.steps, history.times, strict=True):
        data, source = _event(step, by_label, names, at)
        events.append((CloudEvent.create(type=data.event_type, source_org=source, data=data, time=at), data))
    labels = {event.id: step.label for (event, _), step in zip(events, history.steps, strict=True)}
    with Session(world.engine) as session:
        after = session.exec(select(func.max(OutboxMessage.id))).one() or 0
    return names, events, labels, after


def _outcome(engine: Engine, after: int, names: Names, labels: dict[str, str]) -> Outcome:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.id) > after).order_by(col(OutboxMessage.id))
        ).all()
        queued_events = [(row.topic, CloudEvent.model_validate_json(row.value)) for row in rows]

    def key(record: dict[str, Any]) -> ShareKey:
        return (
            labels[record["source_event_id"]],
            record["alert_type"],
            record["recipient"],
            names.role_of(record["person"]),
        )

    trails: dict[ShareKey, list[dict[str, Any]]] = defaultdict(list)
    """Each share's audit records in order, across its alert ids (a share taken back by a
    withdrawal is sent again under a successor id)."""
    audited: dict[str, ShareKey] = {}
    for topic, queued in queued_events:
        if topic == topics.AUDIT:
            audited[queued.data["alert_id"]] = key(queued.data)
            trails[key(queued.data)].append(queued.data)
    outcome = Outcome(set(), set(), set())
    released: set[tuple[str, str]] = set()
    for topic, queued in queued_events:
        recipient = topics.alerts_org(topic)
        if recipient is not None and queued.id in audited:
            outcome.queued.add(audited[queued.id])
        if recipient is not None and queued.type == RELEASED:
            released.add((recipient, queued.data["withheld_alert_id"]))
    for share, trail in trails.items():
        last = trail[-1]
        if last["decision"] == "shared":
            outcome.shares.add(share)
            if last["lawful_basis"]["kind"] == "statutory":
                outcome.statutory.add((last["lawful_basis"]["ground"], last["recipient"]))
        decisions = [r["decision"] for r in trail]
        outcome.released += "withheld" in decisions and last["decision"] == "shared"
        outcome.taken_back += ("shared", "withheld") in pairwise(decisions)
        outcome.problems.extend(_supersedes_problems(trail, released))
    return outcome


def _supersedes_problems(trail: list[dict[str, Any]], released: set[tuple[str, str]]) -> Iterator[str]:
    """A ``shared`` record after a ``withheld`` one names it in ``supersedes``, and the sender's
    DSL was told (``disclosure_released``); a first ``shared`` record supersedes nothing."""
    withheld: dict[str, Any] | None = None
    for record in trail:
        if record["decision"] == "withheld":
            withheld = record
            continue
        expected = disclosure_record_id(withheld["alert_id"], withheld["recipient"], "withheld") if withheld else None
        if record.get("supersedes") != expected:
            yield f"{record['alert_type']} to {record['recipient']}: supersedes {record.get('supersedes')!r}"
        if withheld and (record["discloser"], withheld["alert_id"]) not in released:
            yield f"{record['alert_type']} to {record['recipient']}: released, sender not told"
        withheld = None


def shares_in_both_orders(world: World, history: History) -> tuple[Outcome, Outcome]:
    """The history run in causal order, then in its arrival order, each checked on its own."""
    say = note if currently_in_test_context() else print
    say(history.describe())
    causal = run(world, history, range(len(history.steps)), history.times)
    shuffled = run(world, history, history.arrival, history.clocks)
    say(f"causal: {sorted(causal.shares)}\nshuffled: {sorted(shuffled.shares)}")
    for outcome in (causal, shuffled):
        assert outcome.queued == outcome.shares, "an audited share not queued, or queued and not in force"
        assert outcome.problems == []
    return causal, shuffled


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories())
def test_shares_made_in_a_shuffled_arrival_order_equal_those_made_in_causal_order(
    world: World, history: History
) -> None:
    causal, shuffled = shares_in_both_orders(world, history)
    event(f"shares: {min(len(causal.shares), 3)}{'+' if len(causal.shares) >= 3 else ''}")
    event(f"released after being withheld: {'yes' if causal.released or shuffled.released else 'no'}")
    event(f"taken back by a late withdrawal: {'yes' if shuffled.taken_back else 'no'}")
    assert causal.shares - shuffled.shares == set(), "shares lost in the shuffled order"
    assert shuffled.shares - causal.shares == set(), "shares extra in the shuffled order"
    referral = next((s for s in history.steps if s.label == "referral_csc"), None)
    for ground, recipient in causal.statutory | shuffled.statutory:  # no ground reaches beyond its recipients
        allowed = {referral["org"]} if ground == "significant_harm" and referral else SOCIAL_CARE
        assert recipient in allowed, f"{ground} reached {recipient}"


# -- the gaps the property found: one minimal history each, a minute between steps ------------


def example(*steps: Step, arrival: tuple[int, ...]) -> History:
    times = tuple(START + timedelta(minutes=i + 1) for i in range(len(steps)))
    return History(steps, times, arrival, late_clocks(times, arrival))


ENQUIRY = Step("enquiry", (("org", CSC), ("parents", ("P1",)), ("days", 0), ("kind", "s47")))
DNA = Step("dna", (("scheduled_before", 0),))
DNA_SHARE: ShareKey = ("dna", "uk.isp.alert.did_not_attend.v1", CSC, "P1")
DROPOUT = Step("disengaged", (("person", "P1"),))
EMERGENCY_TO = {org: Step("referral_csc", (("org", org), ("threshold", "emergency"))) for org in (CSC, CSC2)}
CONSENT = Step("consent", (("person", "P1"), ("recipients", (CSC,)), ("categories", ("attendance",)), ("days", 0)))
GAPS = {
    "an enquiry closed after the DNA but arriving first still lets the DNA go": (
        example(ENQUIRY, DNA, Step("enquiry_closed", (("late", False),)), arrival=(0, 2, 1)),
        DNA_SHARE,
    ),
    "a referral made before a drop-out but arriving after it still gets the drop-out": (
        example(ENQUIRY, EMERGENCY_TO[CSC2], DROPOUT, arrival=(0, 2, 1)),
        ("disengaged", "uk.isp.alert.treatment_disengaged.v1", CSC2, "P1"),
    ),
    "a referral closed after a drop-out but arriving first still gets the drop-out": (
        example(
            EMERGENCY_TO[CSC],
            DROPOUT,
            Step("referral_csc_end", (("declined", False), ("late", False))),
            arrival=(0, 2, 1),
        ),
        ("disengaged", "uk.isp.alert.treatment_disengaged.v1", CSC, "P1"),
    ),
    "a threshold lowered after the DNA but arriving first still lets the DNA go": (
        example(
            EMERGENCY_TO[CSC],
            DNA,
            Step("referral_csc_amended", (("threshold", "child_in_need_s17"), ("lowers", True))),
            arrival=(0, 2, 1),
        ),
        DNA_SHARE,
    ),
    "a DNA taken back by a late withdrawal goes when an enquiry arrives": (
        example(CONSENT, Step("withdrawal"), DNA, ENQUIRY, arrival=(0, 2, 1, 3)),
        DNA_SHARE,
    ),
}
"""What the property found, each as its shrunk history (all fixed): the share made in both orders."""


@pytest.mark.parametrize(("history", "share"), GAPS.values(), ids=GAPS.keys())
def test_a_share_the_property_once_lost_is_made_in_both_orders(world: World, history: History, share: ShareKey) -> None:
    causal, shuffled = shares_in_both_orders(world, history)
    assert share in causal.shares
    assert share in shuffled.shares


def test_a_late_withdrawal_takes_the_dna_back_and_the_enquiry_sends_it_again(world: World) -> None:
    history, share = GAPS["a DNA taken back by a late withdrawal goes when an enquiry arrives"]
    _causal, shuffled = shares_in_both_orders(world, history)
    assert shuffled.taken_back == 1 and shuffled.released == 1
    assert share in shuffled.shares


def test_a_dna_taken_back_when_an_enquiry_is_already_known_goes_at_once(world: World) -> None:
    history = example(CONSENT, ENQUIRY, Step("withdrawal"), DNA, arrival=(0, 3, 1, 2))
    causal, shuffled = shares_in_both_orders(world, history)
    assert DNA_SHARE in causal.shares
    assert shuffled.taken_back == 1
    assert DNA_SHARE in shuffled.shares


# -- batched: many events in one unit of work, read ahead first (issue 12) ---------------------


def run_batched(
    world: World, history: History, order: Sequence[int], clocks: Sequence[datetime], cuts: Iterable[int]
) -> Outcome:
    """As :func:`run`, but the events between two ``cuts`` share one unit of work, as a consumer's
    batch does: first :func:`read_ahead` reads the facts and held shares of them all, then each
    is handled (at its own clock) in the same transaction, committed once."""
    names, events, labels, after = _prepared(world, history)
    bounds = [0, *sorted(set(cuts)), len(order)]
    for start, end in pairwise(bounds):
        if start == end:
            continue
        with UnitOfWork(world.engine) as uow:
            read_ahead(uow, [events[index] for index in order[start:end]])
            for index, now in zip(order[start:end], clocks[start:end], strict=True):
                event, data = events[index]
                world.clock.set(now)
                world.routes[event.type](uow, event, data)
            uow.commit()
    return _outcome(world.engine, after, names, labels)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories(), data=st.data())
def test_events_handled_in_batches_make_the_shares_they_make_one_by_one(
    world: World, history: History, data: st.DataObject
) -> None:
    """What a transaction reads ahead for a batch (the facts about everyone it names, whether its
    shares were decided before) and keeps while it lasts never changes a decision: the same events
    in the same order, in batches cut anywhere, make the same shares, releases and take-backs."""
    count = len(history.steps)
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=max(count - 1, 1)), max_size=3), label="cuts")
    order, clocks = list(history.arrival), list(history.clocks)
    one_by_one = run(world, history, order, clocks)
    batched = run_batched(world, history, order, clocks, cuts)
    for outcome in (one_by_one, batched):
        assert outcome.queued == outcome.shares
        assert outcome.problems == []
    assert batched.shares == one_by_one.shares
    assert batched.statutory == one_by_one.statutory
    assert (batched.released, batched.taken_back) == (one_by_one.released, one_by_one.taken_back)
