"""Database engines and the unit of work.

A unit of work is one database transaction. Handlers change state *and* write
outbox rows (events to publish) and inbox rows (events consumed) through the
same unit of work, so either all of it happens or none of it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from isp_schemas.envelope import CloudEvent
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, col, create_engine, select

from . import telemetry
from .tables import OutboxMessage, ProcessedEvent

_NEVER_WAIT: dict[str, Any] = {"pool_size": 10, "max_overflow": -1}
"""A checkout never waits for a free connection (connections beyond ten close on return).

A bounded pool deadlocks FastAPI under load: a sync route's body holds a request thread while it
waits for a connection, and the connections are held by finished requests whose responses wait
for a request thread to be validated, before their unit of work can close. Consumers, timers and
the relay take a connection each at most, so the count stays bounded by the request threads."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        memory = path in ("", ":memory:")
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,  # no personal data in errors and logs (a statement's values are people's)
            connect_args={"check_same_thread": False, "timeout": 30},
            # one shared connection, or every session would see its own empty in-memory database
            poolclass=StaticPool if memory else None,
            **({} if memory else _NEVER_WAIT),
        )

        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **_NEVER_WAIT)


def create_schema(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)


class UnitOfWork:
    """One transaction: state changes, outbox rows and inbox marks commit together."""

    def __init__(self, engine: Engine, on_commit: Callable[[], None] | None = None):
        self.engine = engine
        self._on_commit = on_commit
        self.session: Session
        self._published = 0

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self.engine, expire_on_commit=False)
        self._published = 0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
        if self._published and self._on_commit:
            self._on_commit()
        self._published = 0

    def rollback(self) -> None:
        self.session.rollback()

    # -- outbox -------------------------------------------------------------
    def publish(self, event: CloudEvent, topic: str, key: str | None = None) -> OutboxMessage:
        """Queue ``event`` for ``topic``; it leaves only if this transaction commits."""
        row = OutboxMessage(
            topic=topic,
            key=key if key is not None else event.subject,
            event_id=event.id,
            event_type=event.type,
            value=event.to_json_bytes(),
            traceparent=telemetry.current_traceparent(),
        )
        self.session.add(row)
        self._published += 1
        return row

    # -- inbox --------------------------------------------------------------
    def already_processed(self, consumer: str, event_id: str) -> bool:
        return self.session.get(ProcessedEvent, (consumer, event_id)) is not None

    def processed_among(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        """Which of ``event_ids`` this consumer has already processed: one query for a batch."""
        wanted = list(set(event_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):  # keep each IN list well inside SQLite's limit
            chunk = wanted[start : start + 500]
            stmt = select(ProcessedEvent.event_id).where(
                ProcessedEvent.consumer == consumer, col(ProcessedEvent.event_id).in_(chunk)
            )
            found.update(self.session.exec(stmt))
        return found

    def mark_processed(self, consumer: str, event_id: str, event_type: str = "") -> None:
        self.session.add(ProcessedEvent(consumer=consumer, event_id=event_id, event_type=event_type))


def pending_outbox(session: Session, limit: int | None = None) -> list[OutboxMessage]:
    """Unsent outbox rows, oldest first (at most ``limit``)."""
    stmt = select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)).order_by(col(OutboxMessage.id))
    return list(session.exec(stmt.limit(limit)))


__all__ = ["UnitOfWork", "make_engine", "create_schema", "pending_outbox"]
