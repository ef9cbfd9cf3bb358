"""Searching the trail in the database: filters, newest first (``shared_at`` then ``seq``),
keyset cursors (what a search may ask is :mod:`isp_audit.domain.search`).

Each branch of an organisation filter (discloser = X, or recipient = X) is its own query that
walks one composite index in order, ``LIMIT n``; the branches are merged in Python. That keeps
a page at a few index probes on a million records, where ``discloser = X OR recipient = X``
would make the database sort every match.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel, col

from .domain.records import public
from .domain.search import BASIS_KINDS, Filters, decode_cursor, encode_cursor
from .tables import DISCLOSURE_TABLE
from .tables import DisclosureRecord as R

COLUMNS = list(SQLModel.metadata.tables[DISCLOSURE_TABLE].columns)


def _party_branches(org: str | None, scope_org: str | None) -> list[list[ColumnElement[bool]]]:
    """Equality conditions per branch, for the organisation filter and the caller's scope."""
    discloser, recipient = col(R.discloser), col(R.recipient)
    # a recipient's IG officer is not shown what was withheld from it (CONTRACT §6: no read path
    # shows another organisation anything the decision did not share)
    received = [col(R.decision) != "withheld"] if scope_org else []
    if scope_org and org and org != scope_org:
        return [[discloser == scope_org, recipient == org], [discloser == org, recipient == scope_org, *received]]
    party = scope_org or org
    if party:
        return [[discloser == party], [recipient == party, discloser != party, *received]]
    return [[]]


def _common(f: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.person:
        where.append(col(R.person) == f.person)
    if f.since:
        where.append(col(R.shared_at) >= f.since)
    if f.until:
        where.append(col(R.shared_at) < f.until)
    if f.decision:
        where.append(col(R.decision) == f.decision)
    if f.purpose:
        where.append(col(R.purpose) == f.purpose)
    if f.basis in BASIS_KINDS:
        where.append(col(R.lawful_basis).like(f'%"kind":"{f.basis}"%'))
    elif f.basis:
        where.append(col(R.lawful_basis).like(f'%"ground":"{f.basis}"%'))
    return where


def search(
    conn: Connection, f: Filters, *, scope_org: str | None, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of records, newest first, and the cursor of the next page (None at the end)."""
    where = _common(f)
    if cursor:
        at, seq = decode_cursor(cursor)
        where.append(tuple_(col(R.shared_at), col(R.seq)) < tuple_(at, seq))
    order = (col(R.shared_at).desc(), col(R.seq).desc())
    pages = []
    for branch in _party_branches(f.org, scope_org):
        stmt = select(*COLUMNS).where(*where, *branch).order_by(*order).limit(limit + 1)
        pages.append([dict(row._mapping) for row in conn.execute(stmt)])
    rows = list(heapq.merge(*pages, key=lambda r: (r["shared_at"], r["seq"]), reverse=True))[: limit + 1]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["shared_at"], rows[-1]["seq"]) if more and rows else None
    return [public(r) for r in rows], next_cursor


def count(conn: Connection, f: Filters, *, scope_org: str | None) -> int:
    """How many records match (the branches never overlap, so their counts add up)."""
    table = SQLModel.metadata.tables[DISCLOSURE_TABLE]
    where = _common(f)
    return sum(
        conn.execute(select(func.count()).select_from(table).where(*where, *branch)).scalar_one()
        for branch in _party_branches(f.org, scope_org)
    )


def iterate(conn: Connection, f: Filters, *, scope_org: str | None, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every matching record, newest first, a page at a time (for the CSV export)."""
    cursor = None
    while True:
        items, cursor = search(conn, f, scope_org=scope_org, limit=batch, cursor=cursor)
        yield from items
        if cursor is None:
            return


def get(conn: Connection, record_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(*COLUMNS).where(col(R.id) == record_id)).first()
    return public(dict(row._mapping)) if row else None
