"""Opening, reviewing, updating and closing entries: history, events, no NHS number out."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from isp_register import domain, handlers
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
def test_each_category_opens_an_entry_due_for_review_a_month_on(reg, category):
    number = reg.nhs(1)
    entry = reg.open(ORG, number, JAN_31, category=category, risk="medium")

    assert (entry.category, entry.status, entry.org) == (category, "open", ORG)
    assert entry.review_due == date(2026, 2, 28)
    [opened] = reg.published(RegisterEntryOpened.event_type)
    _, data = parse_event(opened.to_json_bytes())
    assert data.category == category and data.entry_id == entry.id
    assert data.person_key == person_key(number, reg.key) == opened.subject
    assert opened.source_org == ORG


def test_the_four_categories_are_the_protocols():
    assert set(domain.CATEGORIES) == {
        "child_concern",
        "vulnerable_adult",
        "risk_to_vulnerable_adults",
        "general_high_risk",
    }


def test_an_entry_holds_children_unborn_included_contacts_referrals_and_notes(reg):
    entry = reg.open(
        ORG,
        reg.nhs(2),
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


def test_the_same_person_cannot_be_opened_twice_in_one_category(reg):
    reg.open(ORG, reg.nhs(3), JAN_31)
    with pytest.raises(domain.RuleBroken, match="already open"):
        reg.open(ORG, reg.nhs(3), JAN_31)
    reg.uow.rollback()
    assert reg.open(ORG, reg.nhs(3), JAN_31, category="vulnerable_adult").status == "open"


def test_a_review_moves_review_due_a_month_on_from_the_review(reg):
    entry = reg.open(ORG, reg.nhs(4), datetime(2026, 1, 10, 9, tzinfo=UTC))
    handlers.review_entry(reg.uow, entry, by="dsl", command=EntryReview(notes="Seen at home.", risk="low"), now=JAN_31)
    reg.uow.commit()

    assert entry.last_reviewed_on == date(2026, 1, 31)
    assert entry.review_due == date(2026, 2, 28)
    assert entry.risk == "low"
    [reviewed] = reg.published(RegisterEntryReviewed.event_type)
    assert reviewed.data["reviewed_on"] == "2026-01-31" and reviewed.data["review_due"] == "2026-02-28"


def test_a_backdated_review_counts_from_its_own_date(reg):
    entry = reg.open(ORG, reg.nhs(5), datetime(2026, 1, 2, 9, tzinfo=UTC))
    command = EntryReview(reviewed_on=date(2026, 1, 30))
    handlers.review_entry(reg.uow, entry, by="dsl", command=command, now=datetime(2026, 2, 2, 9, tzinfo=UTC))
    assert entry.review_due == date(2026, 2, 28)


def test_updates_record_which_fields_changed_but_events_carry_no_values(reg):
    entry = reg.open(ORG, reg.nhs(6), JAN_31)
    command = EntryUpdate(risk="low", agency_contacts=[{"agency": "Health visiting"}], family_name="Taylor")
    handlers.update_entry(reg.uow, entry, by="dsl", command=command, now=JAN_31)
    reg.uow.commit()

    assert entry.risk == "low" and entry.person["family_name"] == "Taylor"
    [updated] = reg.published(RegisterEntryUpdated.event_type)
    assert updated.data["changed"] == ["risk", "agency_contacts", "family_name"]
    assert b"Taylor" not in updated.to_json_bytes() and b"Health visiting" not in updated.to_json_bytes()


def test_an_update_that_changes_nothing_keeps_no_history(reg):
    entry = reg.open(ORG, reg.nhs(7), JAN_31, risk="high")
    handlers.update_entry(reg.uow, entry, by="dsl", command=EntryUpdate(risk="high"), now=JAN_31)
    assert entry.version == 1
    assert reg.published(RegisterEntryUpdated.event_type) == []


def test_a_closed_entry_cannot_be_reviewed_or_updated(reg):
    entry = reg.open(ORG, reg.nhs(8), JAN_31)
    handlers.close_entry(reg.uow, entry, by="dsl", command=EntryClose(reason="Moved away"), now=JAN_31)
    reg.uow.commit()

    [closed] = reg.published(RegisterEntryClosed.event_type)
    assert closed.data["reason"] is None  # free text stays with the owning organisation
    with pytest.raises(domain.RuleBroken, match="closed"):
        handlers.review_entry(reg.uow, entry, by="dsl", command=EntryReview(), now=JAN_31)
    with pytest.raises(domain.RuleBroken, match="closed"):
        handlers.update_entry(reg.uow, entry, by="dsl", command=EntryUpdate(risk="low"), now=JAN_31)


def test_the_full_history_keeps_who_when_and_the_entry_as_it_stood(reg):
    entry = reg.open(ORG, reg.nhs(9), datetime(2026, 1, 5, 9, tzinfo=UTC), risk="high")
    handlers.review_entry(reg.uow, entry, by="dsl-b", command=EntryReview(notes="Reviewed", risk="medium"), now=JAN_31)
    handlers.update_entry(reg.uow, entry, by="dsl-c", command=EntryUpdate(category="vulnerable_adult"), now=JAN_31)
    handlers.close_entry(reg.uow, entry, by="dsl-d", command=EntryClose(), now=JAN_31)
    reg.uow.commit()

    rows = reg.uow.session.exec(select(RegisterEntryHistory).order_by(RegisterEntryHistory.id)).all()
    assert [(r.version, r.action, r.by) for r in rows] == [
        (1, "opened", "dsl@cgl-wsx"),
        (2, "reviewed", "dsl-b"),
        (3, "updated", "dsl-c"),
        (4, "closed", "dsl-d"),
    ]
    assert [r.snapshot["risk"] for r in rows] == ["high", "medium", "medium", "medium"]
    assert rows[1].notes == "Reviewed" and rows[1].review_due == date(2026, 2, 28)
    assert rows[2].snapshot["category"] == "vulnerable_adult"


def test_no_register_event_carries_the_nhs_number(reg):
    number = reg.nhs(10)
    entry = reg.open(ORG, number, JAN_31, children=[{"nhs_number": reg.nhs(11)}])
    handlers.review_entry(reg.uow, entry, by="dsl", command=EntryReview(), now=JAN_31)
    handlers.close_entry(reg.uow, entry, by="dsl", command=EntryClose(), now=JAN_31)
    reg.uow.commit()

    messages = reg.outbox_bytes()
    assert len(messages) == 3
    for message in messages:
        assert number.encode() not in message and reg.nhs(11).encode() not in message


def test_an_entry_transcribed_from_an_earlier_opening_is_due_a_month_after_that_day(reg):
    entry = reg.open(ORG, reg.nhs(12), datetime(2026, 2, 10, 9, tzinfo=UTC), opened_on=date(2026, 1, 31))
    assert (entry.opened_on, entry.review_due) == (date(2026, 1, 31), date(2026, 2, 28))
    with pytest.raises(domain.InvalidDate, match="future"):
        reg.open(ORG, reg.nhs(13), datetime(2026, 2, 10, 9, tzinfo=UTC), opened_on=date(2026, 2, 11))
