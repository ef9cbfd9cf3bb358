"""Opening, reviewing, updating and closing entries: history, events, no NHS number out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from isp_common.testing import nhs_number, outbox_events
from isp_register import commands, domain
from isp_register.models import EntryClose, EntryOpen, EntryReview, EntryUpdate
from isp_register.tables import RegisterEntryHistory
from isp_schemas.register import (
    RegisterEntryClosed,
    RegisterEntryOpened,
    RegisterEntryReviewed,
    RegisterEntryUpdated,
    person_key,
)
from isp_schemas.registry import parse_event
from pydantic import ValidationError
from sqlmodel import select

ORG = "CGL-WSX"
JAN_31 = datetime(2026, 1, 31, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("category", domain.CATEGORIES)
def test_each_category_opens_an_entry_due_for_review_a_month_on(open_entry, published, partnership_key, category):
    number = nhs_number(1)
    entry = open_entry(ORG, number, JAN_31, category=category, risk="medium")

    assert (entry.category, entry.status, entry.org) == (category, "open", ORG)
    assert entry.review_due == date(2026, 2, 28)
    [opened] = published(RegisterEntryOpened.event_type)
    _, data = parse_event(opened.to_json_bytes())
    assert data.category == category and data.entry_id == entry.id
    assert data.person_key == person_key(number, partnership_key) == opened.subject
    assert opened.source_org == ORG


def test_the_four_categories_are_the_protocols():
    assert set(domain.CATEGORIES) == {
        "child_concern",
        "vulnerable_adult",
        "risk_to_vulnerable_adults",
        "general_high_risk",
    }


def test_an_entry_holds_children_unborn_included_contacts_referrals_and_notes(open_entry):
    entry = open_entry(
        ORG,
        nhs_number(2),
        JAN_31,
        children=[{"local_id": "C-1", "date_of_birth": "2019-04-01"}, {"expected_due_date": "2026-06-01"}],
        agency_contacts=[{"agency": "Probation", "name": "A. Officer", "phone": "01234 567890"}],
        referral_ids=["ref-1"],
        notes="Partner has MAPPA history.",
    )
    assert entry.children[1] == {"expected_due_date": "2026-06-01"}
    assert entry.agency_contacts == [{"agency": "Probation", "name": "A. Officer", "phone": "01234 567890"}]
    assert entry.referral_ids == ["ref-1"]
    assert entry.notes == "Partner has MAPPA history."


def test_an_invalid_nhs_number_is_refused():
    with pytest.raises(ValidationError):
        EntryOpen(person={"nhs_number": "9434765918"}, category="child_concern", risk="high")


def test_the_same_person_cannot_be_opened_twice_in_one_category(uow, open_entry):
    open_entry(ORG, nhs_number(3), JAN_31)
    with pytest.raises(domain.RuleBroken, match="already open"):
        open_entry(ORG, nhs_number(3), JAN_31)
    uow.rollback()
    assert open_entry(ORG, nhs_number(3), JAN_31, category="vulnerable_adult").status == "open"


def test_a_review_moves_review_due_a_month_on_from_the_review(uow, open_entry, published):
    entry = open_entry(ORG, nhs_number(4), datetime(2026, 1, 10, 9, tzinfo=UTC))
    commands.review_entry(uow, entry, by="dsl", command=EntryReview(notes="Seen at home.", risk="low"), now=JAN_31)
    uow.commit()

    assert entry.last_reviewed_on == date(2026, 1, 31)
    assert entry.review_due == date(2026, 2, 28)
    assert entry.risk == "low"
    [reviewed] = published(RegisterEntryReviewed.event_type)
    assert reviewed.data["reviewed_on"] == "2026-01-31" and reviewed.data["review_due"] == "2026-02-28"


def test_a_backdated_review_counts_from_its_own_date(uow, open_entry):
    entry = open_entry(ORG, nhs_number(5), datetime(2026, 1, 2, 9, tzinfo=UTC))
    command = EntryReview(notes="Seen.", reviewed_on=date(2026, 1, 30))
    commands.review_entry(uow, entry, by="dsl", command=command, now=datetime(2026, 2, 2, 9, tzinfo=UTC))
    assert entry.review_due == date(2026, 2, 28)


def test_updates_record_which_fields_changed_but_events_carry_no_values(uow, open_entry, published):
    entry = open_entry(ORG, nhs_number(6), JAN_31)
    command = EntryUpdate(risk="low", agency_contacts=[{"agency": "Health visiting"}], family_name="Taylor")
    commands.update_entry(uow, entry, by="dsl", command=command, now=JAN_31)
    uow.commit()

    assert entry.risk == "low" and entry.person["family_name"] == "Taylor"
    [updated] = published(RegisterEntryUpdated.event_type)
    assert updated.data["changed"] == ["risk", "agency_contacts", "family_name"]
    assert b"Taylor" not in updated.to_json_bytes() and b"Health visiting" not in updated.to_json_bytes()


def test_an_update_that_changes_nothing_keeps_no_history(uow, open_entry, published):
    entry = open_entry(ORG, nhs_number(7), JAN_31, risk="high")
    commands.update_entry(uow, entry, by="dsl", command=EntryUpdate(risk="high"), now=JAN_31)
    assert entry.version == 1
    assert published(RegisterEntryUpdated.event_type) == []


def test_a_closed_entry_cannot_be_reviewed_or_updated(uow, open_entry, published):
    entry = open_entry(ORG, nhs_number(8), JAN_31)
    commands.close_entry(uow, entry, by="dsl", command=EntryClose(reason="Moved away"), now=JAN_31)
    uow.commit()

    [closed] = published(RegisterEntryClosed.event_type)
    assert closed.data["reason"] is None  # free text stays with the owning organisation
    with pytest.raises(domain.RuleBroken, match="closed"):
        commands.review_entry(uow, entry, by="dsl", command=EntryReview(notes="Seen."), now=JAN_31)
    with pytest.raises(domain.RuleBroken, match="closed"):
        commands.update_entry(uow, entry, by="dsl", command=EntryUpdate(risk="low"), now=JAN_31)


def test_the_full_history_keeps_who_when_and_the_entry_as_it_stood(uow, open_entry):
    entry = open_entry(ORG, nhs_number(9), datetime(2026, 1, 5, 9, tzinfo=UTC), risk="high")
    commands.review_entry(uow, entry, by="dsl-b", command=EntryReview(notes="Reviewed", risk="medium"), now=JAN_31)
    commands.update_entry(uow, entry, by="dsl-c", command=EntryUpdate(category="vulnerable_adult"), now=JAN_31)
    commands.close_entry(uow, entry, by="dsl-d", command=EntryClose(reason="Moved away"), now=JAN_31)
    uow.commit()

    rows = uow.session.exec(select(RegisterEntryHistory).order_by(RegisterEntryHistory.id)).all()
    assert [(r.version, r.action, r.by) for r in rows] == [
        (1, "opened", "dsl@cgl-wsx"),
        (2, "reviewed", "dsl-b"),
        (3, "updated", "dsl-c"),
        (4, "closed", "dsl-d"),
    ]
    assert [r.snapshot["risk"] for r in rows] == ["high", "medium", "medium", "medium"]
    assert rows[1].notes == "Reviewed" and rows[1].review_due == date(2026, 2, 28)
    assert rows[2].snapshot["category"] == "vulnerable_adult"


def test_no_register_event_carries_the_nhs_number(uow, open_entry):
    number = nhs_number(10)
    entry = open_entry(ORG, number, JAN_31, children=[{"nhs_number": nhs_number(11)}])
    commands.review_entry(uow, entry, by="dsl", command=EntryReview(notes="Seen."), now=JAN_31)
    commands.close_entry(uow, entry, by="dsl", command=EntryClose(reason="Moved away"), now=JAN_31)
    uow.commit()

    messages = [json.dumps(event) for event in outbox_events(uow.session)]
    assert len(messages) == 3
    for message in messages:
        assert number not in message and nhs_number(11) not in message


def test_an_entry_transcribed_from_an_earlier_opening_is_due_a_month_after_that_day(open_entry):
    entry = open_entry(ORG, nhs_number(12), datetime(2026, 2, 10, 9, tzinfo=UTC), opened_on=date(2026, 1, 31))
    assert (entry.opened_on, entry.review_due) == (date(2026, 1, 31), date(2026, 2, 28))
    with pytest.raises(domain.InvalidDate, match="future"):
        open_entry(ORG, nhs_number(13), datetime(2026, 2, 10, 9, tzinfo=UTC), opened_on=date(2026, 2, 11))
