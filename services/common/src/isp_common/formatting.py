"""How the pages write dates, times and NHS numbers: one way, in the words people use.

Pure functions, used as Jinja filters by every page set (:func:`isp_common.pages.template_environment`):

- :func:`uk_date`: ``30 Nov 2026`` (the Europe/London date of a moment);
- :func:`uk_datetime`: ``30 Nov 2026, 14:05`` in Europe/London (BST or GMT as the day has it), to
  the minute, with no zone name: the whole partnership works on London time;
- :func:`nhs_number`: ``943 476 5919`` (3-3-4, as printed on NHS cards and letters).

Each takes what the services hold (an aware or UTC-naive ``datetime``, a ``date``, ISO 8601 text,
or nothing) and never raises: text it cannot read is shown as it is, nothing as ``""``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from .workingdays import LONDON

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

When = datetime | date | str | None


def _moment(value: datetime) -> datetime:
    """``value`` in Europe/London; a naive datetime is UTC (as every service stores times)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(LONDON)


def _when(value: When) -> datetime | date | None:
    """What ``value`` means as a moment or a day (None: nothing, or text that is neither)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _day(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def uk_date(value: When) -> str:
    """``30 Nov 2026``: a date as it is, a moment as its Europe/London date."""
    when = _when(value)
    if when is None:
        return value if isinstance(value, str) else ""  # unreadable text as it is
    return _day(_moment(when).date() if isinstance(when, datetime) else when)


def uk_datetime(value: When) -> str:
    """``30 Nov 2026, 14:05`` in Europe/London; a bare date is written as :func:`uk_date`."""
    when = _when(value)
    if not isinstance(when, datetime):
        return uk_date(value)
    local = _moment(when)
    return f"{_day(local.date())}, {local:%H:%M}"


def nhs_number(value: str | None) -> str:
    """``943 476 5919``: ten digits spaced 3-3-4; anything else (a local id, nothing) as it is."""
    if not value:
        return ""
    digits = "".join(value.split())
    if len(digits) != 10 or not digits.isdigit():
        return value
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


ROLE_LABELS = {
    "dsl": "designated safeguarding lead",
    "ig_officer": "IG officer",
    "partnership_ig": "partnership IG officer",
    "social_care": "social care",
    "provider": "provider",
    "admin": "administrator",
}


def role_label(role: str) -> str:
    """A role as people say it (``ig_officer``: IG officer)."""
    return ROLE_LABELS.get(role, role)


FILTERS = {"uk_date": uk_date, "uk_datetime": uk_datetime, "nhs_number": nhs_number, "role_label": role_label}
"""The filters every page set's templates have."""
