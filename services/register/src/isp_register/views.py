"""Rows as the API shows them (the response models of :mod:`.models`); the pages render the same
views, dumped to JSON-ready dicts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from isp_schemas.directory import Organisation

from . import domain
from .models import (
    EntryDetail,
    EntryListItem,
    EntrySummary,
    HistoryItem,
    MatchContactPublic,
    MatchPublic,
    MissedWeekPublic,
    WeeklyReviewPublic,
    WorklistPublic,
)
from .tables import (
    RegisterCrossAreaMatch,
    RegisterEntry,
    RegisterEntryHistory,
    RegisterMatchContact,
    RegisterWeeklyReview,
    RegisterWeeklyReviewMissed,
)

if TYPE_CHECKING:
    from .commands.weekly import Worklist


def _summary_fields(entry: RegisterEntry, today: date) -> dict[str, object]:
    return {
        "id": entry.id,
        "org": entry.org,
        "person": entry.person,
        "category": entry.category,
        "risk": entry.risk,
        "status": entry.status,
        "opened_on": entry.opened_on,
        "opened_at": entry.opened_at,
        "opened_by": entry.opened_by,
        "review_due": entry.review_due,
        "review_overdue": entry.status == "open" and domain.is_overdue(entry.review_due, today),
        "last_reviewed_on": entry.last_reviewed_on,
        "version": entry.version,
    }


def entry_summary(entry: RegisterEntry, today: date) -> EntrySummary:
    return EntrySummary.model_validate(_summary_fields(entry, today))


def entry_list_item(entry: RegisterEntry, today: date, cross_area_match: bool) -> EntryListItem:
    return EntryListItem.model_validate({**_summary_fields(entry, today), "cross_area_match": cross_area_match})


def entry_detail(
    entry: RegisterEntry,
    history: list[RegisterEntryHistory],
    matches: list[MatchPublic],
    today: date,
) -> EntryDetail:
    return EntryDetail.model_validate(
        {
            **_summary_fields(entry, today),
            "children": entry.children,
            "agency_contacts": entry.agency_contacts,
            "referral_ids": entry.referral_ids,
            "notes": entry.notes,
            "closed_on": entry.closed_on,
            "closed_by": entry.closed_by,
            "closed_reason": entry.closed_reason,
            "cross_area_matches": matches,
            "history": [history_item(h) for h in history],
        }
    )


def history_item(item: RegisterEntryHistory) -> HistoryItem:
    return HistoryItem.model_validate(item, from_attributes=True)


def next_step(other_org: str, other: Organisation | None, contacted: bool) -> str:
    """What the DSL who reads a match should do next (the protocol: a family that moves must not
    vanish from view, so the two DSLs talk)."""
    if contacted:
        return (
            "Contact recorded. Agree with the other DSL who leads, keep each other told of changes, "
            "and record each further contact here."
        )
    if other is None:
        return (
            f"{other_org} is not in the partnership directory: ask the partnership for its designated "
            "safeguarding lead's contact, contact them, then record the contact here."
        )
    return (
        f"Contact {other.name}'s designated safeguarding lead to share what each of you knows and agree "
        "who leads, then record the contact here."
    )


def match_view(
    match: RegisterCrossAreaMatch,
    org: str,
    other: Organisation | None,
    contacts: list[RegisterMatchContact],
    out_of_hours: Organisation | None = None,
) -> MatchPublic:
    """A match seen from ``org``'s side: its own entry, the other organisation's (with its
    directory entry, if the directory knows it), ``org``'s contacts and the next step."""
    mine = match.org == org
    other_org = match.other_org if mine else match.org
    return MatchPublic.model_validate(
        {
            "id": match.id,
            "own_entry_id": match.entry_id if mine else match.other_entry_id,
            "own_category": match.category if mine else match.other_category,
            "other_org": other_org,
            "other_entry_id": match.other_entry_id if mine else match.entry_id,
            "other_category": match.other_category if mine else match.category,
            "matched_at": match.matched_at,
            "other_org_name": other.name if other else None,
            "other_dsl_contact": other.dsl_contact if other else None,
            "other_out_of_hours": f"{out_of_hours.name}: {out_of_hours.dsl_contact}" if out_of_hours else None,
            "contacts": [MatchContactPublic.model_validate(c, from_attributes=True) for c in contacts],
            "next_step": next_step(other_org, other, bool(contacts)),
        }
    )


def weekly_review_view(review: RegisterWeeklyReview) -> WeeklyReviewPublic:
    return WeeklyReviewPublic.model_validate(review, from_attributes=True)


def missed_week_view(missed: RegisterWeeklyReviewMissed) -> MissedWeekPublic:
    return MissedWeekPublic.model_validate(missed, from_attributes=True)


def worklist_view(work: Worklist, matches: list[MatchPublic]) -> WorklistPublic:
    """The worklist, with its matches as :func:`isp_register.commands.matches.seen_by` shows them."""
    today = work.today
    last = work.last_weekly_review
    return WorklistPublic(
        org=work.org,
        today=today,
        since=work.since,
        overdue=[entry_summary(e, today) for e in work.overdue],
        due_this_week=[entry_summary(e, today) for e in work.due_this_week],
        opened_since_last_week=[entry_summary(e, today) for e in work.opened_since],
        cross_area_matches=matches,
        last_weekly_review=weekly_review_view(last) if last else None,
        weekly_review_done_this_week=work.reviewed_this_week,
        weekly_reviews_missed=[missed_week_view(m) for m in work.missed_weeks],
    )
