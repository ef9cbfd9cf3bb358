"""Register commands: one function per action. Each takes a unit of work and commits
nothing itself; the caller (API or page) owns the transaction.

Every action keeps a history row (who, when, the entry as it then stood) and publishes
its event on ``isp.register.v1`` through the outbox. Events carry the ``person_key``
(HMAC of the NHS number), never the number: only this organisation's row holds it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_common.workingdays import london_date
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.register import (
    RegisterEntryClosed,
    RegisterEntryOpened,
    RegisterEntryReviewed,
    RegisterEntryUpdated,
    RegisterEvent,
    person_key,
)
from sqlmodel import select

from . import domain
from .models import EntryClose, EntryOpen, EntryReview, EntryUpdate
from .tables import RegisterEntry, RegisterEntryHistory

SNAPSHOT_EXCLUDE = {"due_flagged_for", "overdue_flagged_for", "updated_at"}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def publish(uow: UnitOfWork, data: RegisterEvent, org: str, subject: str, at: datetime | None = None) -> None:
    uow.publish(
        CloudEvent.create(type=data.event_type, source_org=org, data=data, subject=subject, time=at), topics.REGISTER
    )


def _fact(entry: RegisterEntry, at: datetime, by: str | None) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "org": entry.org,
        "person_key": entry.person_key,
        "category": entry.category,
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
            effective_on=_effective_on(entry, action, at),
            notes=notes,
            changed=changed,
            review_due=entry.review_due,
            snapshot=entry.model_dump(mode="json", exclude=SNAPSHOT_EXCLUDE),
        )
    )


def _effective_on(entry: RegisterEntry, action: str, at: datetime) -> date:
    """The day an action took effect: a review's or an opening's own date, else the day recorded."""
    if action == "reviewed" and entry.last_reviewed_on:
        return entry.last_reviewed_on
    if action == "opened":
        return entry.opened_on
    return london_date(at)


def _must_be_open(entry: RegisterEntry) -> None:
    if entry.status != "open":
        raise domain.RuleBroken(f"Entry {entry.id} is closed.")


def open_entry(
    uow: UnitOfWork, *, org: str, by: str, command: EntryOpen, now: datetime, partnership_key: bytes
) -> RegisterEntry:
    """Put a person on ``org``'s register; the first review is due at most a month on."""
    now = as_utc(now)
    key = person_key(command.person.nhs_number, partnership_key)
    duplicate = uow.session.exec(
        select(RegisterEntry).where(
            RegisterEntry.org == org,
            RegisterEntry.person_key == key,
            RegisterEntry.category == command.category,
            RegisterEntry.status == "open",
        )
    ).first()
    if duplicate is not None:
        raise domain.RuleBroken(f"This person is already open in this category as entry {duplicate.id}.")
    today = london_date(now)
    opened_on = command.opened_on or today
    domain.check_opening_date(opened_on, today)
    entry = RegisterEntry(
        id=new_id("reg"),
        org=org,
        nhs_number=command.person.nhs_number,
        person_key=key,
        person=command.person.model_dump(mode="json", exclude_none=True),
        category=command.category,
        risk=command.risk,
        children=[c.model_dump(mode="json", exclude_none=True) for c in command.children],
        agency_contacts=[c.model_dump(mode="json", exclude_none=True) for c in command.agency_contacts],
        referral_ids=list(command.referral_ids),
        notes=command.notes,
        opened_on=opened_on,
        opened_at=now,
        opened_by=by,
        review_due=domain.next_review_due(opened_on),
    )
    _record(uow, entry, "opened", by, now, command.notes, [])
    publish(uow, RegisterEntryOpened(**_fact(entry, now, by)), org, key, now)
    return entry


def review_entry(
    uow: UnitOfWork, entry: RegisterEntry, *, by: str, command: EntryReview, now: datetime
) -> RegisterEntry:
    """Record a review: the next one is due a month after the review's date."""
    _must_be_open(entry)
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
    reviewed = RegisterEntryReviewed(**_fact(entry, now, by), reviewed_on=reviewed_on)
    publish(uow, reviewed, entry.org, entry.person_key, now)
    return entry


PERSON_FIELDS = ("given_name", "family_name", "date_of_birth")
ENTRY_FIELDS = ("category", "risk", "children", "agency_contacts", "referral_ids", "notes")


def update_entry(
    uow: UnitOfWork, entry: RegisterEntry, *, by: str, command: EntryUpdate, now: datetime
) -> RegisterEntry:
    """Change an entry's details; the history records which fields changed (names, not values)."""
    _must_be_open(entry)
    now = as_utc(now)
    given = command.model_dump(mode="json", exclude_unset=True)
    changed: list[str] = []
    for name in ENTRY_FIELDS:
        if name in given and given[name] is not None:
            value = given[name]
            if isinstance(value, list):
                value = [
                    {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item
                    for item in value
                ]
            if value != getattr(entry, name):
                setattr(entry, name, value)
                changed.append(name)
    person = dict(entry.person)
    for name in PERSON_FIELDS:
        if name in given and given[name] != person.get(name):
            if given[name] is None:
                person.pop(name, None)
            else:
                person[name] = given[name]
            changed.append(name)
    if not changed:
        return entry
    entry.person = person
    entry.version += 1
    _record(uow, entry, "updated", by, now, entry.notes if "notes" in changed else "", changed)
    publish(uow, RegisterEntryUpdated(**_fact(entry, now, by), changed=changed), entry.org, entry.person_key, now)
    return entry


def close_entry(uow: UnitOfWork, entry: RegisterEntry, *, by: str, command: EntryClose, now: datetime) -> RegisterEntry:
    _must_be_open(entry)
    now = as_utc(now)
    entry.status = "closed"
    entry.closed_on = london_date(now)
    entry.closed_at = now
    entry.closed_by = by
    entry.closed_reason = command.reason
    entry.version += 1
    _record(uow, entry, "closed", by, now, command.reason or "", ["status"])
    closed = RegisterEntryClosed(
        entry_id=entry.id,
        org=entry.org,
        person_key=entry.person_key,
        category=entry.category,
        closed_on=entry.closed_on,
        reason=None,  # free text stays with the owning organisation
        at=now,
        by=by,
    )
    publish(uow, closed, entry.org, entry.person_key, now)
    return entry


def history(uow: UnitOfWork, entry_id: str) -> list[RegisterEntryHistory]:
    stmt = (
        select(RegisterEntryHistory).where(RegisterEntryHistory.entry_id == entry_id).order_by(RegisterEntryHistory.id)
    )
    return list(uow.session.exec(stmt))
