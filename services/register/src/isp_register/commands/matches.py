"""Cross-area matches as one organisation sees them: the other organisation's name and its DSL's
contact from the partnership directory, what to do next, and the record of having made contact."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from isp_common import directory
from isp_common.db import UnitOfWork
from isp_common.errors import NotFound
from isp_common.times import as_utc
from sqlmodel import col, select

from .. import views
from ..models import MatchContact, MatchPublic
from ..publishing import new_id
from ..tables import RegisterCrossAreaMatch, RegisterEntry, RegisterMatchContact


def seen_by(uow: UnitOfWork, org: str, matches: Sequence[RegisterCrossAreaMatch]) -> list[MatchPublic]:
    """``matches`` from ``org``'s side, each with the other organisation's directory entry and
    ``org``'s own records of contacting it."""
    if not matches:
        return []
    contacts = uow.session.exec(
        select(RegisterMatchContact)
        .where(RegisterMatchContact.org == org, col(RegisterMatchContact.match_id).in_([m.id for m in matches]))
        .order_by(col(RegisterMatchContact.at))
    ).all()
    seen = []
    for match in matches:
        other = directory.organisation(uow.session, match.other_org if match.org == org else match.org)
        out_of_hours = directory.organisation(uow.session, other.out_of_hours) if other and other.out_of_hours else None
        mine = [c for c in contacts if c.match_id == match.id]
        seen.append(views.match_view(match, org, other, mine, out_of_hours))
    return seen


def record_contact(
    uow: UnitOfWork, entry: RegisterEntry, match_id: str, *, by: str, command: MatchContact, now: datetime
) -> RegisterMatchContact:
    """Record that ``entry``'s organisation contacted the other about match ``match_id``."""
    match = uow.session.get(RegisterCrossAreaMatch, match_id)
    if match is None or entry.id not in (match.entry_id, match.other_entry_id):
        raise NotFound(f"Entry {entry.id} has no cross-area match {match_id}.")
    contact = RegisterMatchContact(
        id=new_id("contact"),
        match_id=match.id,
        org=entry.org,
        entry_id=entry.id,
        at=as_utc(now),
        by=by,
        notes=command.notes,
    )
    uow.session.add(contact)
    return contact
