"""``insert_rows`` writes what ``connection.execute(insert(table), rows)`` writes: each column's
value through its type's bind processor (times as UTC, JSON as text), on SQLite and PostgreSQL;
rows it cannot take the short way (columns that differ, a Python-side default left to fill) go
SQLAlchemy's own way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isp_common.db import create_schema, insert_rows, make_engine
from isp_common.tables import OutboxMessage, ProcessedEvent
from sqlalchemy import Table, insert, select

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
INBOX: Table = ProcessedEvent.__table__  # type: ignore[attr-defined]


@pytest.fixture
def engine(sqlite_or_postgres_url):
    engine = make_engine(sqlite_or_postgres_url)
    create_schema(engine)
    return engine


def outbox_row(i: int, created_at: datetime, traceparent: str | None = "00-ab-cd-01") -> dict[str, Any]:
    return {
        "topic": "isp.audit.v1",
        "key": f"943476591{i % 10}",
        "event_id": f"evt-{i}",
        "event_type": "uk.isp.audit.disclosure_recorded.v1",
        "value": b'{"id":"evt-%d"}' % i,
        "traceparent": traceparent,
        "created_at": created_at,
        "sent_at": None,
    }


def read_back(engine, table: Table, order: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(table).order_by(order))]


def both_ways(engine, table: Table, rows: list[dict[str, Any]], order: Any) -> tuple[list[Any], list[Any]]:
    """What ``insert_rows`` stored, and what SQLAlchemy's insert stored for the same rows (the
    tables emptied in between), as read back."""
    with engine.begin() as connection:
        connection.execute(table.delete())
        insert_rows(connection, table, rows)
    ours = read_back(engine, table, order)
    with engine.begin() as connection:
        connection.execute(table.delete())
        connection.execute(insert(table), rows)
    theirs = read_back(engine, table, order)
    return ours, theirs


def without_ids(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [row[1:] for row in rows]  # the outbox's id is the database's to assign, and goes on counting


def test_the_rows_stored_are_the_ones_sqlalchemy_stores(engine) -> None:
    at = datetime(2026, 12, 2, 9, 30, 1, 250, tzinfo=timezone(timedelta(hours=1)))
    rows = [outbox_row(i, at + timedelta(seconds=i), traceparent=None if i % 3 else "00-ab-cd-01") for i in range(7)]
    ours, theirs = both_ways(engine, OUTBOX, rows, OUTBOX.c.id)
    assert len(ours) == 7
    assert without_ids(ours) == without_ids(theirs)
    assert [row[1:4] for row in ours] == [(r["topic"], r["key"], r["event_id"]) for r in rows]  # in order


def test_a_single_row_and_no_rows(engine) -> None:
    with engine.begin() as connection:
        insert_rows(connection, INBOX, [])
        insert_rows(
            connection,
            INBOX,
            [{"consumer": "c", "event_id": "e1", "event_type": "t", "processed_at": datetime(2026, 1, 1, tzinfo=UTC)}],
        )
    assert read_back(engine, INBOX, INBOX.c.event_id) == [("c", "e1", "t", datetime(2026, 1, 1, tzinfo=UTC))]


def test_rows_whose_columns_differ_or_leave_a_default_out_go_sqlalchemys_way(engine) -> None:
    # the inbox's processed_at has a default SQLAlchemy computes; left out, it is still filled
    with engine.begin() as connection:
        insert_rows(connection, INBOX, [{"consumer": "c", "event_id": "e1", "event_type": "t"}])
    [(_, _, _, processed_at)] = read_back(engine, INBOX, INBOX.c.event_id)
    assert processed_at is not None
    # rows whose columns differ: stored as SQLAlchemy stores them
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    rows = [
        {"consumer": "c", "event_id": "e2", "event_type": "t", "processed_at": at},
        {"consumer": "c", "event_id": "e3", "processed_at": at, "event_type": "u"},
        {"consumer": "c", "event_id": "e4", "event_type": "v", "processed_at": at, "extra": 1},
    ]
    ours, theirs = both_ways(engine, INBOX, rows, INBOX.c.event_id)
    assert ours == theirs == [("c", "e2", "t", at), ("c", "e3", "u", at), ("c", "e4", "v", at)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    moments=st.lists(
        st.datetimes(
            min_value=datetime(1900, 1, 1),
            max_value=datetime(9000, 1, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]),
        ),
        min_size=1,
        max_size=5,
    ),
    key=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
)
def test_any_times_and_text_are_stored_alike(engine, moments: list[datetime], key: str) -> None:
    rows = [outbox_row(i, moment) | {"key": key or None} for i, moment in enumerate(moments)]
    ours, theirs = both_ways(engine, OUTBOX, rows, OUTBOX.c.id)
    assert without_ids(ours) == without_ids(theirs)
