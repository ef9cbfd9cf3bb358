"""What is asked of one register entry: open, review, change, close, and read it back.

Each command takes a unit of work first and commits nothing itself; the caller (API or page)
owns the transaction. Every action keeps a history row (who, when, the entry as it then
stood) and publishes its event on ``isp.register.v1`` through the outbox.
"""

from __future__ import annotations

from datetime import date, datetime

from isp_common.db import UnitOfWork
from isp_common.errors import Forbidden, NotFound
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas.register import (
    RegisterEntryClosed,
    RegisterEntryOpened,
    RegisterEntryReviewed,
    RegisterEntryUpdated,
    person_key,
)
from sqlalchemy import or_
from sqlmodel import col, select

from .. import domain, views
from ..models import EntryClose, EntryDetail, EntryOpen, EntryReview, EntryUpdate
from ..publishing import about_entry, new_id, publish
from ..tables import RegisterCrossAreaMatch, RegisterEntry, RegisterEntryHistory
from .listing import search_name
from .matches import seen_by

SNAPSHOT_EXCLUDE = {"due_flagged_for", "overdue_flagged_for", "updated_at"}


def _fact(entry: RegisterEntry, at: datetime, by: str | None) -> dict[str, object]:
    return {
        **about_entry(entry),
        "risk": entry.risk,
        "review_due": entry.review_due,
        "at": at,
        "by": by,
    }


def _record(
    uow: UnitOfWork, entry: RegisterEntry, action: str, by: str, at: datetime, notes: str, changed: list[str]
) -> None:
    entry.updated_at = at
    uow.session.add(entry)
    uow.session.add(
        RegisterEntryHistory(
            entry_id=entry.id,
            version=entry.version,
            action=action,
            at=at,
            by=by,
            effective_on=domain.effective_on(action, entry.opened_on, entry.last_reviewed_on, london_date(at)),
            notes=notes,
            changed=changed,
            review_due=entry.review_due,
            snapshot=entry.model_dump(mode="json", exclude=SNAPSHOT_EXCLUDE),
        )
    )


def _open_duplicate(uow: UnitOfWork, org: str, key: str, category: str) -> RegisterEntry | None:
    stmt = select(RegisterEntry).where(
        RegisterEntry.org == org,
        RegisterEntry.person_key == key,
        RegisterEntry.category == category,
        RegisterEntry.status == "open",
    )
    return uow.session.exec(stmt).first()


def open_entry(
    uow: UnitOfWork, *, org: str, by: str, command: EntryOpen, now: datetime, partnership_key: bytes
) -> RegisterEntry:
    """Put a person on ``org``'s register; the first review is due at most a month on."""
    now = as_utc(now)
    key = person_key(command.person.nhs_number, partnership_key)
    duplicate = _open_duplicate(uow, org, key, command.category)
    if duplicate is not None:
        raise domain.RuleBroken(f"This person is already open in this category as entry {duplicate.id}.")
    today = london_date(now)
    opened_on = command.opened_on or today
    domain.check_opening_date(opened_on, today)
    person = command.person.model_dump(mode="json", exclude_none=True)
    entry = RegisterEntry(
        id=new_id("reg"),
        org=org,
        nhs_number=command.person.nhs_number,
        person_key=key,
        person=person,
        category=command.category,
        risk=command.risk,
        children=[c.model_dump(mode="json", exclude_none=True) for c in command.children],
        agency_contacts=[c.model_dump(mode="json", exclude_none=True) for c in command.agency_contacts],
        referral_ids=list(command.referral_ids),
        notes=command.notes,
        search_name=search_name(person),
        opened_on=opened_on,
        opened_at=now,
        opened_by=by,
        review_due=domain.next_review_due(opened_on),
        updated_at=now,
    )
    _record(uow, entry, "opened", by, now, command.notes, [])
    publish(uow, RegisterEntryOpened.model_validate(_fact(entry, now, by)), org, key, now)
    return entry


def review_entry(
    uow: UnitOfWork, entry: RegisterEntry, *, by: str, command: EntryReview, now: datetime
) -> RegisterEntry:
    """Record a review: the next one is due a month after the review's date."""
    domain.check_open(entry.status, entry.id)
    now = as_utc(now)
    today = london_date(now)
    reviewed_on = command.reviewed_on or today
    domain.check_review_date(reviewed_on, today, entry.opened_on, entry.last_reviewed_on)
    changed = ["review_due"]
    if command.risk is not None and command.risk != entry.risk:
        entry.risk = command.risk
        changed.append("risk")
    entry.last_reviewed_on = reviewed_on
    entry.review_due = domain.next_review_due(reviewed_on)
    entry.version += 1
    _record(uow, entry, "reviewed", by, now, command.notes, changed)
    reviewed = RegisterEntryReviewed.model_validate({**_fact(entry, now, by), "reviewed_on": reviewed_on})
    publish(uow, reviewed, entry.org, entry.person_key, now)
    return entry


def update_entry(
    uow: UnitOfWork, entry: RegisterEntry, *, by: str, command: EntryUpdate, now: datetime
) -> RegisterEntry:
    """Change an entry's details; the history records which fields changed (names, not values)."""
    domain.check_open(entry.status, entry.id)
    now = as_utc(now)
    current = {name: getattr(entry, name) for name in domain.ENTRY_FIELDS}
    changes = domain.update_changes(current, entry.person, command.model_dump(mode="json", exclude_unset=True))
    if not changes.changed:
        return entry
    for name, value in changes.entry.items():
        setattr(entry, name, value)
    entry.person = changes.person
    entry.search_name = search_name(changes.person)
    entry.version += 1
    notes = entry.notes if "notes" in changes.changed else ""
    _record(uow, entry, "updated", by, now, notes, changes.changed)
    updated = RegisterEntryUpdated.model_validate({**_fact(entry, now, by), "changed": changes.changed})
    publish(uow, updated, entry.org, entry.person_key, now)
    return entry


def close_entry(uow: UnitOfWork, entry: RegisterEntry, *, by: str, command: EntryClose, now: datetime) -> RegisterEntry:
    domain.check_open(entry.status, entry.id)
    now = as_utc(now)
    entry.status = "closed"
    entry.closed_on = london_date(now)
    entry.closed_at = now
    entry.closed_by = by
    entry.closed_reason = command.reason
    entry.version += 1
    _record(uow, entry, "closed", by, now, command.reason, ["status"])
    closed = RegisterEntryClosed(
        **about_entry(entry),
        closed_on=entry.closed_on,
        reason=None,  # free text stays with the owning organisation
        at=now,
        by=by,
    )
    publish(uow, closed, entry.org, entry.person_key, now)
    return entry


# -- reading entries back ----------------------------------------------------------------------


def own_entry(uow: UnitOfWork, org: str, entry_id: str) -> RegisterEntry:
    """The entry ``entry_id`` of ``org``'s register: 404 if there is none, 403 if it is another's."""
    entry = uow.session.get(RegisterEntry, entry_id)
    if entry is None:
        raise NotFound("No register entry with that id.")
    if entry.org != org:
        raise Forbidden("This is not your organisation's data.")
    return entry


def history(uow: UnitOfWork, entry_id: str) -> list[RegisterEntryHistory]:
    stmt = (
        select(RegisterEntryHistory)
        .where(RegisterEntryHistory.entry_id == entry_id)
        .order_by(col(RegisterEntryHistory.id))
    )
    return list(uow.session.exec(stmt))


def entry_matches(uow: UnitOfWork, entry_id: str) -> list[RegisterCrossAreaMatch]:
    stmt = select(RegisterCrossAreaMatch).where(
        or_(col(RegisterCrossAreaMatch.entry_id) == entry_id, col(RegisterCrossAreaMatch.other_entry_id) == entry_id)
    )
    return list(uow.session.exec(stmt))


def entry_detail(uow: UnitOfWork, entry: RegisterEntry, today: date) -> EntryDetail:
    """The entry with its full history and its cross-area matches, as the API shows it."""
    matches = seen_by(uow, entry.org, entry_matches(uow, entry.id))
    return views.entry_detail(entry, history(uow, entry.id), matches, today)
