"""What is asked of the register: by the API and the pages (entries, the weekly review and its
worklist) and by the review timer (reminders). Each takes a unit of work first and leaves the
commit to its caller."""

from .entries import (
    EntryFilter,
    close_entry,
    entry_detail,
    entry_matches,
    history,
    list_entries,
    open_entry,
    own_entry,
    review_entry,
    update_entry,
)
from .reminders import Flagged, flag_reviews
from .weekly import Worklist, missed_weeks, record_weekly_review, weekly_reviews, worklist

__all__ = [
    "EntryFilter",
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
    "own_entry",
    "record_weekly_review",
    "review_entry",
    "update_entry",
    "weekly_reviews",
    "worklist",
]
