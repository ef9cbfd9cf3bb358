"""Validation rules of particular event types."""

import pytest
from isp_schemas import LawfulBasis
from isp_schemas.alerts import ReferralReceivedAlert, RegisterCrossAreaAlert
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.consent import ConsentGiven
from isp_schemas.examples import EXAMPLES
from isp_schemas.referrals import ReferralRequested
from isp_schemas.register import person_key
from pydantic import TypeAdapter, ValidationError

REQUESTED = EXAMPLES["uk.isp.referral.requested.v1"]


def test_referral_to_social_care_needs_a_threshold():
    with pytest.raises(ValidationError, match="threshold is required"):
        ReferralRequested.model_validate({**REQUESTED, "threshold": None})


def test_referral_to_treatment_needs_no_threshold_and_is_priority():
    referral = ReferralRequested.model_validate(
        {
            **REQUESTED,
            "direction": "to_treatment",
            "from_org": "WSCC-CSC",
            "to_org": "CGL-WSX",
            "threshold": None,
            "parent_agreed": True,
            "concerns": ["alcohol"],
        }
    )
    assert referral.priority and referral.threshold is None


def test_referral_to_social_care_names_a_child():
    with pytest.raises(ValidationError, match="at least one child"):
        ReferralRequested.model_validate({**REQUESTED, "children": []})


def test_referral_to_oneself_is_rejected():
    with pytest.raises(ValidationError, match="must differ"):
        ReferralRequested.model_validate({**REQUESTED, "to_org": REQUESTED["from_org"]})


def test_consent_for_the_whole_partnership_is_a_lone_star():
    given = EXAMPLES["uk.isp.consent.given.v1"]
    assert ConsentGiven.model_validate({**given, "recipients": ["*"]}).whole_partnership
    with pytest.raises(ValidationError, match=r'\["\*"\]'):
        ConsentGiven.model_validate({**given, "recipients": ["*", "CGL-WSX"]})
    with pytest.raises(ValidationError, match="not an organisation id"):
        ConsentGiven.model_validate({**given, "recipients": ["cgl"]})


def test_consent_data_categories_are_the_contract_list():
    given = EXAMPLES["uk.isp.consent.given.v1"]
    with pytest.raises(ValidationError):
        ConsentGiven.model_validate({**given, "data_categories": ["everything"]})


def test_lawful_basis_is_discriminated_on_kind():
    adapter = TypeAdapter(LawfulBasis)
    assert adapter.validate_python({"kind": "consent", "consent_id": "c1"}).consent_id == "c1"
    basis = adapter.validate_python({"kind": "statutory", "ground": "significant_harm"})
    assert basis.ground == "significant_harm"
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "statutory", "ground": "because"})
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "hunch"})


def test_shared_alerts_need_a_lawful_basis():
    alert = EXAMPLES["uk.isp.alert.referral_received.v1"]
    with pytest.raises(ValidationError):
        ReferralReceivedAlert.model_validate({**alert, "lawful_basis": None})


def test_withheld_categories_may_be_absent_from_a_shared_alert():
    alert = dict(EXAMPLES["uk.isp.alert.referral_received.v1"])
    for withheld in ("children", "rag", "summary", "threshold"):
        del alert[withheld]
    assert ReferralReceivedAlert.model_validate(alert).children is None


def test_register_match_is_shared_on_its_own_ground_only():
    alert = EXAMPLES["uk.isp.alert.register_cross_area.v1"]
    assert RegisterCrossAreaAlert.model_validate(alert).person is None
    with pytest.raises(ValidationError, match="safeguarding_register_match"):
        RegisterCrossAreaAlert.model_validate({**alert, "lawful_basis": {"kind": "consent", "consent_id": "c1"}})


def test_shared_disclosure_needs_a_basis_and_withheld_a_reason():
    record = EXAMPLES["uk.isp.audit.disclosure.v1"]
    with pytest.raises(ValidationError, match="lawful_basis"):
        DisclosureRecorded.model_validate({**record, "lawful_basis": None})
    with pytest.raises(ValidationError, match="reason"):
        DisclosureRecorded.model_validate({**record, "decision": "withheld", "lawful_basis": None})
    DisclosureRecorded.model_validate({**record, "decision": "withheld", "lawful_basis": None, "reason": "no consent"})


def test_person_key_is_a_keyed_hash_not_the_number():
    key = person_key("9434765919", b"partnership-secret")
    assert len(key) == 64 and "9434765919" not in key
    assert key == person_key("9434765919", b"partnership-secret")
    assert key != person_key("9434765919", b"another-secret")
    with pytest.raises(ValueError):
        person_key("9434765918", b"partnership-secret")
