"""Rows as the API shows them (JSON-ready dicts); the page renders the same views."""

from __future__ import annotations

from datetime import date
from typing import Any

from isp_common.times import as_utc

from . import domain
from .reviews import Worklist
from .tables import (
    RegisterCrossAreaMatch,
    RegisterEntry,
    RegisterEntryHistory,
    RegisterWeeklyReview,
    RegisterWeeklyReviewMissed,
)


def entry_summary(entry: RegisterEntry, today: date) -> dict[str, Any]:
    return {
        "id": entry.id,
        "org": entry.org,
        "person": entry.person,
        "category": entry.category,
        "risk": entry.risk,
        "status": entry.status,
        "opened_on": entry.opened_on.isoformat(),
        "opened_at": as_utc(entry.opened_at).isoformat(),
        "opened_by": entry.opened_by,
        "review_due": entry.review_due.isoformat(),
        "review_overdue": entry.status == "open" and domain.is_overdue(entry.review_due, today),
        "last_reviewed_on": entry.last_reviewed_on.isoformat() if entry.last_reviewed_on else None,
        "version": entry.version,
    }


def entry_detail(
    entry: RegisterEntry,
    history: list[RegisterEntryHistory],
    matches: list[RegisterCrossAreaMatch],
    today: date,
) -> dict[str, Any]:
    return {
        **entry_summary(entry, today),
        "children": entry.children,
        "agency_contacts": entry.agency_contacts,
        "referral_ids": entry.referral_ids,
        "notes": entry.notes,
        "closed_on": entry.closed_on.isoformat() if entry.closed_on else None,
        "closed_by": entry.closed_by,
        "closed_reason": entry.closed_reason,
        "cross_area_matches": [match_view(m, entry.org) for m in matches],
        "history": [history_item(h) for h in history],
    }


def history_item(item: RegisterEntryHistory) -> dict[str, Any]:
    return {
        "version": item.version,
        "action": item.action,
        "at": as_utc(item.at).isoformat(),
        "by": item.by,
        "effective_on": item.effective_on.isoformat(),
        "notes": item.notes,
        "changed": item.changed,
        "review_due": item.review_due.isoformat(),
        "snapshot": item.snapshot,
    }


def match_view(match: RegisterCrossAreaMatch, org: str) -> dict[str, Any]:
    """A match seen from ``org``'s side: its own entry, and the other organisation's."""
    mine = match.org == org
    return {
        "id": match.id,
        "own_entry_id": match.entry_id if mine else match.other_entry_id,
        "own_category": match.category if mine else match.other_category,
        "other_org": match.other_org if mine else match.org,
        "other_entry_id": match.other_entry_id if mine else match.entry_id,
        "other_category": match.other_category if mine else match.category,
        "matched_at": as_utc(match.matched_at).isoformat(),
    }


def weekly_review_view(review: RegisterWeeklyReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "org": review.org,
        "reviewed_on": review.reviewed_on.isoformat(),
        "week_starting": review.week_starting.isoformat(),
        "at": as_utc(review.at).isoformat(),
        "by": review.by,
        "notes": review.notes,
        "open_entries": review.open_entries,
        "overdue_entries": review.overdue_entries,
    }


def missed_week_view(missed: RegisterWeeklyReviewMissed) -> dict[str, Any]:
    return {
        "week_starting": missed.week_starting.isoformat(),
        "flagged_at": as_utc(missed.flagged_at).isoformat(),
    }


def worklist_view(work: Worklist) -> dict[str, Any]:
    today = work.today
    return {
        "org": work.org,
        "today": today.isoformat(),
        "since": work.since.isoformat(),
        "overdue": [entry_summary(e, today) for e in work.overdue],
        "due_this_week": [entry_summary(e, today) for e in work.due_this_week],
        "opened_since_last_week": [entry_summary(e, today) for e in work.opened_since],
        "cross_area_matches": [match_view(m, work.org) for m in work.matches],
        "last_weekly_review": weekly_review_view(work.last_weekly_review) if work.last_weekly_review else None,
        "weekly_review_done_this_week": work.reviewed_this_week,
        "weekly_reviews_missed": [missed_week_view(m) for m in work.missed_weeks],
    }
