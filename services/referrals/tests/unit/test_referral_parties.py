"""Who may refer to whom, read from the partnership directory (CONTRACT section 9): the rule as a
table, and a partner's referral on Kafka that breaks it refused with the reason (dead-lettered)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from isp_common.consumer import EventRejected
from isp_common.testing import FixedClock
from isp_referrals import domain, handlers
from isp_referrals.commands import Actor
from isp_referrals.tables import Referral
from isp_schemas.envelope import CloudEvent

NOW = datetime(2026, 11, 18, 10, tzinfo=UTC)
CSC, PROVIDER, POLICE, UNLISTED = "WSCC-CSC", "CGL-WSX", "SXPOL-MASH", "NOT-LISTED"

HEALTH, SCHOOL, IG, OTHER = "UHSX-SG", "WSCC-EDU", "PARTNERSHIP", "OTHER-ORG"
KINDS = {
    CSC: "children_social_care",
    PROVIDER: "treatment_provider",
    POLICE: "police",
    HEALTH: "health",
    SCHOOL: "education",
    IG: "partnership",
    OTHER: "other",
}

RULE = [
    # direction, from_org, to_org, refused field (None: allowed)
    ("to_treatment", CSC, PROVIDER, None),
    ("to_social_care", PROVIDER, CSC, None),
    ("to_social_care", POLICE, CSC, None),  # the protocol's front-line partners refer to social care
    ("to_social_care", HEALTH, CSC, None),
    ("to_social_care", SCHOOL, CSC, None),
    ("to_social_care", CSC, CSC + "-2", "direction"),  # social care does not refer to social care
    ("to_social_care", IG, CSC, "direction"),  # information governance holds no cases
    ("to_social_care", OTHER, CSC, "direction"),
    ("to_treatment", PROVIDER, PROVIDER + "-2", "direction"),  # only social care refers to treatment
    ("to_treatment", POLICE, PROVIDER, "direction"),
    ("to_treatment", CSC, CSC + "-2", "to_org"),  # not in the directory
    ("to_treatment", CSC, CSC, "to_org"),  # social care is not a treatment provider
    ("to_social_care", PROVIDER, PROVIDER, "to_org"),  # a treatment provider is not social care
    ("to_social_care", PROVIDER, POLICE, "to_org"),
    ("to_social_care", UNLISTED, CSC, "from_org"),
    ("to_treatment", UNLISTED, UNLISTED + "-2", "from_org"),  # the sender is named first
]


@pytest.mark.parametrize(("direction", "from_org", "to_org", "field"), RULE)
def test_the_sender_and_the_receiver_must_be_of_the_directions_kinds(direction, from_org, to_org, field):
    refusal = domain.party_refusal(direction, KINDS.get(from_org), KINDS.get(to_org))
    assert (refusal[0] if refusal else None) == field


def test_the_refusal_says_which_kind_was_wanted_and_which_was_found():
    assert domain.party_refusal("to_treatment", "children_social_care", "children_social_care") == (
        "to_org",
        "a referral to_treatment goes to an organisation of kind treatment_provider, not children_social_care",
    )


def test_an_http_referral_to_the_wrong_kind_is_refused_naming_the_field(uow, rules, make, request_data):
    data = request_data(to_org="OTHER-LA")  # children's social care, not a treatment provider
    with pytest.raises(domain.OrganisationRefused) as refused:
        make(NOW, data, shared=False)
    assert refused.value.status == 422 and refused.value.field == "to_org"
    assert refused.value.extra["errors"] == [{"loc": ["body", "to_org"], "msg": refused.value.reason}]
    uow.rollback()
    assert uow.session.get(Referral, data.referral_id) is None


@pytest.mark.parametrize(
    ("overrides", "source", "reason"),
    [
        ({"to_org": "SXPOL-MASH"}, CSC, "to_org: a referral to_treatment goes to an organisation of kind"),
        ({"to_org": "NOT-LISTED"}, CSC, "to_org: the organisation referred to is not in the partnership directory"),
        ({"from_org": "NOT-LISTED"}, "NOT-LISTED", "from_org: the referring organisation is not in the"),
    ],
)
def test_a_kafka_referral_between_the_wrong_organisations_is_rejected_with_the_reason(
    uow, rules, request_data, overrides, source, reason
):
    data = request_data(**overrides)
    event = CloudEvent.create(type=data.event_type, source_org=source, data=data, time=NOW)
    with pytest.raises(EventRejected, match=reason):
        handlers.referral_requested(uow, event, data, rules=rules, clock=FixedClock(NOW))
    uow.rollback()
    assert uow.session.get(Referral, data.referral_id) is None


def test_the_publisher_check_comes_before_the_directory(uow, rules, request_data):
    """A forged sender is refused as such, whatever the directory says of the organisations."""
    data = request_data(to_org="NOT-LISTED")
    event = CloudEvent.create(type=data.event_type, source_org=PROVIDER, data=data, time=NOW)
    with pytest.raises(EventRejected, match="from_org must be the referring organisation"):
        handlers.referral_requested(uow, event, data, rules=rules, clock=FixedClock(NOW))


def test_the_http_sender_check_comes_before_the_directory(uow, rules, request_data):
    from isp_referrals import commands

    with pytest.raises(domain.NotYourReferral):
        commands.refer(uow, request_data(to_org="NOT-LISTED"), Actor("dap-1", PROVIDER), NOW, rules=rules)
