"""A disclosure record as a FHIR R4 AuditEvent (IHE BALP privacy disclosure) that FHIR accepts."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from isp_audit.fhir import audit_event

from ..kit import NHS, OTHER_NHS

RECORD = {
    "id": "0f0e3c3e-5f0d-5b7e-9d7e-1f2a3b4c5d6e",
    "decision": "shared",
    "shared_at": "2025-11-03T10:00:00.000000Z",
    "recorded_at": "2025-11-03T10:00:01.000000Z",
    "purpose": "safeguarding",
    "discloser": "CGL-WSX",
    "recipient": "WSCC-CSC",
    "person": NHS,
    "children": [{"nhs_number": OTHER_NHS}, {"local_id": "C-1"}],
    "alert_id": "alert-1",
    "alert_type": "uk.isp.alert.did_not_attend.v1",
    "data_categories": ["attendance"],
    "lawful_basis": {"kind": "statutory", "ground": "child_protection_plan"},
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
}


@pytest.mark.parametrize(
    ("decision", "code", "profile", "requestor"),
    [
        ("shared", "110106", "PrivacyDisclosure.Source", "CGL-WSX"),
        ("withheld", "110106", "PrivacyDisclosure.Source", "CGL-WSX"),
        ("received", "110107", "PrivacyDisclosure.Recipient", "WSCC-CSC"),
    ],
)
def test_a_record_is_a_valid_audit_event_of_its_kind(decision, code, profile, requestor):
    event = AuditEvent.model_validate(audit_event({**RECORD, "decision": decision}))
    assert event.type.code == code and event.meta.profile[0].endswith(profile)
    assert [a.who.identifier.value for a in event.agent if a.requestor] == [requestor]
    assert event.outcome == ("4" if decision == "withheld" else "0")


def test_the_entities_name_the_person_the_children_the_alert_the_basis_and_the_trace():
    event = audit_event({**RECORD, "lawful_basis": {"kind": "consent", "consent_id": "consent-7"}})
    values = [e["what"]["identifier"]["value"] for e in event["entity"]]
    assert values == [NHS, OTHER_NHS, "C-1", "alert-1", "consent-7", RECORD["trace_id"]]
    erased = audit_event({**RECORD, "person": None, "children": None, "lawful_basis": None, "trace_id": None})
    assert [e["what"]["identifier"]["value"] for e in erased["entity"]] == ["alert-1"]
