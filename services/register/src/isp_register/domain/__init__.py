"""Pure register rules: no I/O, no framework imports.

Source: the national protocol's provider-based register example (domain/004, notes to
figure 1): four categories; every entry reviewed at least monthly; the designated
safeguarding lead (DSL) reviews the whole register weekly; clients open on another area's
register are flagged.
"""

from .categories import CATEGORIES, CATEGORY_LABELS
from .entries import ENTRY_FIELDS, PERSON_FIELDS, Changes, check_open, effective_on, update_changes
from .errors import InvalidDate, RuleBroken
from .reviews import (
    Reminder,
    check_opening_date,
    check_review_date,
    due_this_week,
    is_overdue,
    next_review_due,
    reminders_to_raise,
    week_starting,
)

__all__ = [
    "CATEGORIES",
    "CATEGORY_LABELS",
    "ENTRY_FIELDS",
    "PERSON_FIELDS",
    "Changes",
    "InvalidDate",
    "Reminder",
    "RuleBroken",
    "check_open",
    "check_opening_date",
    "check_review_date",
    "due_this_week",
    "effective_on",
    "is_overdue",
    "next_review_due",
    "reminders_to_raise",
    "update_changes",
    "week_starting",
]
