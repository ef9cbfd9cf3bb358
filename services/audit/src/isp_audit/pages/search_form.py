"""The search page's form: what was typed, kept as typed, and what is wrong with it, field by field.

Pure (no I/O). A search needs at least one thing to search by (an empty search would answer
"no records", which for a subject access request is false reassurance); an NHS number that is
not one is an error on its field, never a search that finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from isp_common.auth import is_org_id
from isp_schemas.people import valid_nhs_number

from ..domain.search import BASES, DECISIONS, Filters, bound

FIELDS = ("person", "org", "since", "until", "basis", "decision", "purpose")
CRITERIA = ("person", "org", "since", "until", "basis", "decision")
"""The fields that narrow a search (``purpose`` says why, and is recorded, but finds nothing)."""
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
NOTHING_TO_SEARCH_BY = (
    "Enter at least one thing to search by: an NHS number, an organisation, a date, a lawful basis or a decision"
)


@dataclass(frozen=True)
class SearchForm:
    values: dict[str, str]
    """What was typed, as typed (blank fields left out)."""
    errors: dict[str, str] = field(default_factory=dict)
    """Field name to what is wrong with it, in the form's order."""
    filters: Filters | None = None
    """The search to run (None when there are errors)."""


def parse_day(text: str) -> date | None:
    """A day as people type it: 30/11/2026, 30-11-2026, 30 11 2026, 30 Nov 2026 or 2026-11-30."""
    text = text.strip().lower()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := re.fullmatch(r"(\d{1,2})[/\-. ](\d{1,2})[/\-. ](\d{4})", text):
            return date(int(m[3]), int(m[2]), int(m[1]))
        if (m := re.fullmatch(r"(\d{1,2}) ([a-z]{3})[a-z]* (\d{4})", text)) and m[2] in MONTHS:
            return date(int(m[3]), MONTHS.index(m[2]) + 1, int(m[1]))
    except ValueError:
        return None
    return None


def _person(text: str) -> tuple[str | None, str | None]:
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"\d{10}", digits):
        return None, "Enter an NHS number with 10 digits, like 943 476 5919"
    if not valid_nhs_number(digits):
        return None, "Enter a real NHS number: the last digit of this one does not match the others"
    return digits, None


def read_search_form(query: Mapping[str, str]) -> SearchForm:
    """The search a page's query string asks for, or why it cannot be run."""
    values = {k: v.strip() for k in FIELDS if (v := query.get(k, "")).strip()}
    errors: dict[str, str] = {}
    person = org = None
    days: dict[str, date] = {}
    if "person" in values:
        person, problem = _person(values["person"])
        if problem:
            errors["person"] = problem
    if "org" in values:
        org = values["org"].upper()
        if not is_org_id(org):
            errors["org"] = "Enter an organisation id in capitals, digits and hyphens, like CGL-WSX"
    for name, words in (("since", "From"), ("until", "To")):
        if name in values:
            if (day := parse_day(values[name])) is None:
                errors[name] = f"{words} date must be a real date, like 30/11/2026"
            else:
                days[name] = day
    if "since" in days and "until" in days and days["until"] < days["since"]:
        errors["until"] = "To date must be the same as or after the from date"
    if values.get("basis", "") not in ("", *BASES):
        errors["basis"] = "Choose a lawful basis from the list"
    if values.get("decision", "") not in ("", *DECISIONS):
        errors["decision"] = "Choose a decision from the list"
    if not errors and not any(k in values for k in CRITERIA):
        errors["person"] = NOTHING_TO_SEARCH_BY
    if errors:
        return SearchForm(values, {k: errors[k] for k in FIELDS if k in errors})
    since, until = days.get("since"), days.get("until")
    filters = Filters(
        person=person,
        org=org,
        since=bound(since.isoformat() if since else None, end=False),
        until=bound(until.isoformat() if until else None, end=True),
        decision=values.get("decision"),
        basis=values.get("basis"),
    )
    return SearchForm(values, filters=filters)
