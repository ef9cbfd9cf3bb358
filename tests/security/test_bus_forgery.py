"""Forgery on the bus (issue 11, "The broker trusts everyone"): each finding played against the
real services in one process (:mod:`.forgery`), trusting as the embedded default and as production
do, every organisation involved having a key in the directory. Each forged event must be
dead-lettered (its reason saying why) and change nothing; a genuine event of the same kind, signed
by its organisation, is taken, so the refusals are not the harness refusing everything.

The forger's disguises are :data:`.forgery.DISGUISES`. A partner signing as itself about another
organisation's fact (``as_itself``) is not a provenance question: the owning service's own rule
refuses it (notifications: only a fact's owner changes it; referrals: only the appointment's
provider), and it is played here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from isp_audit.tables import DisclosureRecord
from isp_common.runtime import ServiceRuntime
from isp_common.tables import OutboxMessage
from isp_common.testing import nhs_number, unique
from isp_notifications.tables import ConsentRecord, EnquiryRecord, PlanRecord, ReferralRecord
from isp_referrals.tables import Appointment, Referral
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent, EventData
from isp_schemas.referrals import ReferralRequested
from isp_schemas.socialcare import EnquiryClosed, EnquiryOpened, PlanEnded, PlanStarted
from isp_schemas.treatment import AppointmentBooked, AppointmentMissed
from sqlmodel import Session, col, select

from tests.inprocess.partnership import CSC, PROVIDER

from .forgery import DISGUISES, OTHER_CSC, OTHER_PROVIDER, OUTSIDER, Forgery

Start = Callable[[str], Forgery]
MODES = ("embedded", "production")
IMPERSONATIONS = [d for d in DISGUISES if d != "fields"]
"""The disguises for an event with no organisation field (it speaks only through ``source``)."""


def cases(disguises: list[str]) -> list[tuple[str, str]]:
    return [(mode, disguise) for mode in MODES for disguise in disguises]


def refused(reason: str) -> bool:
    return reason.startswith("provenance: ")


# -- consent ---------------------------------------------------------------------------------


async def consent(forgery: Forgery, nhs: str) -> ConsentGiven:
    """The provider records a consent to share with social care only (signed, so it is kept)."""
    given = ConsentGiven(
        consent_id=unique("con-"),
        person={"nhs_number": nhs},
        recorded_by=PROVIDER,
        recipients=[CSC],
        purposes=["safeguarding"],
        data_categories=["referral"],
        given_on=forgery.partnership.clock.now().date() - timedelta(days=7),
    )
    await forgery.genuine(given, PROVIDER)
    return given


def row_of(runtime: ServiceRuntime, table: type[Any], row_id: str) -> Any:
    """The row ``row_id`` of ``table`` in ``runtime``'s database (it must be there)."""
    with Session(runtime.engine) as session:
        row = session.get(table, row_id)
        assert row is not None
        return row


def consent_row(forgery: Forgery, consent_id: str) -> ConsentRecord:
    row: ConsentRecord = row_of(forgery.partnership.notifications, ConsentRecord, consent_id)
    return row


@pytest.mark.parametrize(("mode", "disguise"), cases(list(DISGUISES)))
async def test_finding_consent_widened(forgery_in: Start, mode: str, disguise: str) -> None:
    """ "Anyone who can publish can widen another organisation's consent to ["*"]"."""
    forgery = forgery_in(mode)
    given = await consent(forgery, nhs_number(1))
    reason = await forgery.send(given, disguise, PROVIDER, OUTSIDER, recipients=["*"], data_categories=["risk"])
    assert refused(reason), reason
    row = consent_row(forgery, given.consent_id)
    assert (row.recipients, row.data_categories, row.recorded_by) == ([CSC], ["referral"], PROVIDER)


async def test_finding_consent_widened_by_a_partner_signing_as_itself(forgery_in: Start) -> None:
    """ "Anyone who can publish can widen another organisation's consent to ["*"]": here another
    treatment provider, signing with its own key as itself, re-sends the provider's consent id."""
    forgery = forgery_in("production")
    given = await consent(forgery, nhs_number(2))
    await forgery.send(given, "as_itself", PROVIDER, OTHER_PROVIDER, recipients=["*"], recorded_by=OTHER_PROVIDER)
    assert consent_row(forgery, given.consent_id).recipients == [CSC]


def withdrawal(forgery: Forgery, given: ConsentGiven) -> ConsentWithdrawn:
    return ConsentWithdrawn(
        consent_id=given.consent_id, person=given.person, withdrawn_on=forgery.partnership.clock.now().date()
    )


@pytest.mark.parametrize(("mode", "disguise"), cases(IMPERSONATIONS))
async def test_finding_consent_withdrawn(forgery_in: Start, mode: str, disguise: str) -> None:
    """ "Anyone who can publish can ... withdraw [another organisation's consent]"."""
    forgery = forgery_in(mode)
    given = await consent(forgery, nhs_number(3))
    assert refused(await forgery.send(withdrawal(forgery, given), disguise, PROVIDER, OUTSIDER))
    assert consent_row(forgery, given.consent_id).withdrawn_at is None


async def test_finding_consent_withdrawn_by_a_partner_signing_as_itself(forgery_in: Start) -> None:
    """ "Anyone who can publish can ... withdraw [another organisation's consent]": here another
    provider, signing as itself."""
    forgery = forgery_in("production")
    given = await consent(forgery, nhs_number(4))
    await forgery.send(withdrawal(forgery, given), "as_itself", PROVIDER, OTHER_PROVIDER)
    assert consent_row(forgery, given.consent_id).withdrawn_at is None


# -- section 47 enquiries and plans ------------------------------------------------------------


async def open_enquiry(forgery: Forgery) -> tuple[EventData, Callable[[], object]]:
    """Social care opens a section 47 enquiry; its closing event, and when the enquiry is closed."""
    opened = EnquiryOpened(
        enquiry_id=unique("s47-"),
        child={"local_id": unique("C-")},
        parents=[{"nhs_number": nhs_number(5)}],
        opened_on=forgery.partnership.clock.now().date(),
    )
    await forgery.genuine(opened, CSC)
    closed = EnquiryClosed(enquiry_id=opened.enquiry_id, closed_on=forgery.partnership.clock.now().date())
    return closed, lambda: row_of(forgery.partnership.notifications, EnquiryRecord, opened.enquiry_id).closed_on


async def start_plan(forgery: Forgery) -> tuple[EventData, Callable[[], object]]:
    """Social care starts a child protection plan; its ending event, and when the plan ended."""
    started = PlanStarted(
        plan_id=unique("cpp-"),
        kind="child_protection",
        child={"local_id": unique("C-")},
        parents=[{"nhs_number": nhs_number(6)}],
        started_on=forgery.partnership.clock.now().date(),
    )
    await forgery.genuine(started, CSC)
    ended = PlanEnded(plan_id=started.plan_id, ended_on=forgery.partnership.clock.now().date())
    return ended, lambda: row_of(forgery.partnership.notifications, PlanRecord, started.plan_id).ended_on


SOCIAL_CARE_FACTS = {"s47_enquiry": open_enquiry, "plan": start_plan}


@pytest.mark.parametrize("fact", list(SOCIAL_CARE_FACTS))
@pytest.mark.parametrize(("mode", "disguise"), cases(IMPERSONATIONS))
async def test_finding_s47_enquiry_or_plan_closed(forgery_in: Start, mode: str, disguise: str, fact: str) -> None:
    """ "Anyone who can publish can ... close another organisation's s47 enquiry or plan"."""
    forgery = forgery_in(mode)
    closing, closed_on = await SOCIAL_CARE_FACTS[fact](forgery)
    assert refused(await forgery.send(closing, disguise, CSC, OUTSIDER))
    assert closed_on() is None


@pytest.mark.parametrize("fact", list(SOCIAL_CARE_FACTS))
async def test_finding_s47_enquiry_or_plan_closed_by_a_partner_signing_as_itself(forgery_in: Start, fact: str) -> None:
    """ "Anyone who can publish can ... close another organisation's s47 enquiry or plan": here
    another children's social care organisation, signing as itself."""
    forgery = forgery_in("production")
    closing, closed_on = await SOCIAL_CARE_FACTS[fact](forgery)
    await forgery.send(closing, "as_itself", CSC, OTHER_CSC)
    assert closed_on() is None


# -- an emergency referral planted on anyone ---------------------------------------------------


def referral(direction: str, from_org: str, to_org: str, nhs: str, **fields: Any) -> ReferralRequested:
    return ReferralRequested.model_validate(
        {
            "referral_id": unique("ref-"),
            "direction": direction,
            "from_org": from_org,
            "to_org": to_org,
            "person": {"nhs_number": nhs},
            "children": [{"local_id": unique("C-")}],
            "summary": "Parent misusing alcohol",
        }
        | fields
    )


def emergency(nhs: str) -> ReferralRequested:
    return referral("to_social_care", PROVIDER, CSC, nhs, threshold="emergency", rag="red")


def referral_kept(forgery: Forgery, referral_id: str) -> tuple[bool, bool]:
    """Whether referrals, and notifications (where it would be a significant_harm ground), keep it."""
    with Session(forgery.partnership.referrals.engine) as referrals:
        kept = referrals.get(Referral, referral_id) is not None
    with Session(forgery.partnership.notifications.engine) as notifications:
        return kept, notifications.get(ReferralRecord, referral_id) is not None


@pytest.mark.parametrize(("mode", "disguise"), cases(list(DISGUISES)))
async def test_finding_emergency_referral_planted(forgery_in: Start, mode: str, disguise: str) -> None:
    """ "Anyone who can publish can ... plant an open emergency referral on any NHS number, which is a
    standing `significant_harm` ground"."""
    forgery = forgery_in(mode)
    planted = emergency(nhs_number(7))
    assert refused(await forgery.send(planted, disguise, PROVIDER, OUTSIDER))
    assert referral_kept(forgery, planted.referral_id) == (False, False)
    genuine = emergency(nhs_number(8))
    await forgery.genuine(genuine, PROVIDER)
    assert referral_kept(forgery, genuine.referral_id) == (True, True)
    with Session(forgery.partnership.notifications.engine) as session:
        emergencies = session.exec(select(ReferralRecord.id).where(col(ReferralRecord.emergency))).all()
    assert emergencies == [genuine.referral_id]


# -- another provider's appointments -----------------------------------------------------------


async def booked_appointment(forgery: Forgery) -> AppointmentBooked:
    """Social care refers a parent to the provider, who books the assessment (both signed)."""
    nhs = nhs_number(9)
    requested = referral("to_treatment", CSC, PROVIDER, nhs, rag="amber")
    await forgery.genuine(requested, CSC)
    booked = AppointmentBooked(
        appointment_id=unique("apt-"),
        person={"nhs_number": nhs},
        scheduled_for=forgery.partnership.clock.now() + timedelta(days=2),
        kind="assessment",
        referral_id=requested.referral_id,
    )
    await forgery.genuine(booked, PROVIDER)
    return booked


def appointment_state(forgery: Forgery, appointment_id: str) -> tuple[datetime, str]:
    row = row_of(forgery.partnership.referrals, Appointment, appointment_id)
    return row.scheduled_for.replace(tzinfo=None), row.status


def rebooked(booked: AppointmentBooked) -> AppointmentBooked:
    return booked.model_copy(update={"scheduled_for": booked.scheduled_for + timedelta(days=30)})


def missed(forgery: Forgery, booked: AppointmentBooked) -> AppointmentMissed:
    now = forgery.partnership.clock.now()
    return AppointmentMissed(
        appointment_id=booked.appointment_id, person=booked.person, scheduled_for=now, recorded_at=now
    )


async def forge_appointment(forgery: Forgery, change: str, disguise: str, attacker: str) -> None:
    booked = await booked_appointment(forgery)
    before = appointment_state(forgery, booked.appointment_id)
    forged = rebooked(booked) if change == "rebook" else missed(forgery, booked)
    reason = await forgery.send(forged, disguise, PROVIDER, attacker)
    assert reason, "the forged appointment event was taken"
    assert appointment_state(forgery, booked.appointment_id) == before


@pytest.mark.parametrize("change", ["rebook", "mark_missed"])
@pytest.mark.parametrize(("mode", "disguise"), cases(IMPERSONATIONS))
async def test_finding_appointment_forged(forgery_in: Start, mode: str, disguise: str, change: str) -> None:
    """ "Anyone who can publish can ... rebook, or mark missed, another provider's appointment"."""
    await forge_appointment(forgery_in(mode), change, disguise, OUTSIDER)


@pytest.mark.parametrize("change", ["rebook", "mark_missed"])
async def test_finding_appointment_of_another_provider(forgery_in: Start, change: str) -> None:
    """ "rebook, or mark missed, another provider's appointment (the referrals handlers never compare
    the publisher with `referral.to_org`)": another provider, signing as itself."""
    await forge_appointment(forgery_in("production"), change, "as_itself", OTHER_PROVIDER)


# -- a forged audit record pre-empting the genuine one ------------------------------------------


AUDIT_CASES = [
    ("production", "unsigned"),
    ("production", "own_key"),
    ("production", "compromised_service"),
    ("embedded", "own_key"),
    ("embedded", "compromised_service"),
]


@pytest.mark.parametrize(("mode", "disguise"), AUDIT_CASES)
async def test_finding_audit_record_preempted(forgery_in: Start, mode: str, disguise: str) -> None:
    """ "pre-empt a genuine audit record by publishing a forged one with the same (deterministic,
    uuid5) alert id, after which the real one is dropped as a duplicate"."""
    forgery = forgery_in(mode)
    reasons: list[str] = []
    target: list[str] = []

    async def forge_first(_runtime: ServiceRuntime, row: OutboxMessage) -> None:
        """Seeing the notifications service's genuine record on its way, publish a forged one first."""
        if row.event_type == DisclosureRecorded.event_type and not reasons:
            record = DisclosureRecorded.model_validate(CloudEvent.model_validate_json(row.value).data)
            target.append(record.alert_id)
            reasons.append(
                await forgery.send(record, disguise, record.discloser, OUTSIDER, drain=False, purpose="forged")
            )

    forgery.bus.before_each = forge_first
    nhs = nhs_number(10)
    await consent(forgery, nhs)
    genuine = emergency(nhs)
    await forgery.genuine(genuine, PROVIDER)
    assert reasons and refused(reasons[0]), reasons
    with Session(forgery.partnership.audit.engine) as session:
        records = session.exec(select(DisclosureRecord)).all()
    [kept] = [r for r in records if r.alert_id == target[0]]
    assert kept.purpose == "safeguarding"
