"""The disclosure policy (CONTRACT §6), rule by rule and edge by edge, then by property."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isp_notifications.domain.policy import (
    STATUTORY_CATEGORIES,
    ChildRef,
    Consent,
    Enquiry,
    Facts,
    Plan,
    Referral,
    Refusal,
    Request,
    decide,
    london_date,
    release,
    statutory_grounds,
)

PARENT = "9434765919"
OTHER = "9434765870"
CSC, PROVIDER, ELSEWHERE = "WSCC-CSC", "CGL-WSX", "BHCC-CSC"
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # Tuesday 10 March 2026 (GMT)
TODAY = NOON.date()
YESTERDAY, TOMORROW = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
KINDS = {CSC: "children_social_care", ELSEWHERE: "children_social_care", PROVIDER: "treatment_provider"}
CHILD = ChildRef(local_id="C-1")
UNBORN = ChildRef(expected_due_date=date(2026, 6, 1), local_id="U-1")


def consent(**kw) -> Consent:
    base = dict(
        consent_id="con-1",
        recipients=(CSC,),
        purposes=("safeguarding",),
        data_categories=("attendance", "referral"),
        given_on=date(2026, 1, 1),
    )
    base.update(kw)
    return Consent(**base)


def request(**kw) -> Request:
    base = dict(recipient=CSC, purpose="safeguarding", required=("attendance",), at=NOON, person=PARENT)
    base.update(kw)
    return Request(**base)


def enquiry(**kw) -> Enquiry:
    base = dict(enquiry_id="s47-1", child=CHILD, parents=frozenset({PARENT}), opened_on=YESTERDAY)
    base.update(kw)
    return Enquiry(**base)


def plan(**kw) -> Plan:
    base = dict(
        plan_id="cp-1", kind="child_protection", child=CHILD, parents=frozenset({PARENT}), started_on=date(2026, 1, 5)
    )
    base.update(kw)
    return Plan(**base)


CONSENT_BASIS = {"kind": "consent", "consent_id": "con-1"}


def statutory(ground):
    return {"kind": "statutory", "ground": ground}


def F(**kw) -> Facts:
    """Facts with the test directory's kinds."""
    return Facts(kinds=KINDS, **kw)


def referral(**kw) -> Referral:
    base = dict(
        referral_id="r-1",
        direction="to_social_care",
        to_org=CSC,
        threshold="emergency",
        made_at=NOON - timedelta(days=1),
    )
    base.update(kw)
    return Referral(**base)


# (name, request, facts, expected basis or None, expected reason fragment when withheld)
CASES = [
    ("no facts at all", request(), F(), None, "no consent recorded"),
    ("consent naming recipient, purpose, category", request(), F(consents=[consent()]), CONSENT_BASIS, None),
    (
        "consent to the whole partnership (*)",
        request(recipient=ELSEWHERE),
        F(consents=[consent(recipients=("*",))]),
        CONSENT_BASIS,
        None,
    ),
    (
        "consent names another recipient",
        request(recipient=ELSEWHERE),
        F(consents=[consent()]),
        None,
        "names recipient BHCC-CSC",
    ),
    ("consent for another purpose", request(purpose="research"), F(consents=[consent()]), None, "purpose research"),
    (
        "wrong category",
        request(required=("treatment_status",)),
        F(consents=[consent()]),
        None,
        "categories treatment_status",
    ),
    ("expiry day itself still holds", request(), F(consents=[consent(expires_on=TODAY)]), CONSENT_BASIS, None),
    ("expired yesterday", request(), F(consents=[consent(expires_on=YESTERDAY)]), None, "consent expired"),
    (
        "given tomorrow is not yet in force",
        request(),
        F(consents=[consent(given_on=TOMORROW)]),
        None,
        "not yet in force",
    ),
    ("given today holds", request(), F(consents=[consent(given_on=TODAY)]), CONSENT_BASIS, None),
    (
        "withdrawn at 10:00 stops a decision at 12:00",
        request(),
        F(consents=[consent(withdrawn_at=NOON - timedelta(hours=2))]),
        None,
        "consent withdrawn",
    ),
    (
        "withdrawn at the very instant of the decision",
        request(),
        F(consents=[consent(withdrawn_at=NOON)]),
        None,
        "consent withdrawn",
    ),
    (
        "withdrawn after the decision does not stop it",
        request(),
        F(consents=[consent(withdrawn_at=NOON + timedelta(seconds=1))]),
        CONSENT_BASIS,
        None,
    ),
    (
        "open s47 enquiry naming the parent",
        request(),
        F(enquiries=[enquiry()]),
        statutory("child_protection_enquiry"),
        None,
    ),
    (
        "open s47 enquiry found through a linked child",
        request(children=[CHILD]),
        F(enquiries=[enquiry(parents=frozenset())]),
        statutory("child_protection_enquiry"),
        None,
    ),
    (
        "s47 enquiry about someone else's child",
        request(children=[CHILD]),
        F(enquiries=[enquiry(parents=frozenset({OTHER}), child=ChildRef(local_id="C-9"))]),
        None,
        "no statutory ground",
    ),
    ("s47 enquiry closed today", request(), F(enquiries=[enquiry(closed_on=TODAY)]), None, "no statutory ground"),
    (
        "s47 enquiry opened tomorrow",
        request(),
        F(enquiries=[enquiry(opened_on=TOMORROW)]),
        None,
        "no statutory ground",
    ),
    (
        "s47 enquiry about an unborn child",
        request(children=[UNBORN]),
        F(enquiries=[enquiry(child=UNBORN, parents=frozenset())]),
        statutory("child_protection_enquiry"),
        None,
    ),
    ("active child protection plan", request(), F(plans=[plan()]), statutory("child_protection_plan"), None),
    ("plan ended yesterday", request(), F(plans=[plan(ended_on=YESTERDAY)]), None, "no statutory ground"),
    (
        "plan ends tomorrow: still active today",
        request(),
        F(plans=[plan(ended_on=TOMORROW)]),
        statutory("child_protection_plan"),
        None,
    ),
    (
        "child in need plan is not a statutory ground",
        request(),
        F(plans=[plan(kind="child_in_need")]),
        None,
        "no statutory ground",
    ),
    (
        "CP plan for an unborn child, named by the parent",
        request(),
        F(plans=[plan(child=UNBORN)]),
        statutory("child_protection_plan"),
        None,
    ),
    (
        "emergency referral: significant harm",
        request(required=("referral",)),
        F(referrals=[referral()]),
        statutory("significant_harm"),
        None,
    ),
    (
        "statutory ground needs purpose safeguarding",
        request(purpose="research"),
        F(referrals=[referral()]),
        None,
        "no statutory ground",
    ),
    (
        "statutory ground beats a consent",
        request(),
        F(consents=[consent()], enquiries=[enquiry()]),
        statutory("child_protection_enquiry"),
        None,
    ),
    (
        "register match covers the register only",
        request(required=("register",), person=None),
        F(register_match=True),
        statutory("safeguarding_register_match"),
        None,
    ),
    (
        "register match does not cover attendance",
        request(),
        F(register_match=True),
        None,
        "does not cover attendance",
    ),
    (
        "statutory ground does not cover register data",
        request(required=("register",)),
        F(enquiries=[enquiry()]),
        None,
        "does not cover register",
    ),
    (
        "withdrawn consent, but a CP plan: shared on the plan",
        request(),
        F(consents=[consent(withdrawn_at=NOON - timedelta(hours=1))], plans=[plan()]),
        statutory("child_protection_plan"),
        None,
    ),
    (
        "an s47 enquiry is no ground for sharing with a treatment provider",
        request(recipient=PROVIDER),
        F(enquiries=[enquiry()]),
        None,
        "no statutory ground allows sharing with CGL-WSX",
    ),
    (
        "an organisation not in the directory gets nothing on an enquiry",
        request(recipient="NOT-LISTED"),
        F(enquiries=[enquiry()]),
        None,
        "no statutory ground",
    ),
    (
        "an s47 referral to social care: significant harm, to that organisation",
        request(required=("referral",)),
        F(referrals=[referral(threshold="child_protection_s47")]),
        statutory("significant_harm"),
        None,
    ),
    (
        "significant harm is no ground for another social care organisation",
        request(recipient=ELSEWHERE),
        F(referrals=[referral()]),
        None,
        "no statutory ground allows sharing with BHCC-CSC",
    ),
    (
        "a child in need referral is no significant-harm ground",
        request(),
        F(referrals=[referral(threshold="child_in_need_s17")]),
        None,
        "no statutory ground",
    ),
    (
        "an emergency referral to treatment is no ground",
        request(recipient=PROVIDER),
        F(referrals=[referral(direction="to_treatment", to_org=PROVIDER)]),
        None,
        "no statutory ground",
    ),
    (
        "a declined significant-harm referral is no ground",
        request(),
        F(referrals=[referral(ended=True)]),
        None,
        "no statutory ground",
    ),
    (
        "significant harm lapses after 30 days",
        request(),
        F(referrals=[referral(made_at=NOON - timedelta(days=30, seconds=1))]),
        None,
        "no statutory ground",
    ),
    (
        "significant harm still holds on day 30",
        request(),
        F(referrals=[referral(made_at=NOON - timedelta(days=30))]),
        statutory("significant_harm"),
        None,
    ),
    (
        "an initial child protection conference invitation naming no parent",
        request(recipient=PROVIDER, person=None, required=("conference",), conference_kind="initial_child_protection"),
        F(),
        statutory("child_protection_conference"),
        None,
    ),
    (
        "a review child protection conference, even with no other ground",
        request(recipient=PROVIDER, required=("conference",), conference_kind="review_child_protection"),
        F(),
        statutory("child_protection_conference"),
        None,
    ),
    (
        "a core group meeting is no conference ground",
        request(recipient=PROVIDER, required=("conference",), conference_kind="core_group"),
        F(),
        None,
        "no statutory ground",
    ),
    (
        "the conference ground covers the invitation only",
        request(recipient=PROVIDER, required=("attendance",), conference_kind="initial_child_protection"),
        F(),
        None,
        "does not cover attendance",
    ),
    (
        "an unborn child by due date with a parent in common",
        request(person=OTHER, children=[ChildRef(expected_due_date=date(2026, 6, 1), parents=frozenset({PARENT}))]),
        F(enquiries=[enquiry(child=ChildRef(expected_due_date=date(2026, 6, 1)), parents=frozenset({PARENT}))]),
        statutory("child_protection_enquiry"),
        None,
    ),
    (
        "an unborn child with the same due date but no parent in common",
        request(person=OTHER, children=[ChildRef(expected_due_date=date(2026, 6, 1), parents=frozenset({OTHER}))]),
        F(enquiries=[enquiry(child=ChildRef(expected_due_date=date(2026, 6, 1)), parents=frozenset({"9999999999"}))]),
        None,
        "no statutory ground",
    ),
    (
        "a refusal of consent is named in the reason",
        request(),
        F(refusals=[Refusal(YESTERDAY)]),
        None,
        "consent refused on",
    ),
    (
        "a consent given after a refusal supersedes it",
        request(),
        F(refusals=[Refusal(date(2025, 12, 1))], consents=[consent()]),
        CONSENT_BASIS,
        None,
    ),
    (
        "a consent recorded after the event still counts when decided later",
        request(at=NOON - timedelta(days=1), decided_at=NOON),
        F(consents=[consent(given_on=TODAY)]),
        CONSENT_BASIS,
        None,
    ),
    (
        "a ground is judged when the event happened: an enquiry closed since still holds",
        request(at=NOON - timedelta(days=2), decided_at=NOON),
        F(enquiries=[enquiry(opened_on=TODAY - timedelta(days=5), closed_on=YESTERDAY)]),
        statutory("child_protection_enquiry"),
        None,
    ),
]


@pytest.mark.parametrize(("name", "req", "facts", "basis", "reason"), CASES, ids=[c[0] for c in CASES])
def test_disclosure_rules(name, req, facts, basis, reason):
    decision = decide(req, facts)
    assert decision.basis == basis
    assert decision.shared is (basis is not None)
    if basis is None:
        assert reason in decision.reason
        assert decision.categories == ()
    else:
        assert decision.reason is None
        assert set(req.required) <= set(decision.categories)


def test_only_the_categories_the_consent_covers_are_sent():
    facts = Facts(consents=[consent(data_categories=("referral",))])
    decision = decide(request(required=("referral",), optional=("risk",)), facts)
    assert decision.shared and decision.categories == ("referral",)
    assert decision.withheld_categories == ("risk",)


def test_optional_categories_go_when_covered():
    facts = Facts(consents=[consent(data_categories=("referral", "risk"))])
    decision = decide(request(required=("referral",), optional=("risk",)), facts)
    assert decision.categories == ("referral", "risk")


def test_the_consent_covering_most_is_chosen():
    narrow = consent(consent_id="narrow", data_categories=("referral",))
    wide = consent(consent_id="wide", data_categories=("referral", "risk"))
    decision = decide(request(required=("referral",), optional=("risk",)), Facts(consents=[narrow, wide]))
    assert decision.basis == {"kind": "consent", "consent_id": "wide"}


def test_required_categories_must_all_be_covered_by_one_consent():
    a = consent(consent_id="a", data_categories=("referral",))
    b = consent(consent_id="b", data_categories=("attendance",))
    decision = decide(request(required=("referral", "attendance")), Facts(consents=[a, b]))
    assert not decision.shared


def test_statutory_ground_sends_optional_safeguarding_categories():
    decision = decide(request(required=("referral",), optional=("risk",)), F(referrals=[referral()]))
    assert decision.categories == ("referral", "risk")


def test_expiry_is_reckoned_on_the_london_date():
    # 23:30 UTC on 31 May is 00:30 on 1 June in London (BST): a consent expiring 31 May has lapsed.
    late = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    decision = decide(request(at=late), Facts(consents=[consent(expires_on=date(2026, 5, 31))]))
    assert not decision.shared and "expired" in decision.reason


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        london_date(datetime(2026, 1, 1, 12, 0))


# -- property: no combination of facts yields a share without a basis -------------------------

CATEGORIES = ("referral", "attendance", "treatment_status", "risk", "conference", "register")
ORGS = (CSC, PROVIDER, ELSEWHERE)
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))
times = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC))
children = st.sampled_from([CHILD, UNBORN, ChildRef(nhs_number=OTHER), ChildRef(local_id="C-9")])
parents = st.frozensets(st.sampled_from([PARENT, OTHER]), max_size=2)


@st.composite
def consents(draw):
    given_on = draw(days)
    return Consent(
        consent_id=draw(st.sampled_from(["c1", "c2", "c3"])),
        recipients=tuple(draw(st.one_of(st.just(["*"]), st.lists(st.sampled_from(ORGS), min_size=1, max_size=2)))),
        purposes=tuple(draw(st.lists(st.sampled_from(["safeguarding", "research"]), min_size=1, max_size=2))),
        data_categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4))),
        given_on=given_on,
        expires_on=draw(st.none() | st.dates(min_value=given_on, max_value=date(2027, 1, 1))),
        withdrawn_at=draw(st.none() | times),
    )


@st.composite
def referrals(draw):
    return Referral(
        referral_id=draw(st.sampled_from(["r1", "r2"])),
        direction=draw(st.sampled_from(["to_social_care", "to_treatment"])),
        to_org=draw(st.sampled_from(ORGS)),
        threshold=draw(st.sampled_from(["emergency", "child_protection_s47", "child_in_need_s17", None])),
        made_at=draw(times),
        ended=draw(st.booleans()),
    )


@st.composite
def all_facts(draw):
    def window(d):
        end = draw(st.none() | st.dates(min_value=d, max_value=date(2027, 1, 1)))
        return d, end

    enquiries = []
    for i in range(draw(st.integers(0, 2))):
        opened, closed = window(draw(days))
        enquiries.append(Enquiry(f"e{i}", draw(children), draw(parents), opened, closed))
    plans = []
    for i in range(draw(st.integers(0, 2))):
        started, ended = window(draw(days))
        plans.append(
            Plan(
                f"p{i}",
                draw(st.sampled_from(["child_protection", "child_in_need"])),
                draw(children),
                draw(parents),
                started,
                ended,
            )
        )
    return Facts(
        consents=draw(st.lists(consents(), max_size=3)),
        enquiries=enquiries,
        plans=plans,
        referrals=draw(st.lists(referrals(), max_size=2)),
        refusals=draw(st.lists(st.builds(Refusal, days), max_size=1)),
        kinds=KINDS,
        register_match=draw(st.booleans()),
    )


@st.composite
def requests(draw):
    required = tuple(draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2, unique=True)))
    return Request(
        recipient=draw(st.sampled_from(ORGS)),
        purpose=draw(st.sampled_from(["safeguarding", "research"])),
        required=required,
        optional=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True))),
        at=draw(times),
        person=draw(st.sampled_from([PARENT, OTHER, None])),
        children=tuple(draw(st.lists(children, max_size=2))),
        conference_kind=draw(st.sampled_from([None, "initial_child_protection", "core_group"])),
    )


@settings(max_examples=800, deadline=None)
@given(req=requests(), facts=all_facts())
def test_no_combination_of_facts_shares_without_a_basis(req, facts):
    decision = decide(req, facts)
    if not decision.shared:
        assert decision.basis is None and decision.categories == () and decision.reason
        return
    assert decision.basis is not None
    assert set(req.required) <= set(decision.categories) <= set(req.required) | set(req.optional)
    if decision.basis["kind"] == "statutory":
        ground = decision.basis["ground"]
        assert ground in statutory_grounds(req, facts)
        assert req.purpose == "safeguarding"
        assert set(decision.categories) <= STATUTORY_CATEGORIES[ground]
        # each ground only to its own recipients
        if ground in ("child_protection_enquiry", "child_protection_plan"):
            assert facts.kinds.get(req.recipient) == "children_social_care"
        if ground == "significant_harm":
            assert any(
                r.to_org == req.recipient and r.direction == "to_social_care" and not r.ended for r in facts.referrals
            )
        if ground == "child_protection_conference":
            assert req.conference_kind in ("initial_child_protection", "review_child_protection")
    else:
        used = [c for c in facts.consents if c.consent_id == decision.basis["consent_id"]]
        assert any(
            c.active_at(req.at) and all(c.covers(req.recipient, req.purpose, cat) for cat in decision.categories)
            for c in used
        )


@settings(max_examples=300, deadline=None)
@given(req=requests(), facts=all_facts())
def test_withdrawing_every_consent_before_the_decision_leaves_only_statutory_shares(req, facts):
    withdrawn = [
        Consent(
            c.consent_id,
            c.recipients,
            c.purposes,
            c.data_categories,
            c.given_on,
            c.expires_on,
            req.at - timedelta(seconds=1),
        )
        for c in facts.consents
    ]
    decision = decide(req, dataclasses.replace(facts, consents=withdrawn))
    assert not decision.shared or decision.basis["kind"] == "statutory"


def test_release_on_professional_judgement_sends_what_the_request_names():
    decision = release(request(required=("referral",), optional=("risk",)), by="dsl-1", reason="risk to the baby")
    assert decision.shared
    assert decision.basis == {"kind": "professional_judgement", "by": "dsl-1", "reason": "risk to the baby"}
    assert decision.categories == ("referral", "risk")


def test_a_withheld_decision_carries_the_refusal_date():
    decision = decide(request(), F(refusals=[Refusal(YESTERDAY, recipients=(CSC,))]))
    assert decision.consent_refused_on == YESTERDAY
    assert decide(request(), F(refusals=[Refusal(YESTERDAY, recipients=(ELSEWHERE,))])).consent_refused_on is None
