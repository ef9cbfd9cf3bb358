"""One valid example ``data`` per event type: for tests (here and in services) and docs.

The NHS numbers are valid test numbers; the organisations are made up.
"""

from __future__ import annotations

from typing import Any

PARENT = {"nhs_number": "9434765919", "given_name": "Sam", "family_name": "Taylor"}
OTHER_PARENT = {"nhs_number": "9434765870"}
CHILD = {"local_id": "WSCC-C-1042", "date_of_birth": "2019-03-14"}
UNBORN = {"expected_due_date": "2026-02-01"}
PROVIDER = "CGL-WSX"
SOCIAL_CARE = "WSCC-CSC"
KEY = "5f3c" * 16
WHEN = "2025-11-03T10:00:00+00:00"
STATUTORY = {"kind": "statutory", "ground": "child_protection_plan"}
CONSENT = {"kind": "consent", "consent_id": "consent-1"}

_REFERRAL = {
    "referral_id": "ref-1",
    "direction": "to_treatment",
    "from_org": SOCIAL_CARE,
    "to_org": PROVIDER,
    "person": PARENT,
    "at": WHEN,
    "by": "user-1",
}
_ENTRY = {
    "entry_id": "entry-1",
    "org": PROVIDER,
    "person_key": KEY,
    "category": "child_concern",
    "risk": "high",
    "review_due": "2025-12-03",
    "at": WHEN,
}
_ALERT = {"alert_id": "alert-1", "sender_org": PROVIDER, "person": PARENT}
_SHARED = {**_ALERT, "lawful_basis": STATUTORY}

EXAMPLES: dict[str, dict[str, Any]] = {
    "uk.isp.treatment.appointment.booked.v1": {
        "appointment_id": "appt-1",
        "person": PARENT,
        "scheduled_for": WHEN,
        "kind": "assessment",
        "referral_id": "ref-1",
    },
    "uk.isp.treatment.appointment.attended.v1": {
        "appointment_id": "appt-1",
        "person": PARENT,
        "attended_at": WHEN,
    },
    "uk.isp.treatment.appointment.missed.v1": {
        "appointment_id": "appt-1",
        "person": PARENT,
        "scheduled_for": WHEN,
        "recorded_at": "2025-11-03T11:00:00+00:00",
    },
    "uk.isp.treatment.episode.started.v1": {
        "episode_id": "ep-1",
        "person": PARENT,
        "started_on": "2025-11-03",
    },
    "uk.isp.treatment.episode.disengaged.v1": {
        "episode_id": "ep-1",
        "person": PARENT,
        "last_contact_on": "2025-10-20",
        "reason": "no contact for 3 weeks",
    },
    "uk.isp.treatment.episode.completed.v1": {
        "episode_id": "ep-1",
        "person": PARENT,
        "completed_on": "2026-05-01",
    },
    "uk.isp.socialcare.enquiry.opened.v1": {
        "enquiry_id": "s47-1",
        "child": CHILD,
        "parents": [PARENT, OTHER_PARENT],
        "opened_on": "2025-11-03",
    },
    "uk.isp.socialcare.enquiry.closed.v1": {"enquiry_id": "s47-1", "closed_on": "2025-12-01"},
    "uk.isp.socialcare.plan.started.v1": {
        "plan_id": "plan-1",
        "kind": "child_protection",
        "child": UNBORN,
        "parents": [PARENT],
        "started_on": "2025-11-10",
    },
    "uk.isp.socialcare.plan.ended.v1": {"plan_id": "plan-1", "ended_on": "2026-05-10"},
    "uk.isp.socialcare.conference.scheduled.v1": {
        "conference_id": "conf-1",
        "kind": "initial_child_protection",
        "children": [CHILD, UNBORN],
        "parents": [PARENT],
        "scheduled_for": "2025-11-14T10:00:00+00:00",
        "location": "County Hall, Chichester",
        "issued_at": WHEN,
        "invitees": [PROVIDER],
    },
    "uk.isp.socialcare.conference.cancelled.v1": {"conference_id": "conf-1", "reason": "moved"},
    "uk.isp.referral.requested.v1": {
        "referral_id": "ref-1",
        "direction": "to_social_care",
        "from_org": PROVIDER,
        "to_org": SOCIAL_CARE,
        "person": PARENT,
        "children": [CHILD],
        "threshold": "child_in_need_s17",
        "rag": "amber",
        "consent_id": "consent-1",
        "summary": "Parent relapsed; children's school attendance falling.",
    },
    "uk.isp.referral.accepted.v1": {**_REFERRAL, "rag": "red"},
    "uk.isp.referral.declined.v1": {**_REFERRAL, "reason": "not in our area"},
    "uk.isp.referral.amended.v1": {**_REFERRAL, "changed": ["rag"], "rag": "red"},
    "uk.isp.referral.cancelled.v1": {**_REFERRAL, "reason": "sent in error"},
    "uk.isp.referral.allocated.v1": {
        **_REFERRAL,
        "practitioner": "practitioner-7",
        "joint_visit_due": "2025-11-06",
        "workbook_due": "2025-11-05",
    },
    "uk.isp.referral.joint_visit_booked.v1": {
        **_REFERRAL,
        "scheduled_for": "2025-11-05T14:00:00+00:00",
    },
    "uk.isp.referral.joint_visit_done.v1": {**_REFERRAL, "visited_on": "2025-11-05"},
    "uk.isp.referral.workbook_opened.v1": {**_REFERRAL, "opened_on": "2025-11-04"},
    "uk.isp.referral.activated.v1": {**_REFERRAL, "episode_id": "ep-1"},
    "uk.isp.referral.summary_recorded.v1": {
        **_REFERRAL,
        "period": "2025-11",
        "next_due": "2025-12-15",
    },
    "uk.isp.referral.closed.v1": {**_REFERRAL, "outcome": "completed"},
    "uk.isp.referral.overdue.v1": {
        **_REFERRAL,
        "by": None,
        "due": "joint_visit",
        "due_on": "2025-11-06",
        "responsible_org": PROVIDER,
    },
    "uk.isp.referral.appointment_outcome_missing.v1": {
        **_REFERRAL,
        "by": None,
        "appointment_id": "appt-1",
        "provider_org": PROVIDER,
        "scheduled_for": WHEN,
    },
    "uk.isp.consent.given.v1": {
        "consent_id": "consent-1",
        "person": PARENT,
        "recorded_by": PROVIDER,
        "recipients": [SOCIAL_CARE],
        "purposes": ["safeguarding"],
        "data_categories": ["referral", "attendance", "treatment_status"],
        "given_on": "2025-11-01",
        "expires_on": "2026-11-01",
    },
    "uk.isp.consent.withdrawn.v1": {
        "consent_id": "consent-1",
        "person": PARENT,
        "withdrawn_on": "2025-12-01",
    },
    "uk.isp.register.entry.opened.v1": {**_ENTRY, "by": "dsl-1"},
    "uk.isp.register.entry.reviewed.v1": {**_ENTRY, "reviewed_on": "2025-11-03"},
    "uk.isp.register.entry.updated.v1": {**_ENTRY, "changed": ["risk"]},
    "uk.isp.register.entry.closed.v1": {
        "entry_id": "entry-1",
        "org": PROVIDER,
        "person_key": KEY,
        "category": "child_concern",
        "closed_on": "2026-01-10",
        "at": WHEN,
    },
    "uk.isp.register.review.due.v1": {k: v for k, v in _ENTRY.items() if k != "at"},
    "uk.isp.register.review.overdue.v1": {k: v for k, v in _ENTRY.items() if k != "at"},
    "uk.isp.register.weekly_review.missed.v1": {
        "org": PROVIDER,
        "week_starting": "2025-11-03",
        "last_reviewed_on": "2025-10-27",
    },
    "uk.isp.alert.referral_received.v1": {
        **_SHARED,
        "sender_org": SOCIAL_CARE,
        "referral_id": "ref-1",
        "direction": "to_treatment",
        "from_org": SOCIAL_CARE,
        "threshold": None,
        "rag": "red",
        "children": [CHILD],
        "summary": "Please assess the parent.",
        "priority": True,
    },
    "uk.isp.alert.did_not_attend.v1": {
        **_SHARED,
        "appointment_id": "appt-1",
        "referral_id": "ref-1",
        "scheduled_for": WHEN,
        "deadline": "2025-11-04T10:00:00+00:00",
    },
    "uk.isp.alert.treatment_disengaged.v1": {
        **_SHARED,
        "lawful_basis": CONSENT,
        "episode_id": "ep-1",
        "last_contact_on": "2025-10-20",
        "children": None,
    },
    "uk.isp.alert.conference_invitation.v1": {
        **_SHARED,
        "sender_org": SOCIAL_CARE,
        "conference_id": "conf-1",
        "kind": "initial_child_protection",
        "scheduled_for": "2025-11-14T10:00:00+00:00",
        "location": "County Hall, Chichester",
        "children": [CHILD, UNBORN],
        "notice_working_days": 9,
        "short_notice": False,
        "report_due": "2025-11-12",
    },
    "uk.isp.alert.register_cross_area.v1": {
        "alert_id": "alert-2",
        "sender_org": "BHT-SUS",
        "person": None,
        "lawful_basis": {"kind": "statutory", "ground": "safeguarding_register_match"},
        "entry_id": "entry-9",
        "other_org": "BHT-SUS",
        "category": "vulnerable_adult",
        "own_entry_id": "entry-1",
        "own_category": "child_concern",
    },
    "uk.isp.alert.disclosure_withheld.v1": {
        **_ALERT,
        "withheld_type": "uk.isp.alert.treatment_disengaged.v1",
        "intended_recipient": SOCIAL_CARE,
        "reason": "no statutory ground and no consent naming the recipient",
    },
    "uk.isp.alert.conference_cancelled.v1": {
        **_ALERT,
        "sender_org": SOCIAL_CARE,
        "conference_id": "conf-1",
        "reason": "moved",
    },
    "uk.isp.alert.referral_status.v1": {
        **_ALERT,
        "referral_id": "ref-1",
        "state": "declined",
        "reason": "not in our area",
    },
    "uk.isp.alert.referral_overdue.v1": {
        **_ALERT,
        "referral_id": "ref-1",
        "due": "workbook",
        "due_on": "2025-11-05",
        "responsible_org": PROVIDER,
    },
    "uk.isp.referral.assessment_missed.v1": {
        **_REFERRAL,
        "by": None,
        "appointment_id": "appt-1",
        "scheduled_for": WHEN,
        "recorded_at": WHEN,
        "children": [],
        "cause_event_id": "evt-1",
    },
    "uk.isp.alert.appointment_outcome_missing.v1": {
        **_ALERT,
        "appointment_id": "appt-1",
        "referral_id": "ref-1",
        "provider_org": PROVIDER,
        "scheduled_for": WHEN,
    },
    "uk.isp.alert.report_overdue.v1": {
        **_ALERT,
        "conference_id": "conf-1",
        "report_due": "2025-11-12",
    },
    "uk.isp.alert.delivery_escalation.v1": {
        **_ALERT,
        "escalated_alert_id": "alert-1",
        "escalated_type": "uk.isp.alert.did_not_attend.v1",
        "recipient": SOCIAL_CARE,
        "missed_deadline": "2025-11-04T10:00:00+00:00",
        "attempts": 12,
    },
    "uk.isp.alert.register_review_due.v1": {
        **_ALERT,
        "entry_id": "entry-1",
        "category": "child_concern",
        "risk": "high",
        "review_due": "2025-12-03",
    },
    "uk.isp.alert.reconciliation_mismatch.v1": {
        "alert_id": "alert-3",
        "sender_org": PROVIDER,
        "check": "shares_have_audit_records",
        "reference": "alert-1",
        "detail": "alert delivered but no disclosure recorded",
    },
    "uk.isp.audit.disclosure.v1": {
        "alert_id": "alert-1",
        "decision": "shared",
        "discloser": PROVIDER,
        "recipient": SOCIAL_CARE,
        "person": "9434765919",
        "children": [CHILD],
        "purpose": "safeguarding",
        "data_categories": ["attendance"],
        "lawful_basis": STATUTORY,
        "service_user_informed": False,
        "not_informed_reason": "telling the parent would put the child at risk",
        "source_event_id": "evt-1",
        "channel": "kafka",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "shared_at": WHEN,
        "alert_type": "uk.isp.alert.did_not_attend.v1",
    },
}
