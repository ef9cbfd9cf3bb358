"""The review timer (monthly reviews, the weekly review) and the DSL's worklist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from isp_common.db import make_engine
from isp_common.testing import FixedClock, nhs_number, outbox_events
from isp_register import agents, commands, handlers
from isp_register.bootstrap import build
from isp_register.models import EntryClose, EntryOpen, EntryReview
from isp_register.settings import Settings
from isp_schemas.register import ReviewDue, ReviewOverdue, WeeklyReviewMissed
from isp_schemas.registry import parse_event

A, B = "CGL-WSX", "TURNING-PT"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def flag(uow) -> Callable[..., commands.Flagged]:
    """``flag(now, reminder_days=7)``: one run of the review timer at ``now``, committed."""

    def run(now: datetime, reminder_days: int = 7) -> commands.Flagged:
        flagged = commands.flag_reviews(uow, now, reminder_days)
        uow.commit()
        return flagged

    return run


def test_a_review_due_at_the_end_of_february_is_reminded_once_then_flagged_overdue_once(open_entry, published, flag):
    entry = open_entry(A, nhs_number(1), utc(2026, 1, 31, 12))
    assert entry.review_due == date(2026, 2, 28)

    assert flag(utc(2026, 2, 20, 12)).due == []  # eight days before
    assert flag(utc(2026, 2, 21, 12)).due == [entry.id]  # seven days before
    assert flag(utc(2026, 2, 28, 12)).due == []  # reminded already
    assert flag(utc(2026, 2, 28, 23, 30)).overdue == []  # still the 28th
    assert flag(utc(2026, 3, 1, 0, 30)).overdue == [entry.id]  # the day after
    assert flag(utc(2026, 3, 5, 0, 30)).overdue == []

    [due] = published(ReviewDue.event_type)
    [overdue] = published(ReviewOverdue.event_type)
    assert due.data["review_due"] == overdue.data["review_due"] == "2026-02-28"
    assert due.source_org == overdue.source_org == A
    assert due.subject == entry.person_key
    _, data = parse_event(overdue.to_json_bytes())
    assert isinstance(data, ReviewOverdue) and data.entry_id == entry.id


def test_the_reminder_window_is_configurable(open_entry, flag):
    entry = open_entry(A, nhs_number(2), utc(2026, 1, 31, 12))
    assert flag(utc(2026, 2, 25, 12), reminder_days=2).due == []
    assert flag(utc(2026, 2, 26, 12), reminder_days=2).due == [entry.id]


def test_dates_are_reckoned_in_london(open_entry):
    # 23:30 UTC on 31 May is already 1 June in London (British Summer Time)
    entry = open_entry(A, nhs_number(3), utc(2026, 5, 31, 23, 30))
    assert entry.opened_on == date(2026, 6, 1) and entry.review_due == date(2026, 7, 1)


def test_a_review_resets_the_reminders_for_the_new_date(uow, open_entry, published, flag):
    entry = open_entry(A, nhs_number(4), utc(2026, 1, 31, 12))
    flag(utc(2026, 3, 2, 12))
    commands.review_entry(uow, entry, by="dsl", command=EntryReview(notes="Seen."), now=utc(2026, 3, 3, 12))
    uow.commit()
    assert entry.review_due == date(2026, 4, 3)

    assert flag(utc(2026, 3, 27, 12)).due == [entry.id]
    assert flag(utc(2026, 4, 4, 12)).overdue == [entry.id]
    assert len(published(ReviewOverdue.event_type)) == 2


def test_closed_entries_are_not_flagged(uow, open_entry, flag):
    entry = open_entry(A, nhs_number(5), utc(2026, 1, 31, 12))
    commands.close_entry(uow, entry, by="dsl", command=EntryClose(reason="Moved away"), now=utc(2026, 2, 1, 12))
    uow.commit()
    flagged = flag(utc(2026, 3, 9, 12))
    assert flagged.due == flagged.overdue == []


def test_a_week_without_a_weekly_review_is_flagged_once_per_org(uow, open_entry, published, flag):
    open_entry(A, nhs_number(6), utc(2026, 2, 17, 12))  # a Tuesday
    open_entry(B, nhs_number(7), utc(2026, 2, 18, 12))
    commands.record_weekly_review(uow, org=B, by="dsl-b", notes="All seen", now=utc(2026, 2, 20, 12))
    uow.commit()

    assert flag(utc(2026, 2, 22, 12)).weeks_missed == []  # the week is not over
    assert flag(utc(2026, 2, 23, 9)).weeks_missed == [(A, "2026-02-16")]
    assert flag(utc(2026, 2, 25, 9)).weeks_missed == []

    [missed] = published(WeeklyReviewMissed.event_type)
    assert missed.data == {"org": A, "week_starting": "2026-02-16", "last_reviewed_on": None}
    assert missed.subject == A


def test_an_org_with_nothing_open_that_week_is_not_flagged(uow, open_entry, flag):
    entry = open_entry(A, nhs_number(8), utc(2026, 2, 2, 12))
    commands.close_entry(uow, entry, by="dsl", command=EntryClose(reason="Moved away"), now=utc(2026, 2, 6, 12))
    uow.commit()
    assert flag(utc(2026, 2, 9, 9)).weeks_missed == [(A, "2026-02-02")]
    assert flag(utc(2026, 2, 16, 9)).weeks_missed == []  # closed before the week of 9 February


def test_a_missed_week_names_the_last_weekly_review(uow, open_entry, published, flag):
    open_entry(A, nhs_number(9), utc(2026, 2, 2, 12))
    commands.record_weekly_review(uow, org=A, by="dsl", notes="", now=utc(2026, 2, 4, 12))
    uow.commit()
    assert flag(utc(2026, 2, 9, 9)).weeks_missed == []
    assert flag(utc(2026, 2, 16, 9)).weeks_missed == [(A, "2026-02-09")]
    [missed] = published(WeeklyReviewMissed.event_type)
    assert missed.data["last_reviewed_on"] == "2026-02-04"


def test_the_worklist_shows_overdue_due_this_week_new_entries_and_new_matches(uow, open_entry, published):
    number = nhs_number(10)
    overdue = open_entry(A, nhs_number(11), utc(2026, 1, 10, 12))  # due 10 Feb
    due_soon = open_entry(A, nhs_number(12), utc(2026, 1, 27, 12))  # due 27 Feb
    open_entry(B, number, utc(2026, 2, 5, 12))
    new = open_entry(A, number, utc(2026, 2, 24, 12))  # a Tuesday; due 24 March
    for event in published("uk.isp.register.entry.opened.v1"):
        _, data = parse_event(event.to_json_bytes())
        handlers.entry_opened(uow, event, data)
    uow.commit()

    work = commands.worklist(uow, A, utc(2026, 2, 25, 12))
    assert [e.id for e in work.overdue] == [overdue.id]
    assert [e.id for e in work.due_this_week] == [due_soon.id]
    assert [e.id for e in work.opened_since] == [new.id]
    [match] = work.matches
    assert (match.entry_id, match.other_org) == (new.id, B)
    assert work.last_weekly_review is None and not work.reviewed_this_week

    other_side = commands.worklist(uow, B, utc(2026, 2, 25, 12))
    assert [m.id for m in other_side.matches] == [match.id]
    assert other_side.opened_since == []  # B's entry is older than a week


def test_recording_the_weekly_review_keeps_its_own_history(uow, open_entry):
    open_entry(A, nhs_number(13), utc(2026, 1, 10, 12))
    first = commands.record_weekly_review(uow, org=A, by="dsl-1", notes="one", now=utc(2026, 2, 16, 9))
    second = commands.record_weekly_review(uow, org=A, by="dsl-2", notes="two", now=utc(2026, 2, 23, 9))
    uow.commit()

    assert (first.week_starting, first.open_entries, first.overdue_entries) == (date(2026, 2, 16), 1, 1)
    assert [r.id for r in commands.weekly_reviews(uow, A)] == [second.id, first.id]
    work = commands.worklist(uow, A, utc(2026, 2, 24, 9))
    assert work.last_weekly_review.id == second.id and work.reviewed_this_week


def test_the_review_timer_runs_at_the_runtimes_clock(tmp_path):
    clock = FixedClock(utc(2026, 1, 31, 12))
    settings = Settings(var_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", partnership_key="k", review_reminder_days=7)
    runtime = build(settings, engine=make_engine("sqlite://"), clock=clock)
    with runtime.uow() as uow:
        command = EntryOpen.model_validate(
            {"person": {"nhs_number": nhs_number(14)}, "category": "child_concern", "risk": "low"}
        )
        entry = commands.open_entry(uow, org=A, by="dsl", command=command, now=clock.now(), partnership_key=b"k")
        uow.commit()

    assert agents.flag_review_deadlines(runtime, 7).due == []
    clock.set(utc(2026, 2, 21, 12))  # seven days before the review falls due on 28 February
    assert agents.flag_review_deadlines(runtime, 7).due == [entry.id]
    assert [e["data"]["entry_id"] for e in outbox_events(runtime.engine, type=ReviewDue.event_type)] == [entry.id]
