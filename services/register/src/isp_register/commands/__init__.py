"""What is asked of the register: by the API and the pages (entries, the list, cross-area
matches, the weekly review and its worklist) and by the review timer (reminders). Each takes a
unit of work first and leaves the commit to its caller."""

from .entries import (
    close_entry,
    entry_detail,
    entry_matches,
    history,
    open_entry,
    own_entry,
    review_entry,
    update_entry,
)
from .listing import EntryPage, list_entries, owners
from .matches import record_contact, seen_by
from .reminders import Flagged, flag_reviews
from .weekly import Worklist, missed_weeks, record_weekly_review, weekly_reviews, worklist

__all__ = [
    "EntryPage",
    "Flagged",
    "Worklist",
    "close_entry",
    "entry_detail",
    "entry_matches",
    "flag_reviews",
    "history",
    "list_entries",
    "missed_weeks",
    "open_entry",
    "owners",
    "own_entry",
    "record_contact",
    "record_weekly_review",
    "review_entry",
    "seen_by",
    "update_entry",
    "weekly_reviews",
    "worklist",
]
