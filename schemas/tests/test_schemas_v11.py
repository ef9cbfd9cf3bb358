"""Contract v1.1: professional judgement, refusal, released and unrecorded alerts, supersedes, the directory."""

import copy
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from isp_schemas import LawfulBasis, topics
from isp_schemas.alerts import (
    SHARED_ALERTS,
    AttendanceUnrecordedAlert,
    DisclosureReleasedAlert,
    DisclosureWithheldAlert,
    JudgementReleaseAlert,
)
from isp_schemas.audit import DisclosureRecorded, disclosure_record_id
from isp_schemas.consent import ConsentRefused
from isp_schemas.directory import Organisation, OrganisationUpdated
from isp_schemas.examples import EXAMPLES
from isp_schemas.referrals import ReferralAttendanceUnrecorded, ReferralOverdue
from pydantic import TypeAdapter, ValidationError

BASIS = TypeAdapter(LawfulBasis)
RECORD = EXAMPLES["uk.isp.audit.disclosure.v1"]
ORGANISATION = EXAMPLES["uk.isp.directory.organisation.updated.v1"]
REFUSED = EXAMPLES["uk.isp.consent.refused.v1"]


def test_professional_judgement_is_a_lawful_basis():
    basis = BASIS.validate_python({"kind": "professional_judgement", "by": "dsl-1", "reason": "risk to the baby"})
    assert (basis.by, basis.reason) == ("dsl-1", "risk to the baby")
    with pytest.raises(ValidationError, match="reason"):
        BASIS.validate_python({"kind": "professional_judgement", "by": "dsl-1", "reason": "x" * 2001})
    with pytest.raises(ValidationError, match="by"):
        BASIS.validate_python({"kind": "professional_judgement", "reason": "risk"})


def test_child_protection_conference_is_a_statutory_ground():
    assert BASIS.validate_python({"kind": "statutory", "ground": "child_protection_conference"}).ground == (
        "child_protection_conference"
    )


def test_withheld_notice_carries_the_deadline_and_the_refusal():
    notice = DisclosureWithheldAlert.model_validate(EXAMPLES["uk.isp.alert.disclosure_withheld.v1"])
    assert notice.deadline is not None and notice.consent_refused_on is not None
    assert "deadline" in DisclosureWithheldAlert.model_fields["deadline"].description


def test_released_alert_needs_the_basis_it_went_on():
    released = EXAMPLES["uk.isp.alert.disclosure_released.v1"]
    assert DisclosureReleasedAlert.model_validate(released).lawful_basis.kind == "consent"
    with pytest.raises(ValidationError, match="lawful_basis"):
        DisclosureReleasedAlert.model_validate({**released, "lawful_basis": None})


def test_judgement_release_leaves_the_person_out():
    alert = JudgementReleaseAlert.model_validate(EXAMPLES["uk.isp.alert.judgement_release.v1"])
    assert alert.person is None and alert.lawful_basis is None


def test_attendance_unrecorded_is_a_shared_attendance_alert():
    assert AttendanceUnrecordedAlert in SHARED_ALERTS
    assert AttendanceUnrecordedAlert.data_category == "attendance"
    alert = EXAMPLES["uk.isp.alert.attendance_unrecorded.v1"]
    with pytest.raises(ValidationError, match="deadline"):
        AttendanceUnrecordedAlert.model_validate({**alert, "deadline": None})


def test_refusal_recipients_are_optional_and_a_star_stands_alone():
    assert ConsentRefused.model_validate({**REFUSED, "recipients": None}).recipients is None
    assert ConsentRefused.model_validate({**REFUSED, "recipients": ["*"]}).recipients == ["*"]
    with pytest.raises(ValidationError, match=r'\["\*"\]'):
        ConsentRefused.model_validate({**REFUSED, "recipients": ["*", "CGL-WSX"]})
    with pytest.raises(ValidationError, match="reason"):
        ConsentRefused.model_validate({**REFUSED, "reason": "x" * 2001})


def test_referral_overdue_names_the_escalation_and_emergency():
    overdue = ReferralOverdue.model_validate(EXAMPLES["uk.isp.referral.overdue.v1"])
    assert (overdue.due, overdue.escalate_to, overdue.emergency) == ("response", "WSCC-EDT", True)
    plain = {k: v for k, v in EXAMPLES["uk.isp.referral.overdue.v1"].items() if k not in ("escalate_to", "emergency")}
    assert ReferralOverdue.model_validate(plain).emergency is False


def test_attendance_unrecorded_referral_fact_repeats_the_referral():
    fact = ReferralAttendanceUnrecorded.model_validate(EXAMPLES["uk.isp.referral.attendance_unrecorded.v1"])
    assert fact.person.nhs_number and fact.from_org and fact.to_org and fact.provider_org


def test_only_a_share_may_supersede():
    withheld_id = disclosure_record_id("alert-1", RECORD["recipient"], "withheld")
    assert DisclosureRecorded.model_validate({**RECORD, "supersedes": withheld_id}).supersedes == withheld_id
    for decision, extra in (("withheld", {"lawful_basis": None, "reason": "no consent"}), ("received", {})):
        with pytest.raises(ValidationError, match="only a shared disclosure may carry supersedes"):
            DisclosureRecorded.model_validate({**RECORD, **extra, "decision": decision, "supersedes": withheld_id})


@given(st.text(min_size=1, max_size=40), st.sampled_from(["shared", "withheld", "received"]))
def test_record_ids_are_uuid5_per_share_and_decision(alert_id, decision):
    record_id = disclosure_record_id(alert_id, "WSCC-CSC", decision)
    assert uuid.UUID(record_id).version == 5
    assert record_id == disclosure_record_id(alert_id, "WSCC-CSC", decision)
    assert record_id != disclosure_record_id(alert_id, "CGL-WSX", decision)


def test_organisation_updated_is_the_organisation_on_the_directory_topic():
    event = OrganisationUpdated.model_validate(ORGANISATION)
    assert OrganisationUpdated.topic == topics.DIRECTORY
    assert Organisation.model_validate(event.model_dump()) == Organisation.model_validate(ORGANISATION)
    bare = {k: v for k, v in ORGANISATION.items() if k != "keys"}
    assert Organisation.model_validate(bare).keys == {"keys": []}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "valid dictionary"),
        ({}, 'a JWKS is an object with a "keys" list'),
        ({"keys": {}}, 'a JWKS is an object with a "keys" list'),
        ({"keys": ["k"]}, r"keys\[0\] is not an object"),
        ({"keys": [{"kid": "a"}]}, r"keys\[0\] needs a string kty"),
        ({"keys": [{"kty": "OKP", "kid": ""}]}, r"keys\[0\] needs a string kid"),
        ({"keys": [{"kty": "OKP", "kid": "a", "d": "secret"}]}, r"keys\[0\] holds private key material"),
        ({"keys": [{"kty": "OKP", "kid": "a"}, {"kty": "OKP", "kid": "a"}]}, r"keys\[1\] repeats a kid"),
    ],
)
def test_directory_keys_are_a_public_jwks(keys, message):
    with pytest.raises(ValidationError, match=message):
        Organisation.model_validate({**ORGANISATION, "keys": keys})


def test_directory_fields_are_checked():
    with pytest.raises(ValidationError, match="kind"):
        Organisation.model_validate({**ORGANISATION, "kind": "charity"})
    with pytest.raises(ValidationError, match="dsl_contact"):
        Organisation.model_validate({**ORGANISATION, "dsl_contact": "x" * 321})
    with pytest.raises(ValidationError, match="not an organisation id"):
        Organisation.model_validate({**ORGANISATION, "out_of_hours": "edt"})
    extra = copy.deepcopy(ORGANISATION)
    extra["keys"]["keys"][0]["x5c"] = ["..."]
    assert Organisation.model_validate(extra).keys["keys"][0]["x5c"] == ["..."]
