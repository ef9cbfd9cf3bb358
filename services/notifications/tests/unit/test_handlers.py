"""Each alert family from its causing events, on a real unit of work (in-memory SQLite):
the alert queued for the recipient's topic with its audit record, or the withheld path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from isp_common.auth import Caller
from isp_common.db import UnitOfWork
from isp_common.tables import OutboxMessage
from isp_common.testing import FixedClock, nhs_number, outbox_events
from isp_common.workingdays import WorkingCalendar
from isp_notifications import commands, deadlines
from isp_notifications.domain.consents import withdrawal_time
from isp_notifications.handlers import handlers_by_topic, referrals, register
from isp_notifications.tables import AlertRecord, InformingStatement
from isp_schemas import topics
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent, EventData
from isp_schemas.people import Person
from isp_schemas.referrals import (
    ReferralAccepted,
    ReferralAmended,
    ReferralCancelled,
    ReferralOverdue,
    ReferralRequested,
)
from isp_schemas.register import RegisterCrossAreaMatch, WeeklyReviewMissed
from isp_schemas.socialcare import (
    ConferenceCancelled,
    ConferenceScheduled,
    EnquiryClosed,
    EnquiryOpened,
    PlanEnded,
    PlanStarted,
)
from isp_schemas.treatment import EpisodeDisengaged
from sqlmodel import select

from ..kit import CSC, PROVIDER, assessment_missed, consent_given, referral_fields

CSC2 = "BHCC-CSC"
NHS, NHS2 = nhs_number(0), nhs_number(1)
PARENT = Person(nhs_number=NHS, given_name="Sam", family_name="Taylor")
PARENT2 = Person(nhs_number=NHS2)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DNA = "uk.isp.alert.did_not_attend.v1"
WITHHELD = "uk.isp.alert.disclosure_withheld.v1"
KEY = "a" * 64
INVITEE = Caller(sub="tester@cgl-wsx", org=PROVIDER, roles=frozenset({"provider"}))


def routes(now: datetime) -> dict[str, Any]:
    """Every event type's handler as the consumers run it (facts, then decisions, then re-decisions)."""
    by_topic = handlers_by_topic(WorkingCalendar(), FixedClock(now))
    return {event_type: h for handlers in by_topic.values() for event_type, h in handlers.items()}


def handle(
    uow: UnitOfWork, data: EventData, source: str, now: datetime = NOW, *, time: datetime | None = None
) -> CloudEvent:
    """Handle an event from ``source`` (at ``time``, default ``now``) as the consumer would at ``now``, committed."""
    event = CloudEvent.create(type=data.event_type, source_org=source, data=data, time=time or now)
    routes(now)[data.event_type](uow, event, data)
    uow.commit()
    return event


def alerts_to(uow: UnitOfWork, org: str, type: str | None = None) -> list[dict[str, Any]]:
    return outbox_events(uow.session, topics.alerts(org), type)


def audit(uow: UnitOfWork, decision: str | None = None) -> list[dict[str, Any]]:
    records = [e["data"] for e in outbox_events(uow.session, topics.AUDIT)]
    return [r for r in records if decision is None or r["decision"] == decision]


def mark_outbox_sent(uow: UnitOfWork) -> None:
    """The relay has put everything queued so far on the broker."""
    for row in uow.session.exec(select(OutboxMessage)).all():
        row.sent_at = NOW
        uow.session.add(row)
    uow.commit()


def give_consent(uow, categories=("attendance", "referral"), recipients=(CSC,), consent_id="con-1", person=PARENT):
    handle(uow, consent_given(person, categories, recipients, consent_id), PROVIDER)


def missed(referral_id="ref-1", scheduled_for=datetime(2026, 3, 10, 9, 0, tzinfo=UTC)):
    return assessment_missed(PARENT, NOW, scheduled_for, referral_id)


def referral(**kw):
    base = dict(
        referral_id="ref-1",
        direction="to_treatment",
        from_org=CSC,
        to_org=PROVIDER,
        person=PARENT,
        children=[{"local_id": "C-1"}],
        rag="amber",
        summary="alcohol misuse",
    )
    base.update(kw)
    return ReferralRequested(**base)


# -- did_not_attend ------------------------------------------------------------------------


def test_dna_alert_deadline_is_24_hours_after_the_appointment(uow):
    give_consent(uow)
    handle(uow, missed(), PROVIDER)
    [alert] = alerts_to(uow, CSC, DNA)
    assert alert["data"]["deadline"] == "2026-03-11T09:00:00Z"
    assert alert["data"]["lawful_basis"] == {"kind": "consent", "consent_id": "con-1"}
    [record] = audit(uow, "shared")
    assert record["alert_id"] == alert["id"] and record["data_categories"] == ["attendance"]
    assert record["service_user_informed"] is None  # consent: the person knows


def test_dna_without_a_basis_is_withheld_audited_and_the_sender_told(uow):
    handle(uow, missed(), PROVIDER)
    assert alerts_to(uow, CSC) == []
    [record] = audit(uow)
    assert record["decision"] == "withheld" and "no consent recorded" in record["reason"]
    [told] = alerts_to(uow, PROVIDER, WITHHELD)
    assert told["data"]["withheld_type"] == DNA and told["data"]["intended_recipient"] == CSC


# -- referral_received -----------------------------------------------------------------------


def test_referral_from_social_care_is_priority_and_sends_only_consented_categories(uow):
    give_consent(uow, categories=("referral",), recipients=(PROVIDER,))
    handle(uow, referral(), CSC)
    [alert] = alerts_to(uow, PROVIDER)
    data = alert["data"]
    assert data["priority"] is True and data["summary"] == "alcohol misuse"
    assert data.get("rag") is None and data.get("children") is None  # "risk" not consented
    [record] = audit(uow, "shared")
    assert record["data_categories"] == ["referral"] and record["children"] == []


def test_emergency_referral_is_shared_on_significant_harm_with_not_yet_told(uow):
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="emergency", rag="red")
    handle(uow, ref, PROVIDER)
    [alert] = alerts_to(uow, CSC)
    assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "significant_harm"}
    assert alert["data"]["priority"] is False and alert["data"]["rag"] == "red"
    [record] = audit(uow, "shared")
    assert record["service_user_informed"] is False and record["not_informed_reason"] == "not yet told"
    assert [c["local_id"] for c in record["children"]] == ["C-1"]


def test_a_sender_statement_about_telling_the_service_user_goes_on_the_record(uow):
    uow.session.add(
        InformingStatement(
            org=PROVIDER,
            nhs_number=NHS,
            informed=False,
            reason="telling them would put the child at risk",
            recorded_at=NOW,
        )
    )
    uow.commit()
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="emergency")
    handle(uow, ref, PROVIDER)
    [record] = audit(uow, "shared")
    assert record["not_informed_reason"] == "telling them would put the child at risk"


def test_referral_without_a_basis_is_withheld(uow):
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="family_support")
    handle(uow, ref, PROVIDER)
    assert alerts_to(uow, CSC) == []
    assert [r["decision"] for r in audit(uow)] == ["withheld"]
    assert alerts_to(uow, PROVIDER, WITHHELD)


def test_referral_status_goes_to_the_referrer_and_a_cancellation_to_the_receiver(uow):
    give_consent(uow, categories=("referral",), recipients=("*",))
    common = referral_fields(PARENT, NOW)
    handle(uow, ReferralAccepted(**common), PROVIDER)
    handle(uow, ReferralCancelled(**common, reason="moved away"), CSC)
    [accepted] = alerts_to(uow, CSC, "uk.isp.alert.referral_status.v1")
    [cancelled] = alerts_to(uow, PROVIDER, "uk.isp.alert.referral_status.v1")
    assert accepted["data"]["state"] == "accepted" and cancelled["data"]["state"] == "cancelled"
    assert len(audit(uow, "shared")) == 2


def test_an_amendment_goes_to_the_receiver_naming_the_changed_fields(uow):
    give_consent(uow, categories=("referral",), recipients=("*",))
    common = referral_fields(PARENT, NOW)
    amendment = ReferralAmended(**common, changed=["summary"], summary="New")
    handle(uow, amendment, CSC)
    [amended] = alerts_to(uow, PROVIDER, "uk.isp.alert.referral_status.v1")
    assert amended["data"]["state"] == "amended" and amended["data"]["changed"] == ["summary"]
    assert alerts_to(uow, CSC, "uk.isp.alert.referral_status.v1") == []
    [record] = audit(uow, "shared")
    assert record["discloser"] == CSC and record["recipient"] == PROVIDER


def test_an_overdue_step_goes_to_the_responsible_org_without_a_person_or_audit(uow):
    overdue = ReferralOverdue(
        **referral_fields(PARENT, NOW),
        due="joint_visit",
        due_on=date(2026, 3, 9),
        responsible_org=PROVIDER,
    )
    handle(uow, overdue, PROVIDER)
    [alert] = alerts_to(uow, PROVIDER)
    assert "person" not in alert["data"] and "subject" not in alert
    assert audit(uow) == []


# -- treatment_disengaged --------------------------------------------------------------------


def test_disengagement_goes_to_every_social_care_org_working_with_the_children(uow):
    handle(uow, referral(), CSC)  # CSC referred the parent
    enquiry = EnquiryOpened(enquiry_id="s47-1", child={"local_id": "C-7"}, parents=[PARENT], opened_on=date(2026, 3, 1))
    handle(uow, enquiry, CSC2)
    gone = EpisodeDisengaged(episode_id="ep-1", person=PARENT, last_contact_on=date(2026, 3, 2))
    handle(uow, gone, PROVIDER)
    to_csc = alerts_to(uow, CSC, "uk.isp.alert.treatment_disengaged.v1")
    to_csc2 = alerts_to(uow, CSC2, "uk.isp.alert.treatment_disengaged.v1")
    assert len(to_csc) == len(to_csc2) == 1
    # an open s47 enquiry naming the parent is a statutory ground for both
    assert to_csc2[0]["data"]["lawful_basis"]["ground"] == "child_protection_enquiry"
    assert to_csc2[0]["data"]["children"] == [{"local_id": "C-7"}]  # each org: the children it knows
    assert to_csc[0]["data"]["children"] == [{"local_id": "C-1"}]


def test_disengagement_without_a_basis_is_withheld_for_each_org(uow):
    handle(uow, referral(), CSC)
    gone = EpisodeDisengaged(episode_id="ep-1", person=PARENT, last_contact_on=date(2026, 3, 2))
    handle(uow, gone, PROVIDER)
    assert alerts_to(uow, CSC, "uk.isp.alert.treatment_disengaged.v1") == []
    assert [r["decision"] for r in audit(uow) if r["alert_type"].endswith("disengaged.v1")] == ["withheld"]


def test_a_plan_ended_yesterday_no_longer_counts_as_working_with_the_family(uow):
    plan = PlanStarted(
        plan_id="cp-1",
        kind="child_protection",
        child={"local_id": "C-1"},
        parents=[PARENT],
        started_on=date(2026, 1, 1),
    )
    handle(uow, plan, CSC2)
    handle(uow, PlanEnded(plan_id="cp-1", ended_on=date(2026, 3, 9)), CSC2)
    gone = EpisodeDisengaged(episode_id="ep-1", person=PARENT, last_contact_on=date(2026, 3, 2))
    handle(uow, gone, PROVIDER)
    assert alerts_to(uow, CSC2) == [] and audit(uow) == []


# -- conference_invitation -------------------------------------------------------------------


def scheduled(issued_at, scheduled_for, parents=(PARENT,), invitees=(PROVIDER,), kind="core_group"):
    return ConferenceScheduled(
        conference_id="conf-1",
        kind=kind,
        children=[{"local_id": "C-1"}],
        parents=list(parents),
        scheduled_for=scheduled_for,
        location="Room 1",
        issued_at=issued_at,
        invitees=list(invitees),
    )


def test_short_notice_invitation_still_goes_flagged_and_asks_for_a_report(uow):
    enquiry = EnquiryOpened(enquiry_id="s47-1", child={"local_id": "C-1"}, parents=[PARENT], opened_on=date(2026, 3, 1))
    handle(uow, enquiry, CSC)
    conf = scheduled(
        datetime(2026, 4, 1, 9, tzinfo=UTC), datetime(2026, 4, 8, 10, tzinfo=UTC), kind="initial_child_protection"
    )
    handle(uow, conf, CSC)
    [invite] = alerts_to(uow, PROVIDER, "uk.isp.alert.conference_invitation.v1")
    data = invite["data"]
    assert (data["notice_working_days"], data["short_notice"], data["report_due"]) == (3, True, "2026-04-07")
    assert data["written_report_requested"] is True
    assert data["children"] == [{"local_id": "C-1"}]
    [record] = audit(uow, "shared")
    assert record["data_categories"] == ["conference"]


def test_a_child_protection_conference_invites_on_its_own_ground_even_with_no_parent_named(uow):
    conf = scheduled(
        datetime(2026, 3, 2, 9, tzinfo=UTC),
        datetime(2026, 3, 16, 10, tzinfo=UTC),
        parents=(),
        invitees=(PROVIDER, "OTHER-ORG"),
        kind="initial_child_protection",
    )
    handle(uow, conf, CSC)
    for invitee in (PROVIDER, "OTHER-ORG"):
        [invite] = alerts_to(uow, invitee, "uk.isp.alert.conference_invitation.v1")
        assert invite["data"]["lawful_basis"] == {"kind": "statutory", "ground": "child_protection_conference"}
        assert "person" not in invite["data"] and invite["data"]["children"] == [{"local_id": "C-1"}]
    assert sorted(r["recipient"] for r in audit(uow, "shared")) == ["CGL-WSX", "OTHER-ORG"]


def test_an_initial_conference_after_the_enquiry_closed_and_before_the_plan_still_invites(uow):
    enquiry = EnquiryOpened(enquiry_id="s47-1", child={"local_id": "C-1"}, parents=[PARENT], opened_on=date(2026, 2, 1))
    handle(uow, enquiry, CSC)
    handle(uow, EnquiryClosed(enquiry_id="s47-1", closed_on=date(2026, 3, 1)), CSC)
    conf = scheduled(
        datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC), kind="initial_child_protection"
    )
    handle(uow, conf, CSC)
    [invite] = alerts_to(uow, PROVIDER, "uk.isp.alert.conference_invitation.v1")
    assert invite["data"]["lawful_basis"]["ground"] == "child_protection_conference"


def test_a_core_group_meeting_naming_no_parent_is_withheld_audited_and_the_convener_told(uow):
    conf = scheduled(datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC), parents=())
    handle(uow, conf, CSC)
    assert alerts_to(uow, PROVIDER) == []
    [record] = audit(uow)
    assert record["decision"] == "withheld" and record["recipient"] == PROVIDER
    [told] = alerts_to(uow, CSC, WITHHELD)
    assert told["data"]["intended_recipient"] == PROVIDER and "person" not in told["data"]


def test_each_parent_is_decided_on_its_own_basis(uow):
    give_consent(uow, categories=("conference",), recipients=(PROVIDER,), person=PARENT)
    conf = scheduled(
        datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC), parents=(PARENT, PARENT2)
    )
    handle(uow, conf, CSC)
    invites = alerts_to(uow, PROVIDER, "uk.isp.alert.conference_invitation.v1")
    assert [i["data"]["person"]["nhs_number"] for i in invites] == [NHS]
    assert sorted(r["decision"] for r in audit(uow)) == ["shared", "withheld"]
    assert alerts_to(uow, CSC, WITHHELD)[0]["data"]["person"]["nhs_number"] == NHS2


def test_cancellation_goes_only_to_invitees_who_were_told(uow):
    give_consent(uow, categories=("conference",), recipients=(PROVIDER,))
    conf = scheduled(
        datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC), invitees=(PROVIDER, "OTHER-ORG")
    )
    handle(uow, conf, CSC)
    cancelled = ConferenceCancelled(conference_id="conf-1", reason="family moved")
    handle(uow, cancelled, CSC)
    assert len(alerts_to(uow, PROVIDER, "uk.isp.alert.conference_cancelled.v1")) == 1
    assert alerts_to(uow, "OTHER-ORG") == []


def test_a_report_not_received_by_report_due_is_flagged_once_to_the_convener(uow):
    give_consent(uow, categories=("conference",), recipients=(PROVIDER,))
    conf = scheduled(datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC))
    handle(uow, conf, CSC)
    commands.answer_invitation(uow, INVITEE, "conf-1", "cannot_attend", NOW)
    on_due_day = datetime(2026, 3, 13, 16, tzinfo=UTC)  # report_due is Fri 13 March
    assert deadlines.flag_overdue_reports(uow, on_due_day) == 0
    day_after = datetime(2026, 3, 14, 9, tzinfo=UTC)
    assert deadlines.flag_overdue_reports(uow, day_after) == 1
    assert deadlines.flag_overdue_reports(uow, day_after) == 0
    [flag] = alerts_to(uow, CSC, "uk.isp.alert.report_overdue.v1")
    assert flag["data"]["invitee"] == PROVIDER and flag["data"]["report_due"] == "2026-03-13"


def test_a_report_received_in_time_is_not_flagged(uow):
    give_consent(uow, categories=("conference",), recipients=(PROVIDER,))
    conf = scheduled(datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC))
    handle(uow, conf, CSC)
    commands.answer_invitation(uow, INVITEE, "conf-1", "written_report", NOW)
    commands.submit_report(uow, INVITEE, "conf-1", NOW)
    assert deadlines.flag_overdue_reports(uow, datetime(2026, 3, 20, tzinfo=UTC)) == 0


# -- register_cross_area ---------------------------------------------------------------------


def test_a_cross_area_match_tells_both_dsls_only_the_fact_of_the_match(uow):
    match = RegisterCrossAreaMatch(
        person_key=KEY,
        entry_id="e-new",
        org=CSC,
        category="child_concern",
        other_entry_id="e-old",
        other_org=PROVIDER,
        other_category="vulnerable_adult",
        matched_at=NOW,
    )
    handle(uow, match, CSC)
    [to_csc] = alerts_to(uow, CSC)
    [to_provider] = alerts_to(uow, PROVIDER)
    assert to_csc["data"]["entry_id"] == "e-old" and to_csc["data"]["own_entry_id"] == "e-new"
    assert to_provider["data"]["entry_id"] == "e-new" and to_provider["data"]["category"] == "child_concern"
    for alert in (to_csc, to_provider):
        assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "safeguarding_register_match"}
        assert "person" not in alert["data"] and "subject" not in alert and "children" not in alert["data"]
    records = audit(uow, "shared")
    assert {(r["discloser"], r["recipient"]) for r in records} == {(PROVIDER, CSC), (CSC, PROVIDER)}
    assert all(r["person"] is None and r["data_categories"] == ["register"] for r in records)


def test_a_week_without_the_weekly_review_is_flagged_to_the_organisations_own_dsl_once(uow):
    """Register reminders go to the owning organisation's own DSL: operational, no person, no audit of a share."""
    missed = WeeklyReviewMissed(org=PROVIDER, week_starting=date(2026, 11, 16), last_reviewed_on=date(2026, 11, 9))
    event = handle(uow, missed, PROVIDER)
    register.weekly_review_missed(uow, event, missed, NOW)  # the same event again: no second alert
    uow.commit()
    [alert] = alerts_to(uow, PROVIDER, "uk.isp.alert.weekly_review_missed.v1")
    assert alert["data"]["week_starting"] == "2026-11-16"
    assert alert["data"]["last_reviewed_on"] == "2026-11-09"
    assert alert["data"].get("lawful_basis") is None and alert["data"].get("person") is None
    assert audit(uow) == []  # nothing about a person left the organisation


# -- consent withdrawal -----------------------------------------------------------------------


def withdraw(uow, at: datetime, now: datetime):
    data = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=at.date())
    handle(uow, data, PROVIDER, now, time=at)


def test_a_share_decided_after_the_withdrawal_is_withheld(uow):
    give_consent(uow)
    withdraw(uow, at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC), now=datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    handle(uow, missed(), PROVIDER, datetime(2026, 3, 10, 10, 1, tzinfo=UTC))
    assert alerts_to(uow, CSC) == []
    assert audit(uow)[0]["reason"].startswith("consent withdrawn")


def test_a_withdrawal_stops_an_alert_queued_but_not_yet_sent(uow):
    give_consent(uow)
    handle(uow, missed(), PROVIDER, datetime(2026, 3, 10, 9, 59, tzinfo=UTC))
    [alert] = alerts_to(uow, CSC, DNA)
    withdraw(uow, at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC), now=datetime(2026, 3, 10, 10, 0, 1, tzinfo=UTC))
    assert alerts_to(uow, CSC, DNA) == []  # taken back out of the outbox
    assert [r["decision"] for r in audit(uow)] == ["shared", "withheld"]
    assert uow.session.get(AlertRecord, alert["id"]).status == "withheld"
    assert alerts_to(uow, PROVIDER, WITHHELD)


def test_the_audit_record_says_how_the_event_behind_the_decision_proved_its_origin(uow):
    from isp_common import provenance

    give_consent(uow)
    with provenance.handling("gateway"):  # as the consumer sets it while the event is handled
        handle(uow, missed(), PROVIDER)
    [record] = audit(uow, "shared")
    assert record["provenance"] == "gateway"


def test_only_the_organisation_that_recorded_a_consent_may_withdraw_or_change_it(uow):
    from isp_common.consumer import EventRejected
    from isp_notifications.tables import ConsentRecord

    give_consent(uow)
    data = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=NOW.date())
    with pytest.raises(EventRejected, match="con-1 is CGL-WSX's"):
        handle(uow, data, "CGL-ESX")
    with pytest.raises(EventRejected):
        widened = consent_given(PARENT, ["attendance"], ["*"], "con-1")
        handle(uow, widened.model_copy(update={"recorded_by": "CGL-ESX"}), "CGL-ESX")
    uow.rollback()
    row = uow.session.get(ConsentRecord, "con-1")
    assert row.withdrawn_at is None and row.recipients == [CSC]


def test_a_withdrawal_by_another_organisation_that_came_first_is_dropped_when_the_consent_arrives(uow):
    from isp_notifications.tables import ConsentRecord

    withdraw_first = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=NOW.date())
    handle(uow, withdraw_first, "CGL-ESX", NOW - timedelta(hours=1), time=NOW - timedelta(hours=1))
    give_consent(uow)
    assert uow.session.get(ConsentRecord, "con-1").withdrawn_at is None


def test_a_withdrawal_stops_an_alert_held_in_quarantine_so_no_release_can_send_it(uow):
    from isp_common.tables import OutboxMessage, QuarantinedOutboxMessage
    from sqlmodel import select

    give_consent(uow)
    handle(uow, missed(), PROVIDER, datetime(2026, 3, 10, 9, 59, tzinfo=UTC))
    [alert] = alerts_to(uow, CSC, DNA)
    [row] = uow.session.exec(select(OutboxMessage).where(OutboxMessage.event_id == alert["id"])).all()
    names = ("topic", "key", "event_id", "event_type", "value", "traceparent", "created_at")
    fields = {name: getattr(row, name) for name in names}
    uow.session.add(QuarantinedOutboxMessage(outbox_id=row.id, reason="refused by the broker", **fields))
    uow.session.delete(row)  # as the relay quarantines it
    withdraw(uow, at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC), now=datetime(2026, 3, 10, 10, 0, 1, tzinfo=UTC))
    assert uow.session.exec(select(QuarantinedOutboxMessage)).all() == []
    assert uow.session.get(AlertRecord, alert["id"]).status == "withheld"


def test_a_withdrawal_cannot_recall_an_alert_already_on_the_topic(uow):
    give_consent(uow)
    handle(uow, missed(), PROVIDER, datetime(2026, 3, 10, 9, 59, tzinfo=UTC))
    mark_outbox_sent(uow)
    withdraw(uow, at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC), now=datetime(2026, 3, 10, 10, 0, 1, tzinfo=UTC))
    assert len(alerts_to(uow, CSC, DNA)) == 1
    assert [r["decision"] for r in audit(uow)] == ["shared"]


def test_a_late_recorded_withdrawal_counts_from_the_start_of_its_day():
    data = ConsentWithdrawn(consent_id="c", person=PARENT, withdrawn_on=date(2026, 3, 8))
    event = CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data, time=NOW)
    assert withdrawal_time(event, data) == datetime(2026, 3, 8, 0, 0, tzinfo=UTC)  # GMT in March
    same_day = ConsentWithdrawn(consent_id="c", person=PARENT, withdrawn_on=NOW.date())
    assert withdrawal_time(event, same_day) == NOW


def test_redelivering_the_cause_does_not_queue_a_second_alert(uow):
    give_consent(uow)
    data = missed()
    event = CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data)
    for _ in range(2):
        referrals.assessment_missed(uow, event, data, NOW + timedelta(minutes=1))
        uow.commit()
    assert len(alerts_to(uow, CSC, DNA)) == 1 and len(audit(uow)) == 1
