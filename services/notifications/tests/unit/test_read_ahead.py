"""What a batch reads ahead for the facts its events record (:func:`isp_notifications.facts.prefetch_own`)
and for the withheld shares those facts may change (:func:`isp_notifications.redecision.prefetch`):
a batch of consents asks the database a few times, not three times per consent, and every decision
is the one made without it (the property in ``test_event_order`` holds the same for any history cut
into batches anywhere)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.testing import nhs_number
from isp_notifications.handlers import read_ahead
from isp_notifications.tables import ConsentRecord, FactPerson, WithheldShare
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent, EventData
from isp_schemas.people import Person
from isp_schemas.socialcare import EnquiryOpened
from sqlalchemy import event
from sqlmodel import select

from ..kit import CSC, PROVIDER, consent_given
from .test_handlers import DNA, NOW, PARENT, alerts_to, audit, handle, missed, referral, routes


def handle_batch(uow: UnitOfWork, items: list[EventData], now: datetime = NOW, source: str = PROVIDER) -> int:
    """Handle ``items`` (each from ``source``, at ``now``) in one unit of work, read ahead first,
    committed once, as a consumer's batch is; returns how many SELECTs the batch ran."""
    route = routes(now)
    events = [(CloudEvent.create(type=data.event_type, source_org=source, data=data, time=now), data) for data in items]
    selects: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    engine = uow.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        read_ahead(uow, events)
        for cloud_event, data in events:
            route[cloud_event.type](uow, cloud_event, data)
        uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(selects)


def consents(count: int, first: int = 100) -> list[EventData]:
    return [
        consent_given(Person(nhs_number=nhs_number(first + i)), ["attendance"], [CSC], f"con-{first + i}")
        for i in range(count)
    ]


def test_a_batch_of_consents_asks_the_database_as_often_whatever_its_size():
    from isp_common.testing import migrated_unit_of_work

    asked = []
    for size in (10, 60):
        for uow in migrated_unit_of_work("isp_notifications"):
            asked.append(handle_batch(uow, consents(size)))
            assert len(uow.session.exec(ConsentRecord.__table__.select()).all()) == size
    # before the read-ahead, each consent asked for its row, the changes kept for it and the open
    # withheld shares about its person: 3 SELECTs a consent, 180 for the larger batch
    assert asked[0] == asked[1] < 15, asked


def test_a_consent_in_a_batch_releases_the_share_withheld_before_it(uow):
    handle(uow, missed(), PROVIDER)
    assert alerts_to(uow, CSC, DNA) == []
    later = NOW + timedelta(minutes=5)
    handle_batch(uow, [*consents(5), consent_given(PARENT, ["attendance"], [CSC], "con-1"), *consents(5, 200)], later)
    [alert] = alerts_to(uow, CSC, DNA)
    assert alert["data"]["lawful_basis"] == {"kind": "consent", "consent_id": "con-1"}
    assert uow.session.get(WithheldShare, alert["id"]).state == "released"


def test_a_share_withheld_earlier_in_the_batch_is_released_by_a_consent_later_in_it(uow):
    handle_batch(uow, [*consents(3), missed(), consent_given(PARENT, ["attendance"], [CSC], "con-1")])
    [alert] = alerts_to(uow, CSC, DNA)
    assert [r["decision"] for r in audit(uow) if r["alert_id"] == alert["id"]] == ["withheld", "shared"]


def test_a_share_past_its_deadline_is_not_decided_again_by_a_consent_in_a_batch(uow):
    handle(uow, missed(), PROVIDER)  # the appointment was at 09:00: the DNA's deadline is 09:00 tomorrow
    [share] = uow.session.exec(WithheldShare.__table__.select()).all()
    after = share.open_until + timedelta(minutes=1)
    handle_batch(uow, [consent_given(PARENT, ["attendance"], [CSC], "con-1")], after.replace(tzinfo=NOW.tzinfo))
    assert alerts_to(uow, CSC, DNA) == []


def test_a_withdrawal_before_its_consent_in_one_batch_is_applied_when_the_consent_comes(uow):
    withdrawal = ConsentWithdrawn(consent_id="con-1", person=PARENT, withdrawn_on=NOW.date())
    handle_batch(uow, [*consents(3), withdrawal, consent_given(PARENT, ["attendance"], [CSC], "con-1")])
    row = uow.session.get(ConsentRecord, "con-1")
    assert row is not None and row.withdrawn_at is not None
    handle(uow, missed(), PROVIDER, NOW + timedelta(minutes=1))
    assert alerts_to(uow, CSC, DNA) == []


def referrals(count: int, first: int = 100, child: str | None = None) -> list[EventData]:
    return [
        referral(
            referral_id=f"ref-{first + i}",
            person=Person(nhs_number=nhs_number(first + i)),
            children=[{"local_id": child or f"C-{first + i}"}],
        )
        for i in range(count)
    ]


def selects_by_table(uow: UnitOfWork, items: list[EventData], source: str = CSC) -> Counter[str]:
    tables: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and (table := re.search(r"\bFROM (\w+)", statement)):
            tables[table.group(1)] += 1

    engine = uow.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        handle_batch(uow, items, source=source)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return tables


def test_a_batch_of_referrals_reads_ahead_what_each_would_ask_for_alone(uow):
    # no consent: each referral_received is withheld, and its sender told (the notice's own alert)
    asked = selects_by_table(uow, referrals(30))
    assert len(alerts_to(uow, CSC)) == 30  # the notices: every share was decided
    # read ahead once for the batch: whether each share, its notice and its causing event were
    # decided or kept before, and the changes kept for each referral (before: one each per event)
    for table in ("notifications_alert", "notifications_source_event", "notifications_pending_fact"):
        assert asked[table] <= 2, (table, asked)
    # a referral's links to the people it names are read ahead too (before: 4 per referral, two of
    # them merges of its links); the facts each decision then reads are read again, once the
    # referral itself has changed them
    assert asked["notifications_fact_person"] <= 2 * 30 + 2, asked
    # a referral's own withheld share is not decided a second time when the fact it brought looks
    # for open shares about its person (before: three questions of withheld shares per referral)
    assert asked["notifications_withheld_share"] <= 30 + 2, asked


def test_a_referral_sent_again_in_a_later_batch_keeps_one_link_to_each_person(uow):
    handle_batch(uow, referrals(3), source=CSC)
    handle_batch(uow, [*referrals(3), *referrals(2, first=300, child="C-100")], source=CSC)
    links = uow.session.exec(select(FactPerson).where(FactPerson.kind == "referral")).all()
    assert sorted((link.fact_id, link.key, link.role) for link in links) == sorted(
        [(f"ref-{n}", "local:C-" + str(n), "child") for n in (100, 101, 102)]
        + [(f"ref-{n}", f"nhs:{nhs_number(n)}", "parent") for n in (100, 101, 102, 300, 301)]
        + [(f"ref-{n}", "local:C-100", "child") for n in (300, 301)]
    )


def test_an_enquiry_in_a_batch_releases_the_dna_withheld_about_its_parent_asking_once(uow):
    handle(uow, missed(), PROVIDER)
    assert alerts_to(uow, CSC, DNA) == []
    enquiries = [
        EnquiryOpened(
            enquiry_id=f"s47-{n}",
            child={"local_id": f"C-{n}"},
            parents=[Person(nhs_number=nhs_number(n))],
            opened_on=date(2026, 3, 1),
        )
        for n in range(10, 20)
    ] + [EnquiryOpened(enquiry_id="s47-5", child={"local_id": "C-5"}, parents=[PARENT], opened_on=date(2026, 3, 1))]
    asked = selects_by_table(uow, enquiries)
    [alert] = alerts_to(uow, CSC, DNA)
    assert alert["data"]["lawful_basis"] == {"kind": "statutory", "ground": "child_protection_enquiry"}
    # the parents' open withheld shares were read ahead for the batch: asked again only once the
    # DNA's share had been decided again, no longer once per enquiry (before: 11)
    assert asked["notifications_withheld_share"] <= 3, asked
