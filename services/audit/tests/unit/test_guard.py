"""The append-only guard is the audit engine's own: another engine in the same process may
change its rows, while the audit engine still refuses updates and deletes of disclosure records."""

from __future__ import annotations

import pytest
from isp_audit import guard
from isp_audit.bootstrap import build
from isp_audit.retention import erase_before
from isp_audit.settings import Settings
from isp_audit.tables import DisclosureRecord
from isp_common.db import create_schema, make_engine
from isp_common.testing import FixedClock
from sqlmodel import Session, select

from ..kit import LATER, NOW, START, disclosure, record


@pytest.fixture
def audit_engine(tmp_path):
    runtime = build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=FixedClock(NOW))
    record(runtime.engine, disclosure(shared_at=START), NOW)
    return runtime.engine


@pytest.fixture
def other_engine():
    """A database of another component in the same process, with a table of the same shape."""
    engine = make_engine("sqlite://")
    create_schema(engine)
    record(engine, disclosure(shared_at=START), NOW)
    return engine


def test_the_audit_engine_refuses_to_update_or_delete_a_record(audit_engine):
    with Session(audit_engine) as session:
        found = session.get(DisclosureRecord, 1)
        assert found is not None
        found.purpose = "changed"
        with pytest.raises(guard.AppendOnlyViolation):
            session.flush()
    with Session(audit_engine) as session:
        session.delete(session.get(DisclosureRecord, 1))
        with pytest.raises(guard.AppendOnlyViolation):
            session.flush()


def test_a_session_of_another_engine_in_the_same_process_is_left_alone(audit_engine, other_engine):
    with Session(other_engine) as session:
        found = session.get(DisclosureRecord, 1)
        assert found is not None
        found.purpose = "changed"
        session.commit()
        assert session.exec(select(DisclosureRecord.purpose)).one() == "changed"
        session.delete(found)
        session.commit()
        assert session.exec(select(DisclosureRecord)).all() == []
    with Session(audit_engine) as session, pytest.raises(guard.AppendOnlyViolation):
        session.delete(session.get(DisclosureRecord, 1))
        session.flush()


def test_the_audit_engine_still_lets_the_erasure_through(audit_engine):
    with Session(audit_engine) as session:
        erasure = erase_before(session, NOW, by="retention-policy", now=LATER)
        session.commit()
        assert erasure is not None and erasure.records == 1
        assert session.exec(select(DisclosureRecord.person)).one() is None
