"""The DSL page's entry forms: posted fields -> the API's own command models, and the
models' validation errors -> plain-English messages keyed by field name.

Pure (no I/O). Children and other agencies' contacts are fixed rows named
``children-<i>-<field>`` and ``agency-<i>-<field>``; a row left blank is skipped. Messages
never repeat what was typed (an NHS number must not travel further than the form).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .. import domain
from ..models import EntryClose, EntryOpen, EntryQuery, EntryReview, EntryUpdate, MatchContact

Command = TypeVar("Command", bound=BaseModel)

CHILD_FIELDS = ("local_id", "nhs_number", "date_of_birth", "expected_due_date")
AGENCY_FIELDS = ("agency", "name", "role", "phone", "email")
PERSON_FIELDS = ("nhs_number", "given_name", "family_name", "date_of_birth")
CHILD_ROWS = 3
AGENCY_ROWS = 3
RISKS = ("high", "medium", "low")

LABELS = {
    "nhs_number": "NHS number",
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "category": "Category",
    "risk": "Risk",
    "opened_on": "Opened on",
    "referral_ids": "Referral ids",
    "notes": "Monitoring notes",
    "reason": "Reason for closing",
    "reviewed_on": "Date of review",
    "q": "Search",
}
REVIEW_LABELS = {**LABELS, "notes": "Review notes", "risk": "Risk"}
CONTACT_LABELS = {"notes": "Notes on the contact"}
PAGE_SIZE = 25
LIST_FIELDS = ("q", "status", "risk", "category", "due", "area", "opened_by")
ROW_LABELS = {
    "local_id": "local id",
    "nhs_number": "NHS number",
    "date_of_birth": "date of birth",
    "expected_due_date": "expected due date",
    "agency": "agency",
    "name": "name",
    "role": "role",
    "phone": "telephone",
    "email": "e-mail",
}
_ROW = re.compile(r"^(children|agency)-(\d{1,2})-([a-z_]+)$")

Errors = dict[str, str]


class FormInvalid(ValueError):
    """The form could not make a command: ``errors`` maps field names to messages."""

    def __init__(self, errors: Errors):
        super().__init__("form invalid")
        self.errors = errors


def _text(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def row_count(form: dict[str, str], kind: str, least: int) -> int:
    """How many rows of ``kind`` to show: at least ``least``, and every row the form holds."""
    indexes = [int(m.group(2)) for name in form if (m := _ROW.match(name)) and m.group(1) == kind]
    return max([least, *(i + 1 for i in indexes)])


def _rows(form: dict[str, str], kind: str, fields: tuple[str, ...]) -> list[tuple[int, dict[str, str | None]]]:
    """The rows of ``kind`` with anything typed in them, with their indexes on the form."""
    rows = []
    for i in range(row_count(form, kind, 0)):
        row = {f: _text(form, f"{kind}-{i}-{f}") for f in fields}
        if any(row.values()):
            rows.append((i, row))
    return rows


def _children(form: dict[str, str]) -> tuple[list[dict[str, Any]], list[int]]:
    rows = _rows(form, "children", CHILD_FIELDS)
    return [{k: v for k, v in row.items() if v is not None} for _, row in rows], [i for i, _ in rows]


def _contacts(form: dict[str, str]) -> tuple[list[dict[str, Any]], list[int]]:
    rows = _rows(form, "agency", AGENCY_FIELDS)
    contacts = [{k: v for k, v in row.items() if v is not None or k == "agency"} for _, row in rows]
    for contact in contacts:
        contact["agency"] = contact["agency"] or ""  # a contact without its agency is refused, not dropped
    return contacts, [i for i, _ in rows]


def _referral_ids(form: dict[str, str]) -> list[str]:
    return [part.strip() for part in form.get("referral_ids", "").split(",") if part.strip()]


def _validate(
    model: type[Command], data: dict[str, Any], rows: dict[str, list[int]], labels: Mapping[str, str] = LABELS
) -> Command:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(messages(exc, rows, labels)) from None


def _entry_fields(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """The fields opening and changing an entry share, and where each child and contact row sits."""
    children, child_rows = _children(form)
    contacts, agency_rows = _contacts(form)
    data = {
        "category": _text(form, "category"),
        "risk": _text(form, "risk"),
        "children": children,
        "agency_contacts": contacts,
        "referral_ids": _referral_ids(form),
        "notes": form.get("notes", "").strip(),
    }
    return data, {"children": child_rows, "agency_contacts": agency_rows}


def open_command(form: dict[str, str]) -> EntryOpen:
    data, rows = _entry_fields(form)
    person = {f: _text(form, f) for f in PERSON_FIELDS}
    person["nhs_number"] = (person["nhs_number"] or "").replace(" ", "")
    data["person"] = {k: v for k, v in person.items() if v is not None or k == "nhs_number"}
    data["opened_on"] = _text(form, "opened_on")
    return _validate(EntryOpen, data, rows)


def update_command(form: dict[str, str]) -> EntryUpdate:
    """Every field is posted: blank rows remove children or contacts, a blank name removes it."""
    data, rows = _entry_fields(form)
    data.update({name: _text(form, name) for name in ("given_name", "family_name", "date_of_birth")})
    return _validate(EntryUpdate, data, rows)


def close_command(form: dict[str, str]) -> EntryClose:
    return _validate(EntryClose, {"reason": _text(form, "reason")}, {})


def review_command(form: dict[str, str]) -> EntryReview:
    """The review form's command: its notes are required, its date and risk must be real ones."""
    data = {name: _text(form, name) for name in ("notes", "reviewed_on", "risk")}
    return _validate(EntryReview, data, {}, REVIEW_LABELS)


def contact_command(form: dict[str, str]) -> MatchContact:
    return _validate(MatchContact, {"notes": _text(form, "notes")}, {}, CONTACT_LABELS)


def list_form(params: Mapping[str, str]) -> dict[str, str]:
    """The list page's filter fields as the query string gives them (status: all by default)."""
    return {"status": "all", **{name: params[name].strip() for name in LIST_FIELDS if params.get(name)}}


def entry_query(form: Mapping[str, str], cursor: str | None, today: date) -> EntryQuery:
    """The API's list query for the list page's filters; FormInvalid names a field that is wrong."""
    due = form.get("due")
    data: dict[str, Any] = {
        "status": form.get("status"),
        "q": form.get("q"),
        "risk": form.get("risk"),
        "category": form.get("category"),
        "opened_by": form.get("opened_by"),
        "cross_area": {"yes": True, "no": False}.get(form.get("area", "")),
        "review_overdue": True if due == "overdue" else None,
        "review_due_by": {
            "week": domain.week_starting(today) + timedelta(days=6),
            "month": today + timedelta(days=30),
        }.get(due or ""),
        "limit": PAGE_SIZE,
        "cursor": cursor,
    }
    return _validate(EntryQuery, {k: v for k, v in data.items() if v is not None}, {})


def update_values(entry: dict[str, Any]) -> dict[str, str]:
    """The update form's fields as the entry stands (``entry``: an EntryDetail dumped to JSON)."""
    values = {
        "category": entry["category"],
        "risk": entry["risk"],
        "notes": entry.get("notes") or "",
        "referral_ids": ", ".join(entry.get("referral_ids") or []),
        **{f: entry["person"].get(f) or "" for f in ("given_name", "family_name", "date_of_birth")},
    }
    for i, child in enumerate(entry.get("children") or []):
        values.update({f"children-{i}-{f}": child.get(f) or "" for f in CHILD_FIELDS})
    for i, contact in enumerate(entry.get("agency_contacts") or []):
        values.update({f"agency-{i}-{f}": contact.get(f) or "" for f in AGENCY_FIELDS})
    return values


def _row_field(kind: str, index: int, name: str | None) -> tuple[str, str]:
    """The form field (or row fieldset) an error belongs to, and how to name it."""
    title = f"{'Child' if kind == 'children' else 'Contact'} {index + 1}"
    if name is None:
        return f"{kind}-{index}", title
    return f"{kind}-{index}-{name}", f"{title}: {ROW_LABELS.get(name, name)}"


def _locate(loc: tuple[Any, ...], rows: dict[str, list[int]], labels: Mapping[str, str]) -> tuple[str, str]:
    parts = [p for p in loc if p != "person"]
    head = parts[0] if parts else ""
    if head in ("children", "agency_contacts") and len(parts) > 1 and isinstance(parts[1], int):
        index = rows.get(head, [])[parts[1]] if parts[1] < len(rows.get(head, [])) else parts[1]
        kind = "children" if head == "children" else "agency"
        return _row_field(kind, index, parts[2] if len(parts) > 2 else None)
    name = str(head)
    return name, labels.get(name, name.replace("_", " ").capitalize())


def _message(kind: str, label: str, ctx: dict[str, Any]) -> str:
    if kind == "nhs_number_format" and label == "Search":
        return "Enter an NHS number with 10 digits, like 943 476 5919, or search by name."
    if kind == "nhs_number_check" and label == "Search":
        return "Enter a real NHS number: the last digit of this one does not match the others."
    if kind == "nhs_number_check":
        return (
            f"{label} is not valid: its last digit does not match the modulus 11 check. Check it was typed correctly."
        )
    if kind == "nhs_number_format":
        return f"{label} must have 10 digits, like 943 476 5919."
    if kind == "child_unidentified":
        return f"{label}: give a local id, an NHS number or, for an unborn child, the expected due date."
    if kind == "child_born_and_unborn":
        return f"{label}: give either the date of birth or the expected due date (unborn), not both."
    if kind.startswith(("date_", "datetime_")):
        return f"{label} must be a real date, for example 2026-03-04."
    if kind == "literal_error" or (kind == "missing" and label in ("Category", "Risk")):
        return f"Choose the {label.lower()}."
    if kind in ("missing", "string_type", "string_too_short"):
        title, _, field = label.rpartition(": ")
        return f"{title}: enter the {field}." if title else f"Enter the {_lower_first(field)}."
    if kind == "string_too_long":
        return f"{label} is too long (at most {ctx.get('max_length')} characters)."
    return f"{label} is not valid."


def _lower_first(text: str) -> str:
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def messages(
    exc: ValidationError, rows: dict[str, list[int]] | None = None, labels: Mapping[str, str] = LABELS
) -> Errors:
    """One message per field, in the order the errors came; the input is never repeated."""
    errors: Errors = {}
    for error in exc.errors(include_input=False, include_url=False):
        field, label = _locate(tuple(error["loc"]), rows or {}, labels)
        errors.setdefault(field, _message(error["type"], label, error.get("ctx") or {}))
    return errors
