"""Searching the trail: filters, newest first (``shared_at`` then ``seq``), keyset cursors.

Each branch of an organisation filter (discloser = X, or recipient = X) is its own query that
walks one composite index in order, ``LIMIT n``; the branches are merged in Python. That keeps
a page at a few index probes on a million records, where ``discloser = X OR recipient = X``
would make the database sort every match.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from isp_common.workingdays import LONDON
from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection

from . import chain
from .records import public
from .tables import DisclosureRecord as R

STATUTORY_GROUNDS = (
    "child_protection_enquiry",
    "child_protection_plan",
    "significant_harm",
    "safeguarding_register_match",
)
BASES = ("consent", "statutory", *STATUTORY_GROUNDS)


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    person: str | None = None
    org: str | None = None
    since: str | None = None  # UTC text, inclusive
    until: str | None = None  # UTC text, exclusive
    decision: str | None = None
    basis: str | None = None
    purpose: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def bound(value: str | None, *, end: bool) -> str | None:
    """``since``/``until`` as UTC text: a date is a whole Europe/London day (``until`` inclusive)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("a time needs an offset, e.g. 2025-11-03T10:00:00+00:00") from None
        return chain.utc_text(moment)
    start = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=LONDON)
    return chain.utc_text(start.astimezone(UTC))


def encode_cursor(shared_at: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{shared_at}|{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        shared_at, seq = text.split("|")
        chain.parse_utc_text(shared_at)
        return shared_at, int(seq)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("the cursor is not one this service gave") from exc


def _party_branches(org: str | None, scope_org: str | None) -> list[list[Any]]:
    """Equality conditions per branch, for the organisation filter and the caller's scope."""
    if scope_org and org and org != scope_org:
        return [[R.discloser == scope_org, R.recipient == org], [R.discloser == org, R.recipient == scope_org]]
    party = scope_org or org
    if party:
        return [[R.discloser == party], [R.recipient == party, R.discloser != party]]
    return [[]]


def _common(f: Filters) -> list[Any]:
    where: list[Any] = []
    if f.person:
        where.append(R.person == f.person)
    if f.since:
        where.append(R.shared_at >= f.since)
    if f.until:
        where.append(R.shared_at < f.until)
    if f.decision:
        where.append(R.decision == f.decision)
    if f.purpose:
        where.append(R.purpose == f.purpose)
    if f.basis in ("consent", "statutory"):
        where.append(R.lawful_basis.like(f'%"kind":"{f.basis}"%'))
    elif f.basis:
        where.append(R.lawful_basis.like(f'%"ground":"{f.basis}"%'))
    return where


def search(
    conn: Connection, f: Filters, *, scope_org: str | None, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of records, newest first, and the cursor of the next page (None at the end)."""
    where = _common(f)
    if cursor:
        at, seq = decode_cursor(cursor)
        where.append(tuple_(R.shared_at, R.seq) < tuple_(at, seq))
    columns = list(R.__table__.columns)
    order = (R.shared_at.desc(), R.seq.desc())
    pages = []
    for branch in _party_branches(f.org, scope_org):
        stmt = select(*columns).where(*where, *branch).order_by(*order).limit(limit + 1)
        pages.append([dict(row._mapping) for row in conn.execute(stmt)])
    rows = list(heapq.merge(*pages, key=lambda r: (r["shared_at"], r["seq"]), reverse=True))[: limit + 1]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["shared_at"], rows[-1]["seq"]) if more and rows else None
    return [public(r) for r in rows], next_cursor


def iterate(conn: Connection, f: Filters, *, scope_org: str | None, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every matching record, newest first, a page at a time (for the CSV export)."""
    cursor = None
    while True:
        items, cursor = search(conn, f, scope_org=scope_org, limit=batch, cursor=cursor)
        yield from items
        if cursor is None:
            return


def visible_to(record: dict[str, Any], scope_org: str | None) -> bool:
    return scope_org is None or scope_org in (record["discloser"], record["recipient"])


def get(conn: Connection, record_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(*R.__table__.columns).where(R.id == record_id)).first()
    return public(dict(row._mapping)) if row else None
