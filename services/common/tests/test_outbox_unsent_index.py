"""Only outbox rows not yet published are looked up by event id (an alert taken back before it
leaves), so only they are in the event-id index: a row leaves it when it is published. Indexing
every row ever published put each insert at a random place in an index as large as the table."""

from __future__ import annotations

import pytest
from isp_common import migrations
from isp_common.db import UnitOfWork, create_schema, make_engine
from isp_common.tables import UNSENT_EVENT_ID_INDEX, OutboxMessage
from isp_common.testing import unique
from isp_common.times import utcnow
from isp_schemas.consent import ConsentWithdrawn
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import Person
from sqlalchemy import text
from sqlmodel import Session, col, select, update

NHS = "9434765919"


def publish(engine, n: int) -> list[str]:
    ids = []
    with UnitOfWork(engine) as uow:
        for i in range(n):
            data = ConsentWithdrawn(consent_id=f"con-{i}", person=Person(nhs_number=NHS), withdrawn_on="2026-11-02")
            event = CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id=unique(f"e{i}-"))
            uow.publish(event, "t")
            ids.append(event.id)
        uow.commit()
    return ids


def mark_sent(engine, event_ids: list[str]) -> None:
    with Session(engine) as session:
        session.exec(update(OutboxMessage).where(col(OutboxMessage.event_id).in_(event_ids)).values(sent_at=utcnow()))  # type: ignore[call-overload]
        session.commit()


def unsent_with_id(engine, event_id: str) -> list[OutboxMessage]:
    """The lookup notifications makes when a withdrawal takes an alert back before it leaves."""
    with Session(engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.event_id == event_id, col(OutboxMessage.sent_at).is_(None))
        return list(session.exec(query))


@pytest.fixture
def engine(sqlite_or_postgres_url):
    engine = make_engine(sqlite_or_postgres_url)
    create_schema(engine)
    return engine


def test_an_unsent_row_is_found_by_its_event_id_and_a_published_one_is_not(engine):
    ids = publish(engine, 6)
    mark_sent(engine, ids[:3])
    assert [row.event_id for row in unsent_with_id(engine, ids[4])] == [ids[4]]
    assert unsent_with_id(engine, ids[1]) == []


def test_the_sqlite_index_holds_only_unsent_rows_and_the_lookup_uses_it(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    create_schema(engine)
    ids = publish(engine, 50)
    mark_sent(engine, ids[:45])
    with engine.connect() as connection:
        indexed = connection.execute(  # entries in the index's leaf pages
            text("SELECT sum(ncell) FROM dbstat WHERE name = :name AND pagetype = 'leaf'"),
            {"name": UNSENT_EVENT_ID_INDEX},
        ).scalar()
        plan = connection.execute(
            text("EXPLAIN QUERY PLAN SELECT * FROM outbox_message WHERE event_id = :e AND sent_at IS NULL"),
            {"e": ids[47]},
        ).all()
        columns = connection.execute(
            text("SELECT count(*) FROM pragma_index_info(:name)"), {"name": UNSENT_EVENT_ID_INDEX}
        ).scalar()
    assert indexed == 5
    assert any(UNSENT_EVENT_ID_INDEX in str(step) for step in plan), plan
    assert columns == 1  # event_id alone


@pytest.mark.parametrize("service", ["referrals", "register", "notifications", "audit", "gateway"])
def test_each_services_migrations_make_the_partial_index(service, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/{service}.db")
    migrations.upgrade(engine, f"isp_{service}")
    with engine.connect() as connection:
        made = dict(
            connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox_message'")
            ).all()
        )
    assert "ix_outbox_message_event_id" not in made
    assert "WHERE sent_at IS NULL" in (made.get(UNSENT_EVENT_ID_INDEX) or "")


def test_the_downgrade_indexes_every_row_again(tmp_path):
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path}/notifications.db")
    migrations.upgrade(engine, "isp_notifications")
    command.downgrade(migrations.config("isp_notifications", engine), "-1")
    with engine.connect() as connection:
        made = dict(
            connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox_message'")
            ).all()
        )
    assert UNSENT_EVENT_ID_INDEX not in made
    assert "WHERE" not in made["ix_outbox_message_event_id"]


def test_on_postgresql_the_migrations_make_the_index_partial(postgres_url):
    """The model declares the partial index for SQLite only (a PostgreSQL option would load that
    dialect in every service); on PostgreSQL the migrations make it."""
    engine = make_engine(postgres_url)
    migrations.upgrade(engine, "isp_gateway")
    with engine.connect() as connection:
        definition = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": UNSENT_EVENT_ID_INDEX}
        ).scalar()
    engine.dispose()
    assert definition is not None and "WHERE (sent_at IS NULL)" in definition
