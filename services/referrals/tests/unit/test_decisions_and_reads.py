"""Decisions heard on ``isp.audit.v1`` decide what the receiving organisation sees of a referral:
nothing until a share, then only the shared categories, and each of its reads audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isp_common.db import UnitOfWork
from isp_common.testing import FixedClock, unique
from isp_referrals import domain, handlers, shares
from isp_referrals.domain import READ_AUDIT_TYPE
from isp_referrals.tables import Referral, ReferralShare
from isp_referrals.views import read_referral
from isp_schemas.audit import disclosure_record_id
from isp_schemas.envelope import CloudEvent

from ..kit import book, decision_about, record_decision

NOW = datetime(2026, 11, 16, 10, tzinfo=UTC)
CSC, PROVIDER = "WSCC-CSC", "CGL-WSX"
AUDIT = "uk.isp.audit.disclosure.v1"


def share_row(uow: UnitOfWork, referral: Referral) -> ReferralShare | None:
    return shares.share_of(uow.session, referral)


# --- keeping the decisions -----------------------------------------------------------------------


def test_a_decision_about_a_referral_is_kept_for_its_recipient(uow, make):
    referral = make(NOW, shared=False)
    data = record_decision(uow, referral, NOW, categories=("referral",))
    row = share_row(uow, referral)
    assert row is not None and (row.decision, row.data_categories) == ("shared", ["referral"])
    assert row.lawful_basis == {"kind": "consent", "consent_id": "con-1"} and row.purpose == "safeguarding"
    assert row.audit_record_id == disclosure_record_id(data.alert_id, PROVIDER, "shared")


@pytest.mark.parametrize(
    "overrides",
    [
        {"alert_type": "uk.isp.alert.did_not_attend.v1"},
        {"alert_type": READ_AUDIT_TYPE},  # this service's own audit of a read
        {"alert_type": None},
        {"decision": "received"},
        {"source_event_id": None},
    ],
)
def test_records_that_are_not_a_decision_about_a_referral_are_ignored(uow, make, overrides):
    referral = make(NOW, shared=False)
    record_decision(uow, referral, NOW, **overrides)
    assert share_row(uow, referral) is None


RECORD = {
    "alert_id": "a-1",
    "decision": "shared",
    "discloser": PROVIDER,
    "recipient": CSC,
    "purpose": "safeguarding",
    "source_event_id": "evt-1",
    "channel": "kafka",
    "shared_at": NOW.isoformat(),
}
ALERT_TYPES = st.sampled_from(
    [domain.sharing.REFERRAL_RECEIVED, "uk.isp.alert.did_not_attend.v1", READ_AUDIT_TYPE, "", None]
)


@settings(max_examples=200)
@given(
    alert_type=st.one_of(ALERT_TYPES, st.text(max_size=40)),
    decision=st.sampled_from(["shared", "withheld", "received", "released"]),
    source_event_id=st.sampled_from(["evt-1", "", None]),
    absent=st.booleans(),
)
def test_a_record_skipped_on_its_raw_data_is_one_the_decision_check_refuses(
    alert_type, decision, source_event_id, absent
):
    """The consumer skips a record unvalidated when :func:`shares.not_a_referral_decision` says so;
    that must never skip one :func:`shares.is_referral_decision` keeps."""
    from isp_schemas.audit import DisclosureRecorded
    from pydantic import ValidationError

    raw = {**RECORD, "decision": decision, "source_event_id": source_event_id}
    if not absent:
        raw["alert_type"] = alert_type
    try:
        record = DisclosureRecorded.model_validate(raw)
    except ValidationError:
        return  # an invalid record is never kept either way
    event = CloudEvent.create(type=AUDIT, source_org=PROVIDER, data=record)
    if shares.not_a_referral_decision(raw):
        assert not shares.is_referral_decision(event, record)
    if shares.is_referral_decision(event, record):
        assert not shares.not_a_referral_decision(raw)
    assert shares.not_a_referral_decision(None) and shares.not_a_referral_decision(["not", "an", "object"])


def test_a_release_replaces_the_withheld_decision_and_a_late_withheld_record_does_not_undo_it(uow, make):
    referral = make(NOW, shared=False)
    withheld = record_decision(uow, referral, NOW, decision="withheld")
    assert share_row(uow, referral).decision == "withheld"
    supersedes = disclosure_record_id(withheld.alert_id, PROVIDER, "withheld")
    record_decision(uow, referral, NOW + timedelta(hours=1), alert_id=withheld.alert_id, supersedes=supersedes)
    assert share_row(uow, referral).decision == "shared"
    record_decision(uow, referral, NOW + timedelta(hours=2), decision="withheld")
    assert share_row(uow, referral).decision == "shared"


RECORDS = [
    ("withheld", 0, ()),
    ("shared", 1, ("referral",)),
    ("shared", 2, ("referral", "risk")),
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(RECORDS))
def test_decisions_heard_in_any_order_end_as_heard_in_order(uow, order):
    """The latest share wins and a withholding never undoes a share, whatever order the records
    arrive in (the referral itself may come after them: it is not needed to keep them)."""
    referral = Referral(
        id=unique("ref-"),
        direction="to_treatment",
        from_org=CSC,
        to_org=PROVIDER,
        nhs_number="9434765919",
        person={"nhs_number": "9434765919"},
        rag="red",
        source_event_id=unique("evt-"),
    )
    for decision, hours, categories in order:
        event, data = decision_about(referral, NOW + timedelta(hours=hours), decision=decision, categories=categories)
        shares.disclosure_recorded(uow, event, data)
        uow.commit()
    row = share_row(uow, referral)
    assert (row.decision, row.data_categories) == ("shared", ["referral", "risk"])


def test_a_decision_heard_before_the_referral_applies_when_it_arrives(uow, rules, request_data):
    data = request_data()
    requested = CloudEvent.create(type=data.event_type, source_org=CSC, data=data, time=NOW)
    placeholder = Referral(
        id=data.referral_id,
        direction=data.direction,
        from_org=CSC,
        to_org=PROVIDER,
        nhs_number=data.person.nhs_number,
        person={},
        rag="red",
        source_event_id=requested.id,
    )
    event, decision = decision_about(placeholder, NOW)
    shares.disclosure_recorded(uow, event, decision)
    uow.commit()
    handlers.referral_requested(uow, requested, data, rules=rules, clock=FixedClock(NOW))
    uow.commit()
    referral = uow.session.get(Referral, data.referral_id)
    assert read_referral(uow, referral, PROVIDER, NOW).id == data.referral_id


# --- what each party sees -----------------------------------------------------------------------


def audits(published) -> list[dict]:
    return [e.data for e in published(AUDIT)]


def test_the_sender_sees_its_referral_in_full_and_is_not_audited(uow, make, published):
    referral = make(NOW, shared=False)
    view = read_referral(uow, referral, CSC, NOW)
    assert view.rag == "amber" and view.children and view.support_request is not None and view.consent_id == "con-1"
    assert view.requested_event_id == referral.source_event_id and view.disclosure is None
    assert audits(published) == []


@pytest.mark.parametrize("decision", [None, "withheld"])
def test_the_receiver_is_told_nothing_until_a_decision_shares_it(uow, make, decision):
    referral = make(NOW, shared=False)
    if decision:
        record_decision(uow, referral, NOW, decision=decision)
    with pytest.raises(domain.ReferralNotFound):
        read_referral(uow, referral, PROVIDER, NOW)


def test_another_organisation_is_refused(uow, make):
    with pytest.raises(domain.NotYourReferral):
        read_referral(uow, make(NOW), "OTHER-LA", NOW)


def test_without_risk_the_receiver_sees_neither_the_rating_nor_the_children(uow, make, published):
    referral = make(NOW, shared=False)
    record_decision(uow, referral, NOW, categories=("referral",))
    view = read_referral(uow, referral, PROVIDER, NOW)
    uow.commit()
    assert view.rag is None and view.children is None
    assert view.support_request is None and view.consent_id is None  # the sender's, not shared
    assert (view.summary, view.priority, view.state) == (referral.summary, True, "requested")
    assert "rag" not in view.history[0].details and view.history[0].details["threshold"] is None
    assert [d.due for d in view.due_dates] == ["response"] and view.disclosure.data_categories == ["referral"]
    [audit] = audits(published)
    assert audit["alert_type"] == READ_AUDIT_TYPE and audit["channel"] == "api" and audit["decision"] == "shared"
    assert (audit["discloser"], audit["recipient"], audit["person"]) == (CSC, PROVIDER, referral.nhs_number)
    assert audit["data_categories"] == ["referral"] and audit["children"] == []
    assert audit["lawful_basis"] == {"kind": "consent", "consent_id": "con-1"} and audit["purpose"] == "safeguarding"
    assert audit["source_event_id"] == referral.source_event_id


def test_with_risk_the_receiver_sees_the_rating_and_the_children_and_each_read_is_its_own_record(uow, make, published):
    referral = make(NOW)
    first, second = (read_referral(uow, referral, PROVIDER, NOW) for _ in range(2))
    uow.commit()
    assert first.rag == "amber" and [c.local_id for c in first.children] == ["C-1"] == [
        c.local_id for c in second.children
    ]
    records = audits(published)
    assert [r["data_categories"] for r in records] == [["referral", "risk"]] * 2
    assert [c["local_id"] for c in records[0]["children"]] == ["C-1"]
    assert records[0]["alert_id"] != records[1]["alert_id"]


@pytest.mark.parametrize(("categories", "shown"), [(("referral",), False), (("referral", "attendance"), True)])
def test_another_organisations_appointments_are_shown_only_when_attendance_was_shared(
    uow, make, to_social_care, published, categories, shown
):
    referral = make(NOW, to_social_care(), shared=False)  # from the provider, to social care
    record_decision(uow, referral, NOW, categories=categories)
    book(uow, referral.id, NOW + timedelta(days=2), kind="other")
    view = read_referral(uow, referral, CSC, NOW)
    uow.commit()
    assert bool(view.appointments) is shown
    assert ("appointment_booked" in [h.action for h in view.history]) is shown
    assert ("attendance" in audits(published)[0]["data_categories"]) is shown


def test_the_receivers_own_appointments_are_its_own_to_see(uow, make):
    referral = make(NOW, shared=False)  # from social care to the provider, who books the assessment
    record_decision(uow, referral, NOW, categories=("referral",))
    book(uow, referral.id, NOW + timedelta(days=2))
    view = read_referral(uow, referral, PROVIDER, NOW)
    assert [a.appointment_id for a in view.appointments] == ["apt-1"]
