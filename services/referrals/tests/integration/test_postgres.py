"""The referrals service on PostgreSQL: the response-deadline and unrecorded-assessment checks (row
locks taken on a join), the decisions kept from ``isp.audit.v1`` and the receiver's list; and the
issue-10 migration down and up again on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from isp_common import migrations
from isp_common.db import UnitOfWork
from isp_common.testing import migrated_engine, migrated_unit_of_work, published_events
from isp_common.workingdays import WorkingCalendar
from isp_referrals import commands
from isp_referrals.commands import Actor
from isp_referrals.deadlines import raise_attendance_unrecorded, raise_overdue
from isp_referrals.domain import DueRules
from isp_referrals.views import referrals_of
from sqlalchemy import inspect

from ..kit import book, record_decision

pytestmark = [pytest.mark.integration]

MADE = datetime(2026, 11, 16, 10, tzinfo=UTC)  # a Monday
CSC, PROVIDER = "WSCC-CSC", "CGL-WSX"
RULES = DueRules(WorkingCalendar())


@pytest.fixture
def pg(postgres_url: str) -> Iterator[UnitOfWork]:
    yield from migrated_unit_of_work("isp_referrals", postgres_url)


def test_the_timer_raises_a_missed_answer_and_an_unrecorded_assessment_once_on_postgresql(pg, request_data):
    referral = commands.make_referral(pg, request_data(), Actor("sw-1", CSC), MADE, RULES)
    pg.commit()
    record_decision(pg, referral, MADE)
    book(pg, referral.id, MADE + timedelta(days=1))
    later = MADE + timedelta(days=3)
    assert (raise_overdue(pg, later, RULES), raise_attendance_unrecorded(pg, later)) == (1, 1)
    pg.commit()
    assert (raise_overdue(pg, later, RULES), raise_attendance_unrecorded(pg, later)) == (0, 0)
    [overdue] = published_events(pg.session, "uk.isp.referral.overdue.v1")
    assert overdue.data["due"] == "response" and overdue.data["escalate_to"] is None
    assert referrals_of(pg.session, PROVIDER, role="received") == [referral]


def test_the_issue_10_migration_goes_down_and_up_again(sqlite_or_postgres_url):
    engine = migrated_engine("isp_referrals", sqlite_or_postgres_url)
    command.downgrade(migrations.config("isp_referrals", engine), "d1a0c7e5f101")
    assert "referrals_share" not in inspect(engine).get_table_names()
    migrations.upgrade(engine, "isp_referrals")
    assert "referrals_share" in inspect(engine).get_table_names()
    assert migrations.pending_differences(engine, "isp_referrals") == []
    engine.dispose()
