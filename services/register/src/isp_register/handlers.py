"""Reactions to ``isp.register.v1`` events: the person index, and the cross-area matches.

The register consumes its own topic (and any other deployment's entries on it) to keep
``person_key`` -> open entries per organisation. When an entry is opened for a key already
open at another organisation, it publishes one ``RegisterCrossAreaMatch`` per pair of
entries; notifications turns that into an alert to both designated safeguarding leads.
Events for one person share a key, hence a partition, so they are seen in order.

It also follows ``isp.directory.v1`` (as referrals does), so a match can name the other
organisation and its DSL's contact.
"""

from __future__ import annotations

from isp_common import directory
from isp_common.consumer import EventRejected, Handler
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_schemas import topics
from isp_schemas.directory import OrganisationUpdated
from isp_schemas.envelope import CloudEvent
from isp_schemas.register import (
    RegisterCrossAreaMatch,
    RegisterEntryClosed,
    RegisterEntryOpened,
    RegisterEntryReviewed,
    RegisterEntryUpdated,
)
from sqlalchemy import and_, or_
from sqlmodel import col, select

from .publishing import new_id, publish
from .tables import RegisterCrossAreaMatch as MatchRow
from .tables import RegisterPersonIndex


def _check_source(event: CloudEvent, org: str) -> None:
    if event.source_org != org:
        raise EventRejected("the event's source organisation is not the entry's organisation")


def _index_row(data: RegisterEntryOpened | RegisterEntryClosed) -> RegisterPersonIndex:
    """A person index row for an entry first seen in ``data`` (an opening, or a closing seen first)."""
    return RegisterPersonIndex(
        entry_id=data.entry_id,
        org=data.org,
        person_key=data.person_key,
        category=data.category,
        opened_at=as_utc(data.at),
    )


def entry_opened(uow: UnitOfWork, event: CloudEvent, data: RegisterEntryOpened) -> None:
    _check_source(event, data.org)
    row = uow.session.get(RegisterPersonIndex, data.entry_id)
    if row is not None and not row.open:
        return  # already closed: nothing to match
    row = row or _index_row(data)
    row.category = data.category
    uow.session.add(row)
    others = uow.session.exec(
        select(RegisterPersonIndex).where(
            RegisterPersonIndex.person_key == data.person_key,
            col(RegisterPersonIndex.open),
            RegisterPersonIndex.org != data.org,
        )
    ).all()
    for other in others:
        if not _already_matched(uow, data.entry_id, other.entry_id):
            _match(uow, event, data, other)


def _match(uow: UnitOfWork, event: CloudEvent, data: RegisterEntryOpened, other: RegisterPersonIndex) -> None:
    """Record and publish one match: the entry just opened, and another organisation's."""
    match = RegisterCrossAreaMatch(
        person_key=data.person_key,
        entry_id=data.entry_id,
        org=data.org,
        category=data.category,
        other_entry_id=other.entry_id,
        other_org=other.org,
        other_category=other.category,
        matched_at=as_utc(event.time),
    )
    uow.session.add(MatchRow(id=new_id("match"), **match.model_dump()))
    publish(uow, match, data.org, data.person_key, event.time)


def _already_matched(uow: UnitOfWork, a: str, b: str) -> bool:
    entry, other = col(MatchRow.entry_id), col(MatchRow.other_entry_id)
    stmt = select(MatchRow.id).where(or_(and_(entry == a, other == b), and_(entry == b, other == a)))
    return uow.session.exec(stmt).first() is not None


def entry_changed(uow: UnitOfWork, event: CloudEvent, data: RegisterEntryReviewed | RegisterEntryUpdated) -> None:
    _check_source(event, data.org)
    row = uow.session.get(RegisterPersonIndex, data.entry_id)
    if row is not None and row.open:
        row.category = data.category
        uow.session.add(row)


def entry_closed(uow: UnitOfWork, event: CloudEvent, data: RegisterEntryClosed) -> None:
    _check_source(event, data.org)
    row = uow.session.get(RegisterPersonIndex, data.entry_id) or _index_row(data)
    row.open = False
    row.closed_at = as_utc(data.at)
    uow.session.add(row)


def organisation_updated(uow: UnitOfWork, event: CloudEvent, data: OrganisationUpdated) -> None:
    """Keep the register's copy of the partnership directory (cross-area matches name the other
    organisation and its DSL's contact from it) as the event gives it: the latest event wins."""
    directory.put(uow.session, data, event.time)


HANDLERS_BY_TOPIC: dict[str, dict[str, Handler]] = {
    topics.REGISTER: {
        RegisterEntryOpened.event_type: entry_opened,
        RegisterEntryReviewed.event_type: entry_changed,
        RegisterEntryUpdated.event_type: entry_changed,
        RegisterEntryClosed.event_type: entry_closed,
    },
    topics.DIRECTORY: {OrganisationUpdated.event_type: organisation_updated},
}
