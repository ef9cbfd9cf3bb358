"""Re-decision (CONTRACT §6 v1.1): a withheld share stays open until its deadline and is decided
again when a fact about the person or their children arrives; closing, withdrawing and amending
events that arrive first are kept and applied; an unanswered withheld notice escalates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from isp_common.consumer import EventRejected
from isp_common.testing import nhs_number
from isp_notifications import deadlines
from isp_notifications.tables import WithheldShare
from isp_schemas.audit import disclosure_record_id
from isp_schemas.consent import ConsentRefused, ConsentWithdrawn
from isp_schemas.people import Person
from isp_schemas.referrals import ReferralAmended, ReferralAttendanceUnrecorded, ReferralDeclined, ReferralOverdue
from isp_schemas.socialcare import EnquiryClosed, EnquiryOpened, PlanEnded, PlanStarted
from isp_schemas.treatment import EpisodeDisengaged

from ..kit import CSC, PROVIDER
from .test_handlers import (
    DNA,
    NOW,
    PARENT,
    WITHHELD,
    alerts_to,
    audit,
    give_consent,
    handle,
    missed,
    referral,
)

RELEASED = "uk.isp.alert.disclosure_released.v1"
CSC2 = "BHCC-CSC"
OTHER_PARENT = Person(nhs_number=nhs_number(7))
LATER = NOW + timedelta(minutes=5)


def cp_plan(plan_id: str, child: str, parent: Person, started_on: date) -> PlanStarted:
    return PlanStarted(
        plan_id=plan_id, kind="child_protection", child={"local_id": child}, parents=[parent], started_on=started_on
    )


def test_a_consent_that_arrives_after_the_dna_releases_it_superseding_the_withheld_record(uow):
    handle(uow, missed(), PROVIDER)
    assert alerts_to(uow, CSC, DNA) == []
    [withheld] = audit(uow, "withheld")
    give_consent(uow)  # a second later: the consent was recorded first, but published after
    [alert] = alerts_to(uow, CSC, DNA)
    assert alert["data"]["lawful_basis"] == {"kind": "consent", "consent_id": "con-1"}
    [shared] = audit(uow, "shared")
    assert shared["alert_id"] == withheld["alert_id"] == alert["id"]
    assert shared["supersedes"]
    [released] = alerts_to(uow, PROVIDER, RELEASED)
    assert released["data"]["withheld_alert_id"] == alert["id"]
    assert released["data"]["intended_recipient"] == CSC
    assert uow.session.get(WithheldShare, alert["id"]).state == "released"


def test_the_withheld_notice_carries_the_deadline_and_escalates_like_the_alert(uow):
    handle(uow, missed(), PROVIDER)
    [notice] = alerts_to(uow, PROVIDER, WITHHELD)
    assert notice["data"]["deadline"] == "2026-03-11T09:00:00Z"
    deadlines.check_deadlines(uow, datetime(2026, 3, 11, 9, 1, tzinfo=UTC), 3600)
    uow.commit()
    [escalation] = alerts_to(uow, PROVIDER, "uk.isp.alert.delivery_escalation.v1")
    assert escalation["data"]["escalated_alert_id"] == notice["id"]
    # and past its deadline the share is closed: a late consent no longer releases it
    assert uow.session.get(WithheldShare, notice["data"]["withheld_alert_id"]).state == "closed"
    give_consent(uow)
    assert alerts_to(uow, CSC, DNA) == []


def test_a_released_share_does_not_escalate_its_notice(uow):
    handle(uow, missed(), PROVIDER)
    give_consent(uow)
    deadlines.check_deadlines(uow, datetime(2026, 3, 11, 9, 1, tzinfo=UTC), 3600)
    uow.commit()
    escalated = alerts_to(uow, PROVIDER, "uk.isp.alert.delivery_escalation.v1")
    assert all(e["data"]["escalated_type"] != WITHHELD for e in escalated)


def test_a_share_still_without_a_basis_is_not_audited_twice(uow):
    handle(uow, missed(), PROVIDER)
    give_consent(uow, categories=("referral",))  # covers the wrong category
    assert len(audit(uow, "withheld")) == 1 and audit(uow, "shared") == []


def test_an_enquiry_opened_after_the_dna_releases_it_on_the_statutory_ground(uow):
    handle(uow, missed(), PROVIDER)
    enquiry = EnquiryOpened(enquiry_id="s47-1", child={"local_id": "C-9"}, parents=[PARENT], opened_on=date(2026, 3, 1))
    handle(uow, enquiry, CSC, LATER)
    [alert] = alerts_to(uow, CSC, DNA)
    assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "child_protection_enquiry"}


def test_an_enquiry_about_a_child_linked_through_the_other_parent_releases_it(uow):
    handle(uow, referral(children=[{"local_id": "C-7"}]), CSC)  # the referral names child C-7
    handle(uow, missed(), PROVIDER)
    assert alerts_to(uow, CSC, DNA) == []
    enquiry = EnquiryOpened(
        enquiry_id="s47-2", child={"local_id": "C-7"}, parents=[OTHER_PARENT], opened_on=date(2026, 3, 1)
    )
    handle(uow, enquiry, CSC, LATER)
    [alert] = alerts_to(uow, CSC, DNA)
    assert alert["data"]["lawful_basis"]["ground"] == "child_protection_enquiry"


def test_an_unborn_child_is_matched_by_due_date_with_a_parent(uow):
    unborn = {"expected_due_date": "2026-06-01"}
    handle(uow, referral(children=[unborn]), CSC)
    handle(uow, missed(), PROVIDER)
    enquiry = EnquiryOpened(
        enquiry_id="s47-u", child=unborn, parents=[PARENT, OTHER_PARENT], opened_on=date(2026, 3, 1)
    )
    handle(uow, enquiry, CSC, LATER)
    [alert] = alerts_to(uow, CSC, DNA)
    assert alert["data"]["lawful_basis"]["ground"] == "child_protection_enquiry"


def test_an_enquiry_closed_before_it_was_opened_never_leaves_the_ground_open(uow):
    handle(uow, EnquiryClosed(enquiry_id="s47-1", closed_on=date(2026, 3, 5)), CSC)  # arrives first
    enquiry = EnquiryOpened(enquiry_id="s47-1", child={"local_id": "C-9"}, parents=[PARENT], opened_on=date(2026, 3, 1))
    handle(uow, enquiry, CSC)
    handle(uow, missed(), PROVIDER)  # 10 March: the enquiry closed on the 5th
    assert alerts_to(uow, CSC, DNA) == []
    assert "no consent recorded; no statutory ground" in audit(uow, "withheld")[0]["reason"]


def test_a_plan_ended_before_it_started_never_leaves_the_ground_open(uow):
    handle(uow, PlanEnded(plan_id="cp-1", ended_on=date(2026, 3, 5)), CSC)
    plan = PlanStarted(
        plan_id="cp-1",
        kind="child_protection",
        child={"local_id": "C-9"},
        parents=[PARENT],
        started_on=date(2026, 2, 1),
    )
    handle(uow, plan, CSC)
    handle(uow, missed(), PROVIDER)
    assert alerts_to(uow, CSC, DNA) == []


def test_a_withdrawal_that_arrives_before_its_consent_is_applied_when_the_consent_arrives(uow):
    withdrawn = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=date(2026, 3, 9))
    handle(uow, withdrawn, PROVIDER, time=datetime(2026, 3, 9, 10, tzinfo=UTC))
    give_consent(uow)
    handle(uow, missed(), PROVIDER)
    assert alerts_to(uow, CSC, DNA) == []
    assert "consent withdrawn" in audit(uow, "withheld")[0]["reason"]


def test_a_referral_declined_before_it_arrived_is_no_significant_harm_ground(uow):
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="emergency")
    common = {k: getattr(ref, k) for k in ("referral_id", "direction", "from_org", "to_org", "person")}
    handle(uow, ReferralDeclined(**common, at=NOW - timedelta(hours=1), reason="not met"), CSC)
    handle(uow, ref, PROVIDER, time=NOW - timedelta(hours=2))
    handle(uow, missed(), PROVIDER)
    assert alerts_to(uow, CSC, DNA) == []


def test_an_s47_referral_to_social_care_is_shared_without_consent_but_only_with_that_organisation(uow):
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="child_protection_s47")
    handle(uow, ref, PROVIDER)
    [received] = alerts_to(uow, CSC, "uk.isp.alert.referral_received.v1")
    assert received["data"]["lawful_basis"] == {"kind": "statutory", "ground": "significant_harm"}
    # the same ground does not reach another social care organisation working with the family
    plan = PlanStarted(
        plan_id="cp-2", kind="child_in_need", child={"local_id": "C-1"}, parents=[PARENT], started_on=date(2026, 3, 1)
    )
    handle(uow, plan, CSC2)
    handle(uow, EpisodeDisengaged(episode_id="ep-1", person=PARENT, last_contact_on=date(2026, 3, 9)), PROVIDER)
    assert alerts_to(uow, CSC2, "uk.isp.alert.treatment_disengaged.v1") == []
    [withheld] = [r for r in audit(uow, "withheld") if r["recipient"] == CSC2]
    assert "no statutory ground allows sharing with BHCC-CSC" in withheld["reason"]


def test_an_amendment_raising_the_threshold_updates_the_facts_and_releases_open_shares(uow):
    ref = referral(direction="to_social_care", from_org=PROVIDER, to_org=CSC, threshold="child_in_need_s17")
    handle(uow, ref, PROVIDER)
    assert alerts_to(uow, CSC, "uk.isp.alert.referral_received.v1") == []  # no consent, no ground
    common = {k: getattr(ref, k) for k in ("referral_id", "direction", "from_org", "to_org", "person")}
    amended = ReferralAmended(**common, at=LATER, changed=["threshold"], threshold="child_protection_s47")
    handle(uow, amended, PROVIDER, LATER)
    [received] = alerts_to(uow, CSC, "uk.isp.alert.referral_received.v1")
    assert received["data"]["lawful_basis"]["ground"] == "significant_harm"


def test_a_refusal_of_consent_is_shown_in_the_withheld_notice(uow):
    refused = ConsentRefused(person=PARENT, recorded_by=PROVIDER, refused_on=date(2026, 3, 2))
    handle(uow, refused, PROVIDER)
    handle(uow, missed(), PROVIDER)
    [notice] = alerts_to(uow, PROVIDER, WITHHELD)
    assert notice["data"]["consent_refused_on"] == "2026-03-02"
    assert "consent refused on 2026-03-02" in notice["data"]["reason"]


def test_a_drop_out_with_no_known_social_care_tells_the_provider_and_waits_for_one(uow):
    gone = EpisodeDisengaged(episode_id="ep-1", person=PARENT, last_contact_on=date(2026, 3, 9))
    handle(uow, gone, PROVIDER)
    [told] = alerts_to(uow, PROVIDER, "uk.isp.alert.recipient_unknown.v1")
    assert told["data"]["withheld_type"] == "uk.isp.alert.treatment_disengaged.v1"
    plan = PlanStarted(
        plan_id="cp-3",
        kind="child_protection",
        child={"local_id": "C-5"},
        parents=[PARENT],
        started_on=date(2026, 3, 1),
    )
    handle(uow, plan, CSC, LATER)  # social care's plan arrives later the same day
    [alert] = alerts_to(uow, CSC, "uk.isp.alert.treatment_disengaged.v1")
    assert alert["data"]["lawful_basis"]["ground"] == "child_protection_plan"


def test_a_drop_out_reaches_the_social_care_whose_plan_names_only_the_other_parent(uow):
    handle(uow, referral(children=[{"local_id": "C-8"}]), CSC)
    plan = PlanStarted(
        plan_id="cp-4",
        kind="child_protection",
        child={"local_id": "C-8"},
        parents=[OTHER_PARENT],
        started_on=date(2026, 3, 1),
    )
    handle(uow, plan, CSC2)
    handle(uow, EpisodeDisengaged(episode_id="ep-2", person=PARENT, last_contact_on=date(2026, 3, 9)), PROVIDER)
    [alert] = alerts_to(uow, CSC2, "uk.isp.alert.treatment_disengaged.v1")
    assert alert["data"]["lawful_basis"]["ground"] == "child_protection_plan"


def test_an_unrecorded_assessment_outcome_reaches_the_referring_social_care(uow):
    give_consent(uow)
    data = ReferralAttendanceUnrecorded(
        referral_id="ref-1",
        direction="to_treatment",
        from_org=CSC,
        to_org=PROVIDER,
        person=PARENT,
        at=NOW,
        appointment_id="apt-9",
        scheduled_for=datetime(2026, 3, 9, 11, tzinfo=UTC),
        provider_org=PROVIDER,
    )
    handle(uow, data, PROVIDER)
    [alert] = alerts_to(uow, CSC, "uk.isp.alert.attendance_unrecorded.v1")
    assert alert["data"]["deadline"] == "2026-03-10T11:00:00Z"
    assert audit(uow, "shared")[0]["data_categories"] == ["attendance"]


def test_an_overdue_emergency_response_goes_to_the_out_of_hours_team_too(uow):
    overdue = ReferralOverdue(
        referral_id="ref-2",
        direction="to_social_care",
        from_org=PROVIDER,
        to_org=CSC,
        person=PARENT,
        at=NOW,
        due="response",
        due_on=date(2026, 3, 10),
        responsible_org=CSC,
        escalate_to="WSCC-EDT",
        emergency=True,
    )
    handle(uow, overdue, PROVIDER)
    for org in (CSC, "WSCC-EDT"):
        [alert] = alerts_to(uow, org, "uk.isp.alert.referral_overdue.v1")
        assert alert["data"]["referral_id"] == "ref-2" and "person" not in alert["data"]


def test_an_event_naming_an_organisation_not_in_the_directory_is_rejected_with_a_reason(uow):
    with pytest.raises(EventRejected, match="organisation NOT-LISTED is not in the partnership directory"):
        handle(uow, missed(), "NOT-LISTED")
    ref = referral(to_org="NOBODY-KNOWN")
    with pytest.raises(EventRejected, match="organisation NOBODY-KNOWN is not in the partnership directory"):
        handle(uow, ref, CSC)
    uow.rollback()
    assert audit(uow) == [] and alerts_to(uow, CSC) == []


def test_a_dna_taken_back_by_a_withdrawal_goes_on_a_ground_that_arrives_later(uow):
    give_consent(uow)
    handle(uow, missed(), PROVIDER)
    [first] = alerts_to(uow, CSC, DNA)  # queued under the consent, not yet on the broker
    withdrawn = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=date(2026, 3, 10))
    handle(uow, withdrawn, PROVIDER, NOW + timedelta(minutes=1))
    assert alerts_to(uow, CSC, DNA) == []  # taken back
    enquiry = EnquiryOpened(enquiry_id="s47-9", child={"local_id": "C-9"}, parents=[PARENT], opened_on=date(2026, 3, 1))
    handle(uow, enquiry, CSC, NOW + timedelta(minutes=2))
    [again] = alerts_to(uow, CSC, DNA)
    assert again["id"] != first["id"]  # its own id: the trail already holds the first one's "shared"
    assert again["data"]["lawful_basis"]["ground"] == "child_protection_enquiry"
    [record] = [r for r in audit(uow, "shared") if r["alert_id"] == again["id"]]
    assert record["supersedes"] == disclosure_record_id(first["id"], CSC, "withheld")
    [released] = alerts_to(uow, PROVIDER, RELEASED)
    assert released["data"]["withheld_alert_id"] == first["id"]
