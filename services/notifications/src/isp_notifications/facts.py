"""The facts disclosure decisions rest on, kept from the events this service consumes.

Consents and refusals (``isp.consent.v1``); section 47 enquiries and plans with the children and
parents they name (``isp.socialcare.v1``); referrals, which say who works with a family and which
are significant-harm referrals (``isp.referrals.v1``). The handlers record them here;
:func:`facts_about` reads them back as :class:`~isp_notifications.domain.policy.Facts` for one
decision, with the recipient's kind from the partnership directory.

**Out of order.** A closing, withdrawing or amending event that arrives before the fact it
changes is kept (:class:`~isp_notifications.tables.PendingFact`) and applied, in the order the
changes happened, as soon as that fact arrives: an out-of-order pair never leaves a ground or a
consent open.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from isp_common import directory
from isp_common.consumer import EventRejected
from isp_common.db import UnitOfWork, UowSession, chunks
from isp_common.times import as_utc
from isp_common.workingdays import LONDON, london_date
from isp_schemas.consent import ConsentGiven, ConsentRefused, ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.referrals import (
    ReferralAmended,
    ReferralCancelled,
    ReferralClosed,
    ReferralDeclined,
    ReferralRequested,
)
from isp_schemas.registry import model_for
from isp_schemas.socialcare import EnquiryClosed, EnquiryOpened, PlanEnded, PlanStarted
from pydantic import BaseModel
from sqlmodel import Session, col, select

from .domain import policy
from .domain.consents import withdrawal_time
from .tables import (
    ConsentRecord,
    EnquiryRecord,
    FactPerson,
    PendingFact,
    PlanRecord,
    ReferralRecord,
    RefusalRecord,
)

log = logging.getLogger(__name__)

Child = dict[str, Any]
ReferralEnd = ReferralClosed | ReferralCancelled | ReferralDeclined

# -- changes that arrive before their fact ----------------------------------------------------


def _keep_pending(uow: UnitOfWork, kind: str, fact_id: str, event: CloudEvent, data: BaseModel, at: datetime) -> None:
    uow.session.merge(
        PendingFact(
            kind=kind,
            fact_id=fact_id,
            event_id=event.id,
            event_type=event.type,
            data=data.model_dump(mode="json"),
            at=at,
            received_at=event.time,
            source_org=event.source_org,
        )
    )


def _other_than_owner(kind: str, row: Any, publisher: str | None) -> str | None:
    """The owner of fact ``row`` when ``publisher`` is someone else, who may not change it (None: it
    may). A consent is its recorder's, an enquiry or plan its opener's; a referral's later life is
    published by the referrals service for whichever party acted, so any party may change it."""
    if kind == "consent":
        owner = str(row.recorded_by)
    elif kind in ("enquiry", "plan"):
        owner = str(row.org)
    else:
        return None
    return owner if publisher is not None and publisher != owner else None


def _refuse_if_not_owner(kind: str, row: Any, publisher: str | None) -> None:
    if owner := _other_than_owner(kind, row, publisher):
        raise EventRejected(f"{kind} {row.id} is {owner}'s: {publisher} may not change it")


def _change(uow: UnitOfWork, kind: str, fact_id: str, event: CloudEvent, data: BaseModel, at: datetime) -> bool:
    """Apply a closing, withdrawing or amending event to its fact now, or, when the fact has not
    arrived yet, keep it until it does. True when it was applied now."""
    row = uow.session.get_known(_FACT_TABLES[kind], fact_id)
    if row is None:
        _keep_pending(uow, kind, fact_id, event, data, at)
        return False
    _refuse_if_not_owner(kind, row, event.source_org)
    _APPLY[event.type](uow, data, at)
    return True


def _apply_pending(uow: UnitOfWork, kind: str, fact_id: str) -> None:
    """Apply, oldest first, what arrived for this fact before it did, then forget it."""
    rows = _pending_for(uow.session, kind, fact_id)
    if not rows:
        return
    fact = uow.session.get(_FACT_TABLES[kind], fact_id)
    for row in sorted(rows, key=lambda r: (as_utc(r.at), r.event_id)):
        uow.session.delete(row)
        if owner := _other_than_owner(kind, fact, row.source_org):
            log.warning(
                "dropped event %s: %s %s is %s's, not %s's to change",
                row.event_id,
                kind,
                fact_id,
                owner,
                row.source_org,
            )
            continue
        data = model_for(row.event_type).model_validate(row.data)
        _APPLY[row.event_type](uow, data, as_utc(row.at))


def _pending_for(session: UowSession, kind: str, fact_id: str) -> list[PendingFact]:
    """The changes kept for this fact: from what :func:`prefetch_own` read ahead for the batch
    when it still holds (no change kept since), else asked of the database."""
    held = session.memo(_PENDING)
    if (kind, fact_id) in held:
        return list(held[(kind, fact_id)])
    return list(session.exec(select(PendingFact).where(PendingFact.kind == kind, PendingFact.fact_id == fact_id)))


_PENDING: tuple[type, ...] = (PendingFact,)


# -- consents and refusals --------------------------------------------------------------------


def record_consent(uow: UnitOfWork, data: ConsentGiven) -> None:
    existing = uow.session.get_known(ConsentRecord, data.consent_id)
    if existing is not None:
        _refuse_if_not_owner("consent", existing, data.recorded_by)
    row = existing or ConsentRecord(
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
    uow.session.flush()
    _apply_pending(uow, "consent", data.consent_id)


def record_withdrawal(uow: UnitOfWork, event: CloudEvent, data: ConsentWithdrawn) -> ConsentRecord | None:
    """Keep the earliest time the consent was withdrawn at; None when the consent is not known yet
    (the withdrawal is then kept and applied when the consent arrives)."""
    if not _change(uow, "consent", data.consent_id, event, data, withdrawal_time(event, data)):
        return None
    return uow.session.get(ConsentRecord, data.consent_id)


def _withdraw(uow: UnitOfWork, data: BaseModel, at: datetime) -> None:
    assert isinstance(data, ConsentWithdrawn)
    row = uow.session.get(ConsentRecord, data.consent_id)
    if row is None:
        return
    current = as_utc(row.withdrawn_at)
    if current is None or at < current:
        row.withdrawn_at = at
    uow.session.add(row)


def record_refusal(uow: UnitOfWork, event: CloudEvent, data: ConsentRefused) -> None:
    uow.session.merge(
        RefusalRecord(
            id=event.id,
            nhs_number=data.person.nhs_number,
            recorded_by=data.recorded_by,
            consent_id=data.consent_id,
            recipients=list(data.recipients or []),
            refused_on=data.refused_on,
        )
    )


# -- who is linked to whom ----------------------------------------------------------------------


def child_keys(child: Child, parents: Iterable[str] = ()) -> list[str]:
    """Lookup keys of a child: its identifiers, and for a child with an expected due date that
    date with each parent (an unborn child is known by its due date and a parent)."""
    keys = []
    if child.get("nhs_number"):
        keys.append(f"nhs:{child['nhs_number']}")
    if child.get("local_id"):
        keys.append(f"local:{child['local_id']}")
    if child.get("expected_due_date"):
        keys.extend(f"edd:{child['expected_due_date']}:{parent}" for parent in parents)
    return keys


def _links(children: Iterable[Child], parents: list[str]) -> list[tuple[str, str]]:
    """(key, role) of each person a fact names: its children's keys, then its parents'."""
    named = [(key, "child") for child in children for key in child_keys(child, parents)]
    return named + [(f"nhs:{nhs}", "parent") for nhs in parents]


def _link(uow: UnitOfWork, kind: str, fact_id: str, children: Iterable[Child], parents: list[str]) -> None:
    session = uow.session
    for key, role in _links(children, parents):
        # as merge does, without asking when the read-ahead found no such link (prefetch_own)
        held = session.get_known(FactPerson, (kind, fact_id, key))
        if held is None:
            session.add(FactPerson(kind=kind, fact_id=fact_id, key=key, role=role))
        else:
            held.role = role
            session.add(held)


def _named_by(item: BaseModel) -> list[tuple[str, str, str]]:
    """The links (kind, fact id, key) a recording event's fact will have (:func:`_link`)."""
    if isinstance(item, ReferralRequested):
        children = [c.model_dump(mode="json", exclude_none=True) for c in item.children]
        return [("referral", item.referral_id, key) for key, _ in _links(children, [item.person.nhs_number])]
    if isinstance(item, EnquiryOpened | PlanStarted):
        kind, fact_id = ("enquiry", item.enquiry_id) if isinstance(item, EnquiryOpened) else ("plan", item.plan_id)
        child = item.child.model_dump(mode="json", exclude_none=True)
        return [(kind, fact_id, key) for key, _ in _links([child], [p.nhs_number for p in item.parents])]
    return []


def people_linked(session: Session, nhs_numbers: Iterable[str], children: Iterable[Child]) -> set[str]:
    """The people whose shares a new fact naming these parents and children may change: the
    parents, and every parent the facts link to one of the children."""
    people = set(nhs_numbers)
    keys = [key for child in children for key in child_keys(child, people)]
    if keys:
        facts = {
            (link.kind, link.fact_id)
            for link in session.exec(
                select(FactPerson).where(col(FactPerson.key).in_(keys), FactPerson.role == "child")
            )
        }
        for kind, fact_id in facts:
            for link in session.exec(
                select(FactPerson).where(
                    FactPerson.kind == kind, FactPerson.fact_id == fact_id, FactPerson.role == "parent"
                )
            ):
                people.add(link.key.removeprefix("nhs:"))
    return people


# -- enquiries and plans ----------------------------------------------------------------------


def record_enquiry(uow: UnitOfWork, org: str, data: EnquiryOpened) -> None:
    child = data.child.model_dump(mode="json", exclude_none=True)
    parents = [p.nhs_number for p in data.parents]
    existing = uow.session.get_known(EnquiryRecord, data.enquiry_id)
    if existing is not None:
        _refuse_if_not_owner("enquiry", existing, org)
    row = existing or EnquiryRecord(id=data.enquiry_id, org=org, child=child, parents=parents, opened_on=data.opened_on)
    row.child, row.parents, row.opened_on = child, parents, data.opened_on
    uow.session.add(row)
    _link(uow, "enquiry", data.enquiry_id, [child], parents)
    uow.session.flush()
    _apply_pending(uow, "enquiry", data.enquiry_id)


def close_enquiry(uow: UnitOfWork, event: CloudEvent, data: EnquiryClosed) -> None:
    _change(uow, "enquiry", data.enquiry_id, event, data, event.time)


def effective_at(day: date, event_time: datetime) -> datetime:
    """When a close or end dated ``day`` took effect: its event's time when that falls on ``day``
    (an enquiry closed at 15:00 was still open at 09:00), else the start of ``day`` in London."""
    if london_date(event_time) == day:
        return event_time.astimezone(UTC)
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def _close_enquiry(uow: UnitOfWork, data: BaseModel, at: datetime) -> None:
    assert isinstance(data, EnquiryClosed)
    row = uow.session.get(EnquiryRecord, data.enquiry_id)
    if row is not None:
        row.closed_on, row.closed_at = data.closed_on, effective_at(data.closed_on, at)
        uow.session.add(row)


def record_plan(uow: UnitOfWork, org: str, data: PlanStarted) -> None:
    child = data.child.model_dump(mode="json", exclude_none=True)
    parents = [p.nhs_number for p in data.parents]
    existing = uow.session.get_known(PlanRecord, data.plan_id)
    if existing is not None:
        _refuse_if_not_owner("plan", existing, org)
    row = existing or PlanRecord(
        id=data.plan_id,
        org=org,
        kind=data.kind,
        child=child,
        parents=parents,
        started_on=data.started_on,
    )
    row.kind, row.child, row.parents, row.started_on = data.kind, child, parents, data.started_on
    uow.session.add(row)
    _link(uow, "plan", data.plan_id, [child], parents)
    uow.session.flush()
    _apply_pending(uow, "plan", data.plan_id)


def end_plan(uow: UnitOfWork, event: CloudEvent, data: PlanEnded) -> None:
    _change(uow, "plan", data.plan_id, event, data, event.time)


def _end_plan(uow: UnitOfWork, data: BaseModel, at: datetime) -> None:
    assert isinstance(data, PlanEnded)
    row = uow.session.get(PlanRecord, data.plan_id)
    if row is not None:
        row.ended_on, row.ended_at = data.ended_on, effective_at(data.ended_on, at)
        uow.session.add(row)


# -- referrals --------------------------------------------------------------------------------


def record_referral(uow: UnitOfWork, event: CloudEvent, data: ReferralRequested) -> None:
    row = uow.session.get_known(ReferralRecord, data.referral_id) or ReferralRecord(
        id=data.referral_id,
        direction=data.direction,
        from_org=data.from_org,
        to_org=data.to_org,
        nhs_number=data.person.nhs_number,
        children=[],
    )
    row.children = [c.model_dump(mode="json", exclude_none=True) for c in data.children]
    row.made_at = as_utc(row.made_at) or event.time.astimezone(UTC)
    _set_threshold(row, data.threshold, row.made_at)
    uow.session.add(row)
    _link(uow, "referral", data.referral_id, row.children, [row.nhs_number])
    uow.session.flush()
    _apply_pending(uow, "referral", data.referral_id)


def amend_referral(uow: UnitOfWork, event: CloudEvent, data: ReferralAmended) -> None:
    """An amendment updates the facts decisions rest on (threshold, children)."""
    _change(uow, "referral", data.referral_id, event, data, data.at)


def _amend(uow: UnitOfWork, data: BaseModel, at: datetime) -> None:
    assert isinstance(data, ReferralAmended)
    row = uow.session.get(ReferralRecord, data.referral_id)
    if row is None:
        return
    if data.threshold is not None:
        _set_threshold(row, data.threshold, at)
    if data.children is not None:
        row.children = [c.model_dump(mode="json", exclude_none=True) for c in data.children]
        _link(uow, "referral", data.referral_id, row.children, [row.nhs_number])
    uow.session.add(row)


def _set_threshold(row: ReferralRecord, threshold: str | None, at: datetime) -> None:
    """Keep every threshold the referral had and since when; ``threshold`` is the latest."""
    since = at.astimezone(UTC).isoformat()
    changes = [c for c in row.threshold_changes if c[0] != since] + [[since, threshold]]
    row.threshold_changes = sorted(changes, key=lambda c: str(c[0]))
    row.threshold = row.threshold_changes[-1][1]
    row.emergency = row.threshold == "emergency"


def end_referral(uow: UnitOfWork, event: CloudEvent, data: ReferralEnd) -> None:
    _change(uow, "referral", data.referral_id, event, data, data.at)


def _end_referral(uow: UnitOfWork, data: BaseModel, at: datetime) -> None:
    assert isinstance(data, ReferralClosed | ReferralCancelled | ReferralDeclined)
    row = uow.session.get(ReferralRecord, data.referral_id)
    if row is None:
        return
    row.closed = True
    ended = as_utc(row.ended_at)
    row.ended_at = at if ended is None or at < ended else ended
    uow.session.add(row)


_FACT_TABLES: dict[str, type[ConsentRecord | EnquiryRecord | PlanRecord | ReferralRecord]] = {
    "consent": ConsentRecord,
    "enquiry": EnquiryRecord,
    "plan": PlanRecord,
    "referral": ReferralRecord,
}
_FACT_OF: dict[type[BaseModel], tuple[str, str]] = {
    ConsentGiven: ("consent", "consent_id"),
    ConsentWithdrawn: ("consent", "consent_id"),
    EnquiryOpened: ("enquiry", "enquiry_id"),
    EnquiryClosed: ("enquiry", "enquiry_id"),
    PlanStarted: ("plan", "plan_id"),
    PlanEnded: ("plan", "plan_id"),
    ReferralRequested: ("referral", "referral_id"),
    ReferralAmended: ("referral", "referral_id"),
    ReferralClosed: ("referral", "referral_id"),
    ReferralCancelled: ("referral", "referral_id"),
    ReferralDeclined: ("referral", "referral_id"),
}
"""The fact each recording or changing event is about: its kind, and the field naming it."""
_APPLY: dict[str, Callable[[UnitOfWork, BaseModel, datetime], None]] = {
    ConsentWithdrawn.event_type: _withdraw,
    EnquiryClosed.event_type: _close_enquiry,
    PlanEnded.event_type: _end_plan,
    ReferralAmended.event_type: _amend,
    ReferralClosed.event_type: _end_referral,
    ReferralCancelled.event_type: _end_referral,
    ReferralDeclined.event_type: _end_referral,
}


# -- reading them back ----------------------------------------------------------------------


_DECISION_TABLES: tuple[type, ...] = (
    ConsentRecord,
    RefusalRecord,
    ReferralRecord,
    FactPerson,
    EnquiryRecord,
    PlanRecord,
)
"""The tables a decision reads its facts from: what :func:`_reads` keeps is emptied when one changes."""


def _reads(session: Session) -> dict[Any, Any] | None:
    """The facts this transaction has read (and :func:`prefetch` read ahead), by what was asked; None
    outside a unit of work's session. A change to any fact table within the transaction empties it."""
    return session.memo(_DECISION_TABLES) if isinstance(session, UowSession) else None


def _rows_of(session: Session, table: type[Any], nhs_number: str) -> list[Any]:
    """The rows of ``table`` about the person, read once per transaction."""
    reads = _reads(session)
    key = (table.__name__, nhs_number)
    if reads is not None and key in reads:
        return list(reads[key])
    rows = list(session.exec(select(table).where(table.nhs_number == nhs_number)))
    if reads is not None:
        reads[key] = rows
    return rows


def prefetch(session: Session, nhs_numbers: Iterable[str]) -> None:
    """Read the facts about these people (and the enquiries and plans naming them or their
    children) in a few queries, for the decisions a batch of events is about to make; each
    decision then finds them in :func:`_reads`. Nothing is read ahead outside a unit of work."""
    reads = _reads(session)
    people = sorted(set(nhs_numbers))
    if reads is None or not people:
        return
    for chunk in chunks(people):
        tables: tuple[type[Any], ...] = (ConsentRecord, RefusalRecord, ReferralRecord)
        for table in tables:
            found: dict[str, list[Any]] = {n: [] for n in chunk}
            for row in session.exec(select(*_columns(table)).where(col(table.nhs_number).in_(chunk))):
                found[row.nhs_number].append(row)
            reads.update(((table.__name__, n), rows) for n, rows in found.items())
        keys = {f"nhs:{n}" for n in chunk}
        for n in chunk:
            for referral in reads[(ReferralRecord.__name__, n)]:
                for child in referral.children:
                    keys.update(child_keys(child, [n]))
        _prefetch_links(session, reads, sorted(keys))


def prefetch_own(session: UowSession, data: Iterable[BaseModel]) -> None:
    """For a batch of events about to be applied, in a few queries: the facts its recording and
    changing events are about (a consent given or withdrawn, an enquiry, a plan, a referral), and
    the changes kept for them (:class:`~isp_notifications.tables.PendingFact`) and the links to
    the people a new fact names (:class:`~isp_notifications.tables.FactPerson`). Recording or
    changing each then asks nothing more of the database when it finds no such row
    (``get_known``, :func:`_pending_for`, :func:`_link`)."""
    data = list(data)
    wanted: dict[str, set[str]] = defaultdict(set)
    for item in data:
        if (about := _FACT_OF.get(type(item))) is not None:
            kind, field = about
            wanted[kind].add(getattr(item, field))
    links = sorted({link for item in data for link in _named_by(item)})
    held = session.memo(_PENDING)
    for kind, ids in sorted(wanted.items()):
        session.load(_FACT_TABLES[kind], ids)
        for chunk in chunks(sorted(ids)):
            found: dict[tuple[str, str], list[PendingFact]] = {(kind, fact_id): [] for fact_id in chunk}
            statement = select(PendingFact).where(PendingFact.kind == kind, col(PendingFact.fact_id).in_(chunk))
            for row in session.exec(statement):
                found[(kind, row.fact_id)].append(row)
            session.keep(row for rows in found.values() for row in rows)
            held.update(found)
    for kind, ids in _by_kind(links).items():
        found_links: set[tuple[str, str, str]] = set()
        for chunk in chunks(sorted(ids)):
            named = session.exec(select(FactPerson).where(FactPerson.kind == kind, col(FactPerson.fact_id).in_(chunk)))
            rows = named.all()
            session.keep(rows)
            found_links.update((row.kind, row.fact_id, row.key) for row in rows)
        session.known_absent(FactPerson, [link for link in links if link[0] == kind and link not in found_links])


def _by_kind(links: Iterable[tuple[str, str, str]]) -> dict[str, set[str]]:
    """The fact ids of ``links``, by kind."""
    ids: dict[str, set[str]] = defaultdict(set)
    for kind, fact_id, _key in links:
        ids[kind].add(fact_id)
    return ids


_COLUMNS: dict[type, tuple[Any, ...]] = {}


def _columns(table: type[Any]) -> tuple[Any, ...]:
    """Every column of ``table``, to read its rows as plain rows: the facts a decision reads are
    never changed through them, and a row is a third of the cost of a table object (SQLModel sets
    each field of an object it loads through its own ``__setattr__``)."""
    if table not in _COLUMNS:
        _COLUMNS[table] = tuple(getattr(table, column.key) for column in table.__table__.columns)
    return _COLUMNS[table]


def _prefetch_links(session: Session, reads: dict[Any, Any], keys: list[str]) -> None:
    links: dict[str, list[tuple[str, str]]] = {k: [] for k in keys}
    for key, kind, fact_id in session.exec(
        select(col(FactPerson.key), col(FactPerson.kind), col(FactPerson.fact_id)).where(
            col(FactPerson.key).in_(keys), col(FactPerson.kind).in_(("enquiry", "plan"))
        )
    ):
        links[key].append((kind, fact_id))
    reads.update((("links", k), found) for k, found in links.items())
    if isinstance(session, UowSession):  # then session.get finds them without a query
        for table, kind in ((EnquiryRecord, "enquiry"), (PlanRecord, "plan")):
            session.load(table, {fact_id for found in links.values() for k, fact_id in found if k == kind})


def consents_of(session: Session, nhs_number: str | None) -> list[policy.Consent]:
    if not nhs_number:
        return []
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
        for r in _rows_of(session, ConsentRecord, nhs_number)
    ]


def refusals_of(session: Session, nhs_number: str | None) -> list[policy.Refusal]:
    if not nhs_number:
        return []
    return [policy.Refusal(r.refused_on, tuple(r.recipients)) for r in _rows_of(session, RefusalRecord, nhs_number)]


def _referral_rows(session: Session, nhs_number: str) -> list[ReferralRecord]:
    return [r for r in _rows_of(session, ReferralRecord, nhs_number) if r.made_at is not None]


def referrals_of(session: Session, nhs_number: str | None) -> list[policy.Referral]:
    """The person's referrals, with their thresholds over time and when they ended."""
    if not nhs_number:
        return []
    return [_policy_referral(r) for r in _referral_rows(session, nhs_number)]


def _policy_referral(r: ReferralRecord) -> policy.Referral:
    return policy.Referral(
        r.id,
        r.direction,
        r.to_org,
        r.threshold,
        as_utc(r.made_at) or datetime.min.replace(tzinfo=UTC),
        r.closed,
        as_utc(r.ended_at),
        tuple((datetime.fromisoformat(str(at)), threshold) for at, threshold in r.threshold_changes if at),
    )


def linked_children(session: Session, nhs_number: str | None) -> list[Child]:
    """Children the facts link to the person: named on referrals about them, or on enquiries
    and plans that name them as a parent."""
    if not nhs_number:
        return []
    children: list[Child] = []
    for r in _rows_of(session, ReferralRecord, nhs_number):
        children.extend(r.children)
    for fact in _facts_naming(session, [f"nhs:{nhs_number}"]):
        children.append(fact.child)
    return _unique_children(children, [nhs_number])


def _unique_children(children: list[Child], parents: list[str]) -> list[Child]:
    seen: list[policy.ChildRef] = []
    unique = []
    for child in children:
        ref = policy.ChildRef.of(child, parents)
        if any(ref.same_child(s) or ref == s for s in seen):
            continue
        seen.append(ref)
        unique.append(child)
    return unique


def _facts_naming(session: Session, keys: list[str]) -> list[EnquiryRecord | PlanRecord]:
    if not keys:
        return []
    reads = _reads(session)
    if reads is not None and all(("links", k) in reads for k in keys):
        named = {pair for k in keys for pair in reads[("links", k)]}
    else:
        links = session.exec(
            select(FactPerson).where(col(FactPerson.key).in_(keys), col(FactPerson.kind).in_(("enquiry", "plan")))
        ).all()
        named = {(link.kind, link.fact_id) for link in links}
        if reads is not None:
            for k in keys:
                reads[("links", k)] = [(link.kind, link.fact_id) for link in links if link.key == k]
    found: list[EnquiryRecord | PlanRecord] = []
    for kind, fact_id in sorted(named):
        row = session.get(EnquiryRecord, fact_id) if kind == "enquiry" else session.get(PlanRecord, fact_id)
        if row is not None:
            found.append(row)
    return found


def _policy_fact(row: EnquiryRecord | PlanRecord) -> policy.Enquiry | policy.Plan:
    ref, parents = policy.ChildRef.of(row.child, row.parents), frozenset(row.parents)
    if isinstance(row, EnquiryRecord):
        return policy.Enquiry(row.id, ref, parents, row.opened_on, row.closed_on, as_utc(row.closed_at))
    return policy.Plan(row.id, row.kind, ref, parents, row.started_on, row.ended_on, as_utc(row.ended_at))


def _person_keys(nhs_number: str | None, children: list[Child]) -> list[str]:
    parents = [nhs_number] if nhs_number else []
    keys = [f"nhs:{nhs_number}"] if nhs_number else []
    for child in children:
        keys.extend(child_keys(child, parents))
    return keys


def facts_about(
    session: Session,
    nhs_number: str | None,
    children: list[Child],
    *,
    recipient: str,
    at: datetime,
    register_match: bool = False,
) -> policy.Facts:
    """Everything known about the person and their children that a decision at ``at`` rests on."""
    enquiries, plans = [], []
    for row in _facts_naming(session, _person_keys(nhs_number, children)):
        fact = _policy_fact(row)
        if isinstance(fact, policy.Enquiry):
            enquiries.append(fact)
        else:
            plans.append(fact)
    return policy.Facts(
        consents=consents_of(session, nhs_number),
        enquiries=enquiries,
        plans=plans,
        referrals=referrals_of(session, nhs_number),
        refusals=refusals_of(session, nhs_number),
        kinds=directory.kinds_of(session, [recipient]),
        register_match=register_match,
    )


def social_care_working_with(
    session: Session, nhs_number: str, start: datetime, end: datetime
) -> dict[str, list[Child]]:
    """Each children's social care organisation working with the person's children at some instant
    from ``start`` (when the causing event happened) to ``end`` (now), with the children it knows
    of: from referrals open then (the social-care end), and enquiries open and plans active then
    that name the person or one of their children (a plan naming only the other parent counts).
    Only organisations of kind ``children_social_care`` in the directory count: a referral does not
    make its sender "the social care organisation working with" anyone."""
    by_org: dict[str, list[Child]] = defaultdict(list)
    for row in _referral_rows(session, nhs_number):
        if _policy_referral(row).open_between(start, end):
            by_org[row.from_org if row.direction == "to_treatment" else row.to_org].extend(row.children)
    children = linked_children(session, nhs_number)
    for fact in _facts_naming(session, _person_keys(nhs_number, children)):
        if _policy_fact(fact).open_between(start, end):
            by_org[fact.org].append(fact.child)
    kinds = directory.kinds_of(session, by_org)
    return {
        org: _unique_children(found, [nhs_number])
        for org, found in by_org.items()
        if kinds.get(org) == policy.CHILDREN_SOCIAL_CARE
    }
