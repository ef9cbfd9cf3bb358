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
  made after it: the law's own exception to order-independence), and a close, end or decline that
  comes causally before a causing event arrives before it (what has ended cannot be unsent);
* a close, end, decline or amendment comes after what it changes; the DNA after its referral, its
  24-hour deadline not passed when the last event arrives.

Known gaps (the service's, each shown by an ``xfail`` example at the end of this module, and kept
out of the generated histories until it is fixed; remove the restriction with the fix):

* GAP_END_BY_DATE: an enquiry or plan ends by date, so one closed later on the day of a causing
  event stops its ground for that event only if the close arrives first. Ends that come after the
  causing events are dated the next day.
* GAP_RECIPIENTS_NOW: a drop-out's recipients are the organisations known to work with the family
  when it is first decided (later ones only while one of its shares is still open), not when it
  happened. With a drop-out, the facts naming them come before it and arrive before it, and the
  late ends arrive after everything else.
* GAP_AMENDMENT_HISTORY: a referral keeps only its latest threshold. No amendment takes a referral
  below the significant-harm thresholds.
* GAP_TAKEN_BACK_FINAL: a share taken back by a late withdrawal is never decided again. The
  withdrawal arrives before the causing events.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, note, settings
from hypothesis import strategies as st
from isp_common.db import UnitOfWork
from isp_common.tables import OutboxMessage
from isp_common.testing import FixedClock, fresh_nhs_number, migrated_engine
from isp_common.workingdays import WorkingCalendar
from isp_notifications.handlers import handlers_by_topic
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
NEXT_DAY = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
RELEASED = "uk.isp.alert.disclosure_released.v1"
SIGNIFICANT = ("emergency", "child_protection_s47")
THRESHOLDS = (*SIGNIFICANT, "child_in_need_s17")
CAUSES = frozenset({"referral_csc", "referral_csc_end", "referral_csc_amended", "referral_tx", "dna", "disengaged"})
"""The steps that make shares (a referral's decline, close or amendment is news for the other side)."""
ENDS = frozenset({"enquiry_closed", "plan_ended", "referral_csc_end"})
"""Steps that end a ground: ``early`` (before the causing events, except their own opening) or
``late`` (after all of them, the next day: GAP_END_BY_DATE)."""
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
RECIPIENT_FACTS = frozenset({"enquiry", "plan", "referral_csc", "referral_tx"})
"""The facts that name the children's social care organisations working with a family."""

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


def late_clocks(times: Iterable[datetime], arrival: Iterable[int], delays: Iterable[int] = ()) -> tuple[datetime, ...]:
    """The clock at each arrival: never before a step already seen, and ``delays`` minutes apart at least."""
    times, clocks, seen, drift = list(times), [], START, START
    for index, delay in zip(arrival, [*delays] or [0] * len(times), strict=True):
        seen, drift = max(seen, times[index]), drift + timedelta(minutes=delay)
        clocks.append(max(seen, drift))
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
        if draw(st.booleans()):  # GAP_AMENDMENT_HISTORY: never below the significant-harm thresholds
            new = draw(st.sampled_from(SIGNIFICANT if threshold in SIGNIFICANT else THRESHOLDS))
            steps.append(Step("referral_csc_amended", (("threshold", new),)))
        if draw(st.booleans()):
            steps.append(Step("referral_csc_end", (("declined", draw(st.booleans())), ("late", draw(st.booleans())))))
    if draw(st.booleans()):
        steps.append(Step("referral_tx", (("child", draw(st.booleans())),)))
    if draw(st.booleans()):
        steps.append(Step("disengaged", (("person", draw(st.sampled_from(people))),)))
    if draw(st.booleans()) or not any(s.label in CAUSES for s in steps):
        steps.append(Step("dna", (("scheduled_before", draw(st.integers(0, 180))),)))
    return steps


def _keep(preferred: list[int], pairs: set[tuple[int, int]]) -> list[int]:
    """``preferred`` reordered as little as needed so that ``a`` comes before ``b`` for each pair."""
    placed: list[int] = []
    while len(placed) < len(preferred):
        done = set(placed)
        placed.append(next(i for i in preferred if i not in done and {a for a, b in pairs if b == i} <= done))
    return placed


def _causal_pairs(steps: list[Step]) -> set[tuple[int, int]]:
    at = {s.label: i for i, s in enumerate(steps)}
    pairs = {(at[a], at[b]) for a, b in AFTER if a in at and b in at}
    for end in (s for s in steps if s.label in ENDS and not s.late_end):
        opening = {a for a, b in AFTER if b == end.label}
        pairs |= {(at[end.label], at[c]) for c in CAUSES - opening - {end.label} if c in at}
    if "disengaged" in at:  # GAP_RECIPIENTS_NOW
        pairs |= {(at[f], at["disengaged"]) for f in RECIPIENT_FACTS if f in at}
    return pairs


def _arrival_pairs(steps: list[Step]) -> set[tuple[int, int]]:
    """An end that came before a causing event arrives before it (it cannot be unsent); and the
    restrictions of GAP_TAKEN_BACK_FINAL and GAP_RECIPIENTS_NOW."""
    causes = [i for i, s in enumerate(steps) if s.label in CAUSES]
    pairs: set[tuple[int, int]] = set()
    for i, step in enumerate(steps):
        if step.label in ENDS and not step.late_end:
            pairs |= {(i, c) for c in causes if c > i}
        if step.label == "withdrawal":
            pairs |= {(i, c) for c in causes}
    dropouts = [i for i, s in enumerate(steps) if s.label == "disengaged"]
    if dropouts:
        late = [i for i, s in enumerate(steps) if s.late_end]
        pairs |= {(j, i) for i in late for j in range(len(steps)) if j not in late}
        pairs |= {(j, dropouts[0]) for j, s in enumerate(steps) if s.label in RECIPIENT_FACTS}
    return pairs


@st.composite
def histories(draw: st.DrawFn) -> History:
    two_parents = draw(st.booleans())
    child = draw(st.sampled_from(["local_id", "nhs_number", "unborn"]))
    drawn = draw(st.permutations(draw(_steps(two_parents))))
    day = [s for s in drawn if not s.late_end]
    steps = [day[i] for i in _keep(list(range(len(day))), _causal_pairs(day))] + [s for s in drawn if s.late_end]
    n = len(steps)
    gaps = draw(st.lists(st.integers(1, 45), min_size=n, max_size=n))
    times = [START + timedelta(minutes=sum(gaps[: i + 1])) for i in range(len(day))]
    times += [NEXT_DAY + timedelta(minutes=sum(gaps[len(day) : i + 1])) for i in range(len(day), n)]
    arrival = _keep(draw(st.permutations(range(n))), _arrival_pairs(steps))
    if arrival == sorted(arrival):  # nothing shuffled: shuffle the other way, as far as the pairs allow
        arrival = _keep(list(reversed(range(n))), _arrival_pairs(steps))
    delays = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    return History(tuple(steps), tuple(times), tuple(arrival), late_clocks(times, arrival, delays), child, two_parents)


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
    problems: list[str] = field(default_factory=list)


def run(world: World, history: History, order: Iterable[int], clocks: Iterable[datetime]) -> Outcome:
    """Handle the history's events in ``order``, each at its clock, with ids of its own."""
    names = Names.fresh(history.child)
    by_label = {s.label: s for s in history.steps}
    events = []
    for step, at in zip(history.steps, history.times, strict=True):
        data, source = _event(step, by_label, names, at)
        events.append((CloudEvent.create(type=data.event_type, source_org=source, data=data, time=at), data))
    labels = {event.id: step.label for (event, _), step in zip(events, history.steps, strict=True)}
    with Session(world.engine) as session:
        after = session.exec(select(func.max(OutboxMessage.id))).one() or 0
    for index, now in zip(order, clocks, strict=True):
        event, data = events[index]
        world.clock.set(now)
        with UnitOfWork(world.engine) as uow:
            world.routes[event.type](uow, event, data)
            uow.commit()
    return _outcome(world.engine, after, names, labels)


def _outcome(engine: Engine, after: int, names: Names, labels: dict[str, str]) -> Outcome:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.id) > after).order_by(col(OutboxMessage.id))
        ).all()
        queued_events = [(row.topic, CloudEvent.model_validate_json(row.value)) for row in rows]
    trails: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic, queued in queued_events:
        if topic == topics.AUDIT:
            trails[queued.data["alert_id"]].append(queued.data)

    def key(record: dict[str, Any]) -> ShareKey:
        return (
            labels[record["source_event_id"]],
            record["alert_type"],
            record["recipient"],
            names.role_of(record["person"]),
        )

    outcome = Outcome(set(), set(), set())
    released: set[tuple[str, str]] = set()
    for topic, queued in queued_events:
        recipient = topics.alerts_org(topic)
        if recipient is not None and queued.id in trails:
            outcome.queued.add(key(trails[queued.id][0]))
        if recipient is not None and queued.type == RELEASED:
            released.add((recipient, queued.data["withheld_alert_id"]))
    for alert_id, trail in trails.items():
        last = trail[-1]
        if last["decision"] == "shared":
            outcome.shares.add(key(last))
            if last["lawful_basis"]["kind"] == "statutory":
                outcome.statutory.add((last["lawful_basis"]["ground"], last["recipient"]))
        outcome.released += any(r["decision"] == "withheld" for r in trail) and last["decision"] == "shared"
        outcome.problems.extend(_supersedes_problems(alert_id, trail, released))
    return outcome


def _supersedes_problems(alert_id: str, trail: list[dict[str, Any]], released: set[tuple[str, str]]) -> Iterator[str]:
    """A ``shared`` record after a ``withheld`` one names it in ``supersedes``, and the sender's
    DSL was told (``disclosure_released``); a first ``shared`` record supersedes nothing."""
    for i, record in enumerate(trail):
        if record["decision"] != "shared":
            continue
        after_withheld = any(r["decision"] == "withheld" for r in trail[:i])
        expected = disclosure_record_id(alert_id, record["recipient"], "withheld") if after_withheld else None
        if record.get("supersedes") != expected:
            yield f"{record['alert_type']} to {record['recipient']}: supersedes {record.get('supersedes')!r}"
        if after_withheld and (record["discloser"], alert_id) not in released:
            yield f"{record['alert_type']} to {record['recipient']}: released, sender not told"


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
    assert causal.shares - shuffled.shares == set(), "shares lost in the shuffled order"
    assert shuffled.shares - causal.shares == set(), "shares extra in the shuffled order"
    referral = next((s for s in history.steps if s.label == "referral_csc"), None)
    for ground, recipient in causal.statutory | shuffled.statutory:  # no ground reaches beyond its recipients
        allowed = {referral["org"]} if ground == "significant_harm" and referral else SOCIAL_CARE
        assert recipient in allowed, f"{ground} reached {recipient}"


# -- the known gaps: one minimal history each, a minute between steps ---------------------------


def example(*steps: Step, arrival: tuple[int, ...]) -> History:
    times = tuple(START + timedelta(minutes=i + 1) for i in range(len(steps)))
    return History(steps, times, arrival, late_clocks(times, arrival))


ENQUIRY = Step("enquiry", (("org", CSC), ("parents", ("P1",)), ("days", 0), ("kind", "s47")))
DNA = Step("dna", (("scheduled_before", 0),))
DNA_SHARE: ShareKey = ("dna", "uk.isp.alert.did_not_attend.v1", CSC, "P1")


@pytest.mark.xfail(strict=True, reason="GAP_END_BY_DATE: an enquiry closed later the same day is judged closed all day")
def test_an_enquiry_closed_after_the_dna_but_arriving_first_still_lets_the_dna_go(world: World) -> None:
    history = example(ENQUIRY, DNA, Step("enquiry_closed", (("late", False),)), arrival=(0, 2, 1))
    causal, shuffled = shares_in_both_orders(world, history)
    assert DNA_SHARE in causal.shares
    assert DNA_SHARE in shuffled.shares


@pytest.mark.xfail(strict=True, reason="GAP_RECIPIENTS_NOW: a recipient learnt after a drop-out is decided is not told")
def test_a_referral_made_before_a_drop_out_but_arriving_after_it_still_gets_the_drop_out(world: World) -> None:
    referral = Step("referral_csc", (("org", CSC2), ("threshold", "emergency")))
    history = example(ENQUIRY, referral, Step("disengaged", (("person", "P1"),)), arrival=(0, 2, 1))
    causal, shuffled = shares_in_both_orders(world, history)
    dropout: ShareKey = ("disengaged", "uk.isp.alert.treatment_disengaged.v1", CSC2, "P1")
    assert dropout in causal.shares
    assert dropout in shuffled.shares


@pytest.mark.xfail(strict=True, reason="GAP_AMENDMENT_HISTORY: a referral keeps only its latest threshold")
def test_a_threshold_lowered_after_the_dna_but_arriving_first_still_lets_the_dna_go(world: World) -> None:
    referral = Step("referral_csc", (("org", CSC), ("threshold", "emergency")))
    lowered = Step("referral_csc_amended", (("threshold", "child_in_need_s17"),))
    history = example(referral, DNA, lowered, arrival=(0, 2, 1))
    causal, shuffled = shares_in_both_orders(world, history)
    assert DNA_SHARE in causal.shares
    assert DNA_SHARE in shuffled.shares


@pytest.mark.xfail(
    strict=True, reason="GAP_TAKEN_BACK_FINAL: a share taken back by a withdrawal is never decided again"
)
def test_a_dna_taken_back_by_a_late_withdrawal_goes_when_an_enquiry_arrives(world: World) -> None:
    consent = Step("consent", (("person", "P1"), ("recipients", (CSC,)), ("categories", ("attendance",)), ("days", 0)))
    history = example(consent, Step("withdrawal"), DNA, ENQUIRY, arrival=(0, 2, 1, 3))
    causal, shuffled = shares_in_both_orders(world, history)
    assert DNA_SHARE in causal.shares
    assert DNA_SHARE in shuffled.shares
