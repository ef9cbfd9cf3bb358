"""The register list: one organisation's entries, open and closed, searched, filtered and paged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from isp_common.db import UnitOfWork
from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlmodel import col, select

from ..models import EntryQuery
from ..tables import RegisterCrossAreaMatch, RegisterEntry


@dataclass(frozen=True)
class EntryPage:
    """One page of the list: its entries, how many match over all pages, the next page's cursor,
    and which of the page's entries have a cross-area match."""

    entries: Sequence[RegisterEntry]
    total: int
    next: str | None
    matched: frozenset[str]


def search_name(person: dict[str, object]) -> str:
    """What the name search looks in: the given and family names, lower-cased."""
    return " ".join(str(person[p]) for p in ("given_name", "family_name") if person.get(p)).lower()


def _has_match() -> ColumnElement[bool]:
    entry_id = col(RegisterEntry.id)
    return exists().where(
        or_(col(RegisterCrossAreaMatch.entry_id) == entry_id, col(RegisterCrossAreaMatch.other_entry_id) == entry_id)
    )


def _conditions(org: str, query: EntryQuery, today: date) -> list[ColumnElement[bool]]:
    is_open = col(RegisterEntry.status) == "open"
    wanted: list[ColumnElement[bool]] = [col(RegisterEntry.org) == org]
    if query.status != "all":
        wanted.append(col(RegisterEntry.status) == query.status)
    if query.q and query.q.isdigit():
        wanted.append(col(RegisterEntry.nhs_number) == query.q)
    elif query.q:
        words = query.q.lower().split()
        wanted.extend(col(RegisterEntry.search_name).contains(word, autoescape=True) for word in words)
    if query.category is not None:
        wanted.append(col(RegisterEntry.category) == query.category)
    if query.risk is not None:
        wanted.append(col(RegisterEntry.risk) == query.risk)
    if query.opened_by is not None:
        wanted.append(col(RegisterEntry.opened_by) == query.opened_by)
    if query.cross_area is not None:
        wanted.append(_has_match() if query.cross_area else ~_has_match())
    if query.review_overdue is not None:
        overdue = and_(is_open, col(RegisterEntry.review_due) < today)
        wanted.append(overdue if query.review_overdue else ~overdue)
    if query.review_due_by is not None:
        wanted.append(and_(is_open, col(RegisterEntry.review_due) <= query.review_due_by))
    return wanted


def list_entries(uow: UnitOfWork, org: str, query: EntryQuery, today: date) -> EntryPage:
    """``org``'s entries that ``query`` asks for: open ones by review due soonest, then closed ones."""
    wanted = _conditions(org, query, today)
    total = uow.session.exec(select(func.count()).select_from(RegisterEntry).where(*wanted)).one()
    stmt = (
        select(RegisterEntry)
        .where(*wanted)
        .order_by(col(RegisterEntry.status).desc(), col(RegisterEntry.review_due), col(RegisterEntry.id))
        .offset(query.offset)
        .limit(query.limit)
    )
    entries = uow.session.exec(stmt).all()
    ids = [e.id for e in entries]
    matched = uow.session.exec(
        select(RegisterCrossAreaMatch.entry_id, RegisterCrossAreaMatch.other_entry_id).where(
            or_(col(RegisterCrossAreaMatch.entry_id).in_(ids), col(RegisterCrossAreaMatch.other_entry_id).in_(ids))
        )
    ).all()
    end = query.offset + len(entries)
    return EntryPage(
        entries=entries,
        total=total,
        next=str(end) if end < total else None,
        matched=frozenset(i for pair in matched for i in pair) & frozenset(ids),
    )


def owners(uow: UnitOfWork, org: str) -> list[str]:
    """Who opened ``org``'s entries (the list's owner filter), alphabetically."""
    stmt = select(RegisterEntry.opened_by).where(RegisterEntry.org == org).distinct()
    return sorted(uow.session.exec(stmt).all())
