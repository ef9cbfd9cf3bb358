"""Each alert family from its causing events, on a real unit of work (in-memory SQLite):
the alert queued for the recipient's topic with its audit record, or the withheld path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from isp_common.workingdays import WorkingCalendar
from isp_notifications import handlers
from isp_notifications.alerts import conferences, referrals, register, treatment
from isp_notifications.facts import consent_given, enquiry_opened, plan_started
from isp_notifications.tables import InformingStatement
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn
from isp_schemas.people import Person
from isp_schemas.referrals import (
    ReferralAccepted,
    ReferralAmended,
    ReferralAssessmentMissed,
    ReferralCancelled,
    ReferralOverdue,
    ReferralRequested,
)
from isp_schemas.register import RegisterCrossAreaMatch
from isp_schemas.socialcare import ConferenceCancelled, ConferenceScheduled, EnquiryOpened, PlanStarted
from isp_schemas.treatment import EpisodeDisengaged

CSC, CSC2, PROVIDER = "WSCC-CSC", "BHCC-CSC", "CGL-WSX"
NHS, NHS2 = "9434765919", "9434765870"
PARENT = Person(nhs_number=NHS, given_name="Sam", family_name="Taylor")
PARENT2 = Person(nhs_number=NHS2)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DNA = "uk.isp.alert.did_not_attend.v1"
WITHHELD = "uk.isp.alert.disclosure_withheld.v1"
KEY = "a" * 64


def give_consent(store, categories=("attendance", "referral"), recipients=(CSC,), consent_id="con-1", person=PARENT):
    data = ConsentGiven(
        consent_id=consent_id,
        person=person,
        recorded_by=PROVIDER,
        recipients=list(recipients),
        purposes=["safeguarding"],
        data_categories=list(categories),
        given_on=date(2026, 1, 1),
    )
    store.handle(consent_given, data, PROVIDER)


def missed(referral_id="ref-1", scheduled_for=datetime(2026, 3, 10, 9, 0, tzinfo=UTC)):
    return ReferralAssessmentMissed(
        referral_id=referral_id,
        direction="to_treatment",
        from_org=CSC,
        to_org=PROVIDER,
        person=PARENT,
        at=NOW,
        appointment_id="apt-1",
        scheduled_for=scheduled_for,
        recorded_at=NOW,
    )


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


def test_dna_alert_deadline_is_24_hours_after_the_appointment(store):
    give_consent(store)
    store.handle(referrals.assessment_missed, missed(), PROVIDER, now=NOW)
    [alert] = store.alerts_to(CSC, DNA)
    assert alert["data"]["deadline"] == "2026-03-11T09:00:00Z"
    assert alert["data"]["lawful_basis"] == {"kind": "consent", "consent_id": "con-1"}
    [record] = store.audit("shared")
    assert record["alert_id"] == alert["id"] and record["data_categories"] == ["attendance"]
    assert record["service_user_informed"] is None  # consent: the person knows


def test_dna_without_a_basis_is_withheld_audited_and_the_sender_told(store):
    store.handle(referrals.assessment_missed, missed(), PROVIDER, now=NOW)
    assert store.alerts_to(CSC) == []
    [record] = store.audit()
    assert record["decision"] == "withheld" and "no consent recorded" in record["reason"]
    [told] = store.alerts_to(PROVIDER, WITHHELD)
    assert told["data"]["withheld_type"] == DNA and told["data"]["intended_recipient"] == CSC


# -- referral_received -----------------------------------------------------------------------


def test_referral_from_social_care_is_priority_and_sends_only_consented_categories(store):
    give_consent(store, categories=("referral",), recipients=(PROVIDER,))
    store.handle(referrals.referral_requested, referral(), CSC, now=NOW)
    [alert] = store.alerts_to(PROVIDER)
    data = alert["data"]
    assert data["priority"] is True and data["summary"] == "alcohol misuse"
    assert data.get("rag") is None and data.get("children") is None  # "risk" not consented
    [record] = store.audit("shared")
    assert record["data_categories"] == ["referral"] and record["children"] == []


def test_emergency_referral_is_shared_on_significant_harm_with_not_yet_told(store):
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="emergency", rag="red")
    store.handle(referrals.referral_requested, ref, PROVIDER, now=NOW)
    [alert] = store.alerts_to(CSC)
    assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "significant_harm"}
    assert alert["data"]["priority"] is False and alert["data"]["rag"] == "red"
    [record] = store.audit("shared")
    assert record["service_user_informed"] is False and record["not_informed_reason"] == "not yet told"
    assert [c["local_id"] for c in record["children"]] == ["C-1"]


def test_a_sender_statement_about_telling_the_service_user_goes_on_the_record(store):
    def state(uow):
        uow.session.add(
            InformingStatement(
                org=PROVIDER, nhs_number=NHS, informed=False, reason="telling them would put the child at risk"
            )
        )

    store.run(state)
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="emergency")
    store.handle(referrals.referral_requested, ref, PROVIDER, now=NOW)
    [record] = store.audit("shared")
    assert record["not_informed_reason"] == "telling them would put the child at risk"


def test_referral_without_a_basis_is_withheld(store):
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="family_support")
    store.handle(referrals.referral_requested, ref, PROVIDER, now=NOW)
    assert store.alerts_to(CSC) == []
    assert [r["decision"] for r in store.audit()] == ["withheld"]
    assert store.alerts_to(PROVIDER, WITHHELD)


def test_referral_status_goes_to_the_referrer_and_a_cancellation_to_the_receiver(store):
    give_consent(store, categories=("referral",), recipients=("*",))
    common = dict(referral_id="ref-1", direction="to_treatment", from_org=CSC, to_org=PROVIDER, person=PARENT, at=NOW)
    store.handle(referrals.referral_accepted, ReferralAccepted(**common), PROVIDER, now=NOW)
    store.handle(referrals.referral_cancelled, ReferralCancelled(**common, reason="moved away"), CSC, now=NOW)
    [accepted] = store.alerts_to(CSC, "uk.isp.alert.referral_status.v1")
    [cancelled] = store.alerts_to(PROVIDER, "uk.isp.alert.referral_status.v1")
    assert accepted["data"]["state"] == "accepted" and cancelled["data"]["state"] == "cancelled"
    assert len(store.audit("shared")) == 2


def test_an_amendment_goes_to_the_receiver_naming_the_changed_fields(store):
    give_consent(store, categories=("referral",), recipients=("*",))
    common = dict(referral_id="ref-1", direction="to_treatment", from_org=CSC, to_org=PROVIDER, person=PARENT, at=NOW)
    store.handle(
        referrals.referral_amended, ReferralAmended(**common, changed=["summary"], summary="New"), CSC, now=NOW
    )
    [amended] = store.alerts_to(PROVIDER, "uk.isp.alert.referral_status.v1")
    assert amended["data"]["state"] == "amended" and amended["data"]["changed"] == ["summary"]
    assert store.alerts_to(CSC, "uk.isp.alert.referral_status.v1") == []
    [record] = store.audit("shared")
    assert record["discloser"] == CSC and record["recipient"] == PROVIDER


def test_an_overdue_step_goes_to_the_responsible_org_without_a_person_or_audit(store):
    overdue = ReferralOverdue(
        referral_id="ref-1",
        direction="to_treatment",
        from_org=CSC,
        to_org=PROVIDER,
        person=PARENT,
        at=NOW,
        due="joint_visit",
        due_on=date(2026, 3, 9),
        responsible_org=PROVIDER,
    )
    store.handle(referrals.referral_overdue, overdue, PROVIDER, now=NOW)
    [alert] = store.alerts_to(PROVIDER)
    assert "person" not in alert["data"] and "subject" not in alert
    assert store.audit() == []


# -- treatment_disengaged --------------------------------------------------------------------


def test_disengagement_goes_to_every_social_care_org_working_with_the_children(store):
    store.handle(referrals.referral_requested, referral(), CSC, now=NOW)  # CSC referred the parent
    enquiry = EnquiryOpened(enquiry_id="s47-1", child={"local_id": "C-7"}, parents=[PARENT], opened_on=date(2026, 3, 1))
    store.handle(enquiry_opened, enquiry, CSC2, now=NOW)
    gone = EpisodeDisengaged(episode_id="ep-1", person=PARENT, last_contact_on=date(2026, 3, 2))
    store.handle(treatment.episode_disengaged, gone, PROVIDER, now=NOW)
    to_csc = store.alerts_to(CSC, "uk.isp.alert.treatment_disengaged.v1")
    to_csc2 = store.alerts_to(CSC2, "uk.isp.alert.treatment_disengaged.v1")
    assert len(to_csc) == len(to_csc2) == 1
    # an open s47 enquiry naming the parent is a statutory ground for both
    assert to_csc2[0]["data"]["lawful_basis"]["ground"] == "child_protection_enquiry"
    assert to_csc2[0]["data"]["children"] == [{"local_id": "C-7"}]  # each org: the children it knows
    assert to_csc[0]["data"]["children"] == [{"local_id": "C-1"}]


def test_disengagement_without_a_basis_is_withheld_for_each_org(store):
    store.handle(referrals.referral_requested, referral(), CSC, now=NOW)
    gone = EpisodeDisengaged(episode_id="ep-1", person=PARENT, last_contact_on=date(2026, 3, 2))
    store.handle(treatment.episode_disengaged, gone, PROVIDER, now=NOW)
    assert store.alerts_to(CSC, "uk.isp.alert.treatment_disengaged.v1") == []
    assert [r["decision"] for r in store.audit() if r["alert_type"].endswith("disengaged.v1")] == ["withheld"]


def test_a_plan_ended_yesterday_no_longer_counts_as_working_with_the_family(store):
    plan = PlanStarted(
        plan_id="cp-1",
        kind="child_protection",
        child={"local_id": "C-1"},
        parents=[PARENT],
        started_on=date(2026, 1, 1),
    )
    store.handle(plan_started, plan, CSC2, now=NOW)
    from isp_notifications.facts import plan_ended
    from isp_schemas.socialcare import PlanEnded

    store.handle(plan_ended, PlanEnded(plan_id="cp-1", ended_on=date(2026, 3, 9)), CSC2, now=NOW)
    gone = EpisodeDisengaged(episode_id="ep-1", person=PARENT, last_contact_on=date(2026, 3, 2))
    store.handle(treatment.episode_disengaged, gone, PROVIDER, now=NOW)
    assert store.alerts_to(CSC2) == [] and store.audit() == []


# -- conference_invitation -------------------------------------------------------------------


def scheduled(issued_at, scheduled_for, parents=(PARENT,), invitees=(PROVIDER,)):
    return ConferenceScheduled(
        conference_id="conf-1",
        kind="initial_child_protection",
        children=[{"local_id": "C-1"}],
        parents=list(parents),
        scheduled_for=scheduled_for,
        location="Room 1",
        issued_at=issued_at,
        invitees=list(invitees),
    )


def test_short_notice_invitation_still_goes_flagged_and_asks_for_a_report(store):
    store.handle(
        enquiry_opened,
        EnquiryOpened(enquiry_id="s47-1", child={"local_id": "C-1"}, parents=[PARENT], opened_on=date(2026, 3, 1)),
        CSC,
        now=NOW,
    )
    conf = scheduled(datetime(2026, 4, 1, 9, tzinfo=UTC), datetime(2026, 4, 8, 10, tzinfo=UTC))
    store.handle(conferences.conference_scheduled, conf, CSC, now=NOW, calendar=WorkingCalendar())
    [invite] = store.alerts_to(PROVIDER, "uk.isp.alert.conference_invitation.v1")
    data = invite["data"]
    assert (data["notice_working_days"], data["short_notice"], data["report_due"]) == (3, True, "2026-04-07")
    assert data["written_report_requested"] is True
    assert data["children"] == [{"local_id": "C-1"}]
    [record] = store.audit("shared")
    assert record["data_categories"] == ["conference"]


def test_each_parent_is_decided_on_its_own_basis(store):
    give_consent(store, categories=("conference",), recipients=(PROVIDER,), person=PARENT)
    conf = scheduled(
        datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC), parents=(PARENT, PARENT2)
    )
    store.handle(conferences.conference_scheduled, conf, CSC, now=NOW, calendar=WorkingCalendar())
    invites = store.alerts_to(PROVIDER, "uk.isp.alert.conference_invitation.v1")
    assert [i["data"]["person"]["nhs_number"] for i in invites] == [NHS]
    assert sorted(r["decision"] for r in store.audit()) == ["shared", "withheld"]
    assert store.alerts_to(CSC, WITHHELD)[0]["data"]["person"]["nhs_number"] == NHS2


def test_cancellation_goes_only_to_invitees_who_were_told(store):
    give_consent(store, categories=("conference",), recipients=(PROVIDER,))
    conf = scheduled(
        datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC), invitees=(PROVIDER, "OTHER-ORG")
    )
    store.handle(conferences.conference_scheduled, conf, CSC, now=NOW, calendar=WorkingCalendar())
    store.handle(
        conferences.conference_cancelled,
        ConferenceCancelled(conference_id="conf-1", reason="family moved"),
        CSC,
        now=NOW,
    )
    assert len(store.alerts_to(PROVIDER, "uk.isp.alert.conference_cancelled.v1")) == 1
    assert store.alerts_to("OTHER-ORG") == []


def test_a_report_not_received_by_report_due_is_flagged_once_to_the_convener(store):
    give_consent(store, categories=("conference",), recipients=(PROVIDER,))
    conf = scheduled(datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC))
    store.handle(conferences.conference_scheduled, conf, CSC, now=NOW, calendar=WorkingCalendar())
    store.run(conferences.answer, "conf-1", PROVIDER, "cannot_attend", NOW)
    on_due_day = datetime(2026, 3, 13, 16, tzinfo=UTC)  # report_due is Fri 13 March
    assert store.run(conferences.flag_overdue_reports, on_due_day) == 0
    day_after = datetime(2026, 3, 14, 9, tzinfo=UTC)
    assert store.run(conferences.flag_overdue_reports, day_after) == 1
    assert store.run(conferences.flag_overdue_reports, day_after) == 0
    [flag] = store.alerts_to(CSC, "uk.isp.alert.report_overdue.v1")
    assert flag["data"]["invitee"] == PROVIDER and flag["data"]["report_due"] == "2026-03-13"


def test_a_report_received_in_time_is_not_flagged(store):
    give_consent(store, categories=("conference",), recipients=(PROVIDER,))
    conf = scheduled(datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC))
    store.handle(conferences.conference_scheduled, conf, CSC, now=NOW, calendar=WorkingCalendar())
    store.run(conferences.answer, "conf-1", PROVIDER, "written_report", NOW)
    store.run(conferences.report_received, "conf-1", PROVIDER, NOW)
    assert store.run(conferences.flag_overdue_reports, datetime(2026, 3, 20, tzinfo=UTC)) == 0


# -- register_cross_area ---------------------------------------------------------------------


def test_a_cross_area_match_tells_both_dsls_only_the_fact_of_the_match(store):
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
    store.handle(register.cross_area_match, match, CSC, now=NOW)
    [to_csc] = store.alerts_to(CSC)
    [to_provider] = store.alerts_to(PROVIDER)
    assert to_csc["data"]["entry_id"] == "e-old" and to_csc["data"]["own_entry_id"] == "e-new"
    assert to_provider["data"]["entry_id"] == "e-new" and to_provider["data"]["category"] == "child_concern"
    for alert in (to_csc, to_provider):
        assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "safeguarding_register_match"}
        assert "person" not in alert["data"] and "subject" not in alert and "children" not in alert["data"]
    records = store.audit("shared")
    assert {(r["discloser"], r["recipient"]) for r in records} == {(PROVIDER, CSC), (CSC, PROVIDER)}
    assert all(r["person"] is None and r["data_categories"] == ["register"] for r in records)


# -- consent withdrawal -----------------------------------------------------------------------


def withdraw(store, at: datetime, now: datetime):
    data = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=at.date())
    store.handle(handlers.consent_withdrawn, data, PROVIDER, now=now, event_time=at)


def test_a_share_decided_after_the_withdrawal_is_withheld(store):
    give_consent(store)
    withdraw(store, at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC), now=datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    store.handle(referrals.assessment_missed, missed(), PROVIDER, now=datetime(2026, 3, 10, 10, 1, tzinfo=UTC))
    assert store.alerts_to(CSC) == []
    assert store.audit()[0]["reason"].startswith("consent withdrawn")


def test_a_withdrawal_stops_an_alert_queued_but_not_yet_sent(store):
    give_consent(store)
    store.handle(referrals.assessment_missed, missed(), PROVIDER, now=datetime(2026, 3, 10, 9, 59, tzinfo=UTC))
    [alert] = store.alerts_to(CSC, DNA)
    withdraw(store, at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC), now=datetime(2026, 3, 10, 10, 0, 1, tzinfo=UTC))
    assert store.alerts_to(CSC, DNA) == []  # taken back out of the outbox
    assert [r["decision"] for r in store.audit()] == ["shared", "withheld"]
    assert store.alert(alert["id"]).status == "withheld"
    assert store.alerts_to(PROVIDER, WITHHELD)


def test_a_withdrawal_cannot_recall_an_alert_already_on_the_topic(store):
    give_consent(store)
    store.handle(referrals.assessment_missed, missed(), PROVIDER, now=datetime(2026, 3, 10, 9, 59, tzinfo=UTC))
    store.mark_outbox_sent()
    withdraw(store, at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC), now=datetime(2026, 3, 10, 10, 0, 1, tzinfo=UTC))
    assert len(store.alerts_to(CSC, DNA)) == 1
    assert [r["decision"] for r in store.audit()] == ["shared"]


def test_a_late_recorded_withdrawal_counts_from_the_start_of_its_day():
    from isp_notifications.facts import withdrawal_time
    from isp_schemas.envelope import CloudEvent

    data = ConsentWithdrawn(consent_id="c", person=PARENT, withdrawn_on=date(2026, 3, 8))
    event = CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data, time=NOW)
    assert withdrawal_time(event, data) == datetime(2026, 3, 8, 0, 0, tzinfo=UTC)  # GMT in March
    same_day = ConsentWithdrawn(consent_id="c", person=PARENT, withdrawn_on=NOW.date())
    assert withdrawal_time(event, same_day) == NOW


def test_redelivering_the_cause_does_not_queue_a_second_alert(store):
    give_consent(store)
    data = missed()
    from isp_common.db import UnitOfWork
    from isp_schemas.envelope import CloudEvent

    event = CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data)
    for _ in range(2):
        with UnitOfWork(store.engine) as uow:
            referrals.assessment_missed(uow, event, data, now=NOW + timedelta(minutes=1))
            uow.commit()
    assert len(store.alerts_to(CSC, DNA)) == 1 and len(store.audit()) == 1
