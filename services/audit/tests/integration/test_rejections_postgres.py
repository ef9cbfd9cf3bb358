"""The rejections table on PostgreSQL: made by its migration (nothing left for the models to add),
one rejection per event, a replay marked, the disclosure guard not in the way."""

from __future__ import annotations

import json

import pytest
from isp_audit import guard, rejections
from isp_audit.tables import Rejection
from isp_common import migrations
from isp_common.db import UnitOfWork, make_engine
from sqlmodel import Session, select

from ..deadletter_kit import keep, letter, missed
from ..kit import START

pytestmark = [pytest.mark.integration]


def test_postgresql_keeps_one_rejection_per_event_and_marks_replays(postgres_url):
    engine = make_engine(postgres_url)
    migrations.upgrade(engine, "isp_audit")
    guard.protect(engine)
    assert migrations.pending_differences(engine, "isp_audit") == []
    value = missed().to_json_bytes()
    keep(engine, letter(value, consumer="isp-notifications"))
    rejections.keep_all(
        lambda: UnitOfWork(engine), [letter(value, consumer="isp-referrals"), letter(b"\x00\xff", position=(0, 2))]
    )
    with Session(engine) as session:
        first, second = session.exec(select(Rejection).order_by(Rejection.seq)).all()
        rejections.mark_replayed(session, first.id, "ops", START)
        session.commit()
        session.refresh(first)
        assert set(json.loads(first.rejected_by)) == {"isp-notifications", "isp-referrals"}
        assert first.replays == 1 and second.org == rejections.UNKNOWN_ORG and second.value == b"\x00\xff"
    engine.dispose()
