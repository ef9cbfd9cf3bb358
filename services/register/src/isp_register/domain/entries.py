"""Rules for one entry's changes: only an open entry changes, and what an update changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import RuleBroken

ENTRY_FIELDS = ("category", "risk", "children", "agency_contacts", "referral_ids", "notes")
PERSON_FIELDS = ("given_name", "family_name", "date_of_birth")


def check_open(status: str, entry_id: str) -> None:
    if status != "open":
        raise RuleBroken(f"Entry {entry_id} is closed.")


def effective_on(action: str, opened_on: date, last_reviewed_on: date | None, recorded_on: date) -> date:
    """The day an action took effect: a review's or an opening's own date, else the day recorded."""
    if action == "reviewed" and last_reviewed_on:
        return last_reviewed_on
    if action == "opened":
        return opened_on
    return recorded_on


@dataclass
class Changes:
    """What an update changes: new entry field values, the person as it becomes, and the
    names of the changed fields in the order the history lists them."""

    entry: dict[str, Any] = field(default_factory=dict)
    person: dict[str, Any] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)


def _without_nones(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return [{k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item for item in value]


def update_changes(current: Mapping[str, Any], person: Mapping[str, Any], given: Mapping[str, Any]) -> Changes:
    """Compare ``given`` (the fields an update set, JSON-ready) with the entry as it stands.

    An entry field given as ``None`` is left as it is; a person field given as ``None`` is
    removed. Only names of changed fields are recorded, never their values.
    """
    changes = Changes(person=dict(person))
    for name in ENTRY_FIELDS:
        if given.get(name) is not None:
            value = _without_nones(given[name])
            if value != current[name]:
                changes.entry[name] = value
                changes.changed.append(name)
    for name in PERSON_FIELDS:
        if name in given and given[name] != person.get(name):
            if given[name] is None:
                changes.person.pop(name, None)
            else:
                changes.person[name] = given[name]
            changes.changed.append(name)
    return changes
