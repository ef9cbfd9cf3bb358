"""The facts disclosure decisions rest on, kept from the events this service consumes.

Consents (``isp.consent.v1``); section 47 enquiries and plans with the children and parents
they name (``isp.socialcare.v1``); referrals, which say who works with a family and which
are emergencies (``isp.referrals.v1``). The handlers record them here; :func:`facts_about`
reads them back as :class:`~isp_notifications.domain.policy.Facts` for one decision.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_schemas.consent import ConsentGiven, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import ReferralCancelled, ReferralClosed, ReferralDeclined, ReferralRequested
from isp_schemas.socialcare import EnquiryClosed, EnquiryOpened, PlanEnded, PlanStarted
from sqlmodel import Session, col, select

from .domain import policy
from .domain.consents import withdrawal_time
from .tables import ConsentRecord, EnquiryRecord, FactPerson, PlanRecord, ReferralRecord

Child = dict[str, Any]

# -- keeping the facts ----------------------------------------------------------------------


def record_consent(uow: UnitOfWork, data: ConsentGiven) -> None:
    row = uow.session.get(ConsentRecord, data.consent_id) or ConsentRecord(
        id=data.consent_id,
        nhs_number=data.person.nhs_number,
        recorded_by=data.recorded_by,
        recipients=[],
        purposes=[],
        data_categories=[],
        given_on=data.given_on,
    )
    row.recipients = list(data.recipients)
    row.purposes = list(data.purposes)
    row.data_categories = list(data.data_categories)
    row.given_on = data.given_on
    row.expires_on = data.expires_on
    uow.session.add(row)


def record_withdrawal(uow: UnitOfWork, event: CloudEvent, data: ConsentWithdrawn) -> ConsentRecord | None:
    """Keep the earliest time the consent was withdrawn at; None when the consent is unknown."""
    row = uow.session.get(ConsentRecord, data.consent_id)
    if row is None:
        return None
    at = withdrawal_time(event, data)
    current = as_utc(row.withdrawn_at)
    if current is None or at < current:
        row.withdrawn_at = at
    uow.session.add(row)
    return row


def _child_keys(child: Child) -> list[str]:
    keys = []
    if child.get("nhs_number"):
        keys.append(f"nhs:{child['nhs_number']}")
    if child.get("local_id"):
        keys.append(f"local:{child['local_id']}")
    return keys


def _link(uow: UnitOfWork, kind: str, fact_id: str, child: Child, parents: list[str]) -> None:
    for key in _child_keys(child):
        uow.session.merge(FactPerson(kind=kind, fact_id=fact_id, key=key, role="child"))
    for nhs in parents:
        uow.session.merge(FactPerson(kind=kind, fact_id=fact_id, key=f"nhs:{nhs}", role="parent"))


def record_enquiry(uow: UnitOfWork, org: str, data: EnquiryOpened) -> None:
    child = data.child.model_dump(mode="json", exclude_none=True)
    parents = [p.nhs_number for p in data.parents]
    row = uow.session.get(EnquiryRecord, data.enquiry_id) or EnquiryRecord(
        id=data.enquiry_id, org=org, child=child, parents=parents, opened_on=data.opened_on
    )
    row.child, row.parents, row.opened_on = child, parents, data.opened_on
    uow.session.add(row)
    _link(uow, "enquiry", data.enquiry_id, child, parents)


def close_enquiry(uow: UnitOfWork, data: EnquiryClosed) -> None:
    row = uow.session.get(EnquiryRecord, data.enquiry_id)
    if row is not None:
        row.closed_on = data.closed_on
        uow.session.add(row)


def record_plan(uow: UnitOfWork, org: str, data: PlanStarted) -> None:
    child = data.child.model_dump(mode="json", exclude_none=True)
    parents = [p.nhs_number for p in data.parents]
    row = uow.session.get(PlanRecord, data.plan_id) or PlanRecord(
        id=data.plan_id,
        org=org,
        kind=data.kind,
        child=child,
        parents=parents,
        started_on=data.started_on,
    )
    row.kind, row.child, row.parents, row.started_on = data.kind, child, parents, data.started_on
    uow.session.add(row)
    _link(uow, "plan", data.plan_id, child, parents)


def end_plan(uow: UnitOfWork, data: PlanEnded) -> None:
    row = uow.session.get(PlanRecord, data.plan_id)
    if row is not None:
        row.ended_on = data.ended_on
        uow.session.add(row)


def record_referral(uow: UnitOfWork, data: ReferralRequested) -> None:
    row = uow.session.get(ReferralRecord, data.referral_id) or ReferralRecord(
        id=data.referral_id,
        direction=data.direction,
        from_org=data.from_org,
        to_org=data.to_org,
        nhs_number=data.person.nhs_number,
        children=[],
    )
    row.children = [c.model_dump(mode="json", exclude_none=True) for c in data.children]
    row.threshold = data.threshold
    row.emergency = data.threshold == "emergency"
    uow.session.add(row)


def end_referral(uow: UnitOfWork, data: ReferralClosed | ReferralCancelled | ReferralDeclined) -> None:
    row = uow.session.get(ReferralRecord, data.referral_id)
    if row is not None:
        row.closed = True
        uow.session.add(row)


# -- reading them back ----------------------------------------------------------------------


def consents_of(session: Session, nhs_number: str | None) -> list[policy.Consent]:
    if not nhs_number:
        return []
    rows = session.exec(select(ConsentRecord).where(ConsentRecord.nhs_number == nhs_number))
    return [
        policy.Consent(
            consent_id=r.id,
            recipients=tuple(r.recipients),
            purposes=tuple(r.purposes),
            data_categories=tuple(r.data_categories),
            given_on=r.given_on,
            expires_on=r.expires_on,
            withdrawn_at=as_utc(r.withdrawn_at),
        )
        for r in rows
    ]


def linked_children(session: Session, nhs_number: str | None) -> list[Child]:
    """Children the facts link to the person: named on referrals about them, or on enquiries
    and plans that name them as a parent."""
    if not nhs_number:
        return []
    children: list[Child] = []
    for r in session.exec(select(ReferralRecord).where(ReferralRecord.nhs_number == nhs_number)):
        children.extend(r.children)
    for fact in _facts_naming(session, [f"nhs:{nhs_number}"]):
        children.append(fact.child)
    return _unique_children(children)


def _unique_children(children: list[Child]) -> list[Child]:
    seen: list[policy.ChildRef] = []
    unique = []
    for child in children:
        ref = policy.ChildRef.of(child)
        if any(ref.same_child(s) or ref == s for s in seen):
            continue
        seen.append(ref)
        unique.append(child)
    return unique


def _facts_naming(session: Session, keys: list[str]) -> list[EnquiryRecord | PlanRecord]:
    if not keys:
        return []
    links = session.exec(select(FactPerson).where(col(FactPerson.key).in_(keys))).all()
    found: list[EnquiryRecord | PlanRecord] = []
    for kind, fact_id in sorted({(link.kind, link.fact_id) for link in links}):
        row = session.get(EnquiryRecord, fact_id) if kind == "enquiry" else session.get(PlanRecord, fact_id)
        if row is not None:
            found.append(row)
    return found


def facts_about(
    session: Session,
    nhs_number: str | None,
    children: list[Child],
    *,
    emergency: bool = False,
    register_match: bool = False,
) -> policy.Facts:
    keys = [f"nhs:{nhs_number}"] if nhs_number else []
    for child in children:
        keys.extend(_child_keys(child))
    enquiries, plans = [], []
    for row in _facts_naming(session, keys):
        ref = policy.ChildRef.of(row.child)
        if isinstance(row, EnquiryRecord):
            enquiries.append(policy.Enquiry(row.id, ref, frozenset(row.parents), row.opened_on, row.closed_on))
        else:
            plans.append(policy.Plan(row.id, row.kind, ref, frozenset(row.parents), row.started_on, row.ended_on))
    if nhs_number and not emergency:
        open_emergency = session.exec(
            select(ReferralRecord).where(
                ReferralRecord.nhs_number == nhs_number,
                col(ReferralRecord.emergency),
                col(ReferralRecord.closed).is_(False),
            )
        ).first()
        emergency = open_emergency is not None
    return policy.Facts(
        consents=consents_of(session, nhs_number),
        enquiries=enquiries,
        plans=plans,
        emergency=emergency,
        register_match=register_match,
    )


def social_care_working_with(session: Session, nhs_number: str, today: date) -> dict[str, list[Child]]:
    """Each social-care organisation working with the person's children, with the children it
    knows of: from open referrals (the social-care end), open enquiries and active plans."""
    by_org: dict[str, list[Child]] = defaultdict(list)
    referrals = session.exec(
        select(ReferralRecord).where(ReferralRecord.nhs_number == nhs_number, col(ReferralRecord.closed).is_(False))
    )
    for r in referrals:
        org = r.from_org if r.direction == "to_treatment" else r.to_org
        by_org[org].extend(r.children)
    for row in _facts_naming(session, [f"nhs:{nhs_number}"]):
        start, end = (
            (row.opened_on, row.closed_on) if isinstance(row, EnquiryRecord) else (row.started_on, row.ended_on)
        )
        if start <= today and (end is None or today < end):
            by_org[row.org].append(row.child)
    return {org: _unique_children(children) for org, children in by_org.items()}
