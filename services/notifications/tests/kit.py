"""Partners' events as the notifications tests feed them in, each made one way: a parent's
consent recorded by the provider, and referral events between social care and the provider."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from isp_schemas.consent import ConsentGiven
from isp_schemas.people import Person
from isp_schemas.referrals import ReferralAssessmentMissed

CSC, PROVIDER = "WSCC-CSC", "CGL-WSX"


def consent_given(
    person: Person,
    categories: Iterable[str] = ("attendance",),
    recipients: Iterable[str] = (CSC,),
    consent_id: str = "con-1",
) -> ConsentGiven:
    """The provider records ``person``'s consent to share ``categories`` with ``recipients``."""
    return ConsentGiven(
        consent_id=consent_id,
        person=person,
        recorded_by=PROVIDER,
        recipients=list(recipients),
        purposes=["safeguarding"],
        data_categories=list(categories),
        given_on=date(2026, 1, 1),
    )


def referral_fields(person: Person, at: datetime, referral_id: str = "ref-1") -> dict[str, Any]:
    """What every referral event carries: social care's referral of ``person`` to the provider."""
    return {
        "referral_id": referral_id,
        "direction": "to_treatment",
        "from_org": CSC,
        "to_org": PROVIDER,
        "person": person,
        "at": at,
    }


def assessment_missed(
    person: Person, at: datetime, scheduled_for: datetime | None = None, referral_id: str = "ref-1"
) -> ReferralAssessmentMissed:
    """``person`` missed the assessment of referral ``referral_id`` (scheduled for ``at`` unless given)."""
    return ReferralAssessmentMissed(
        **referral_fields(person, at, referral_id),
        appointment_id="apt-1",
        scheduled_for=scheduled_for or at,
        recorded_at=at,
    )
