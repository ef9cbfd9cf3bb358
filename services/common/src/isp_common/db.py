"""Database engines and the unit of work.

A unit of work is one database transaction. Handlers change state *and* write
outbox rows (events to publish) and inbox rows (events consumed) through the
same unit of work, so either all of it happens or none of it does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
from isp_schemas.envelope import CloudEvent, compact_json
from sqlalchemy import Column, Table, bindparam, insert, text
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import ORMExecuteState
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


SQLITE_PAGE_CACHE_KIB = 512
"""Each pooled SQLite connection's page cache, in KiB (SQLite's default is 2,000). The pages of a
local file are in the operating system's page cache anyway; ten pooled connections with the default
each kept up to 2 MB of them in the service's own memory (docs/operations.md, "Memory"). At 128 KiB
(32 pages) the indexes' upper pages did not stay cached, and each insert and lookup read them again:
notifications' decisions, in process with 7,000 people held, batches of 250 taken in turn on two
databases, cost 8.3-10.9 % less CPU at 512 KiB than at 128 KiB, whichever database was made first
(the same cache on both differed by 4-9 %: docs/perf/throughput-notes.md, ninth session)."""

SQLITE_STATEMENT_CACHE = 8
"""Prepared statements each SQLite connection keeps (the sqlite3 module's default is 128). The
read-aheads' ``IN`` lists of every length up to :data:`IN_LIST_SIZE` are each a statement of their
own, and a prepared statement with hundreds of parameters is tens of KB of SQLite's memory."""


def _json_text(value: Any) -> str:
    """A JSON column's text, encoded as events are (:func:`isp_schemas.envelope.compact_json`, a
    fifth of ``json.dumps``' time: every outbox row and kept event has JSON columns)."""
    return compact_json(value).decode()


_json_value = orjson.loads
"""A JSON column's value, read by orjson (what :func:`_json_text` wrote; the standard library's
``json.loads`` took three times as long, 2-3 % of the notifications service's time flat out)."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        memory = path in ("", ":memory:")
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,  # no personal data in errors and logs (a statement's values are people's)
            json_serializer=_json_text,
            json_deserializer=_json_value,
            connect_args={"check_same_thread": False, "timeout": 30, "cached_statements": SQLITE_STATEMENT_CACHE},
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
            if not memory:  # an in-memory database lives in its page cache
                cur.execute(f"PRAGMA cache_size=-{SQLITE_PAGE_CACHE_KIB}")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(
        url,
        pool_pre_ping=True,
        hide_parameters=True,
        json_serializer=_json_text,
        json_deserializer=_json_value,
        **_NEVER_WAIT,
    )


def create_schema(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)


_T = TypeVar("_T")

IN_LIST_SIZE = 400
"""Values per ``IN (...)`` list: well inside SQLite's limit on bound parameters (999 in old builds)."""


def chunks(values: Sequence[_T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[_T]]:
    """``values`` in slices short enough for one ``IN`` list each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class UowSession(Session):
    """A session that can hold rows nothing reads back as objects (outbox rows, inbox marks, a
    history's lines) as plain rows, written with one multi-row ``INSERT`` per table at the commit
    (:meth:`insert_later`), instead of ORM objects built and flushed one by one: a fifth of a
    consumer's time per event. A query of such a table through this session (``select``,
    ``session.get``), or one whose tables are not known (text), writes them first, so nothing
    reads around them. It also keeps reads for reuse within the transaction (:meth:`memo`,
    :meth:`known_absent`)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._pending: dict[type, list[dict[str, Any]]] = {}
        self._kept: list[object] = []
        self._memos: dict[tuple[type, ...], dict[Any, Any]] = {}
        self._absent: set[tuple[type, Any]] = set()
        self._added: set[tuple[type, Any]] = set()
        self._new_classes: set[type] = set()
        """The classes of the objects added since the last flush (what ``self.new`` holds, without
        walking it: a batch adds many)."""
        self._epoch = 0
        """Counts what may change a table without dirtying an object already loaded: an object
        added, rows held to insert, a flush, reads forgotten, an object expired or let go."""
        self._clean: dict[tuple[type, ...], tuple[int, int, int]] = {}
        """For each memo, the state (epoch, dirty objects, deleted objects) in which the session was
        last found to hold no change to its tables: in that state it is not looked for again."""

    def known_absent(self, model: type, keys: Iterable[Any]) -> None:
        """Note that this transaction looked for rows of ``model`` with these primary keys (one
        query for a batch) and found none: :meth:`get_known` answers None for them without asking."""
        pending = {_key_of(obj) for obj in self.new}
        self._absent.update((model, key) for key in keys if (model, key) not in pending)

    def get_known(self, model: type[_T], key: Any) -> _T | None:
        """``session.get(model, key)``, without the query (or the flush before it) for a row
        :meth:`known_absent` noted, unless this session has added one with that key since (then
        it asks, and finds it)."""
        if (model, key) in self._absent and (model, key) not in self._added:
            return None
        # a row the identity map holds, loaded and current (a read-ahead put it there), is what
        # ``get`` answers, without its checks of options, loaders and the key: a quarter of its time
        held = self.identity_map.get((model, key if isinstance(key, tuple) else (key,), None))
        if isinstance(held, model) and not sa_inspect(held).expired:
            return held
        return self.get(model, key)

    def memo(self, watched: tuple[type, ...]) -> dict[Any, Any]:
        """Reads of the ``watched`` tables a caller keeps for reuse within this transaction (a
        consumer reads a batch's facts once). It is emptied whenever this session has changed, or
        holds an unflushed change to, a row of one of them, and whenever it runs an ``UPDATE``,
        ``DELETE`` or ``INSERT`` statement (or holds rows for one to :meth:`insert_later`), so what
        it gives back is what a query would give."""
        memo = self._memos.setdefault(watched, {})
        if not memo:
            return memo
        # a consumer asks several times per event: the session's changes are looked through only
        # when they may have changed since they were last found not to touch these tables (a
        # loaded object dirtied grows the identity map's set of modified states)
        state = (self._epoch, len(self.identity_map._modified), len(self._deleted))
        if self._clean.get(watched) == state:
            return memo
        if any(issubclass(cls, watched) for cls in (*self._new_classes, *self._pending)) or _touches(
            watched, self.dirty, self._deleted.values()
        ):
            memo.clear()
        else:
            self._clean[watched] = state
        return memo

    def _changed(self) -> None:
        self._epoch += 1

    def begin_nested(self) -> Any:
        # rows held before a savepoint belong to the transaction around it: written first, or the
        # first query inside would write them and rolling the savepoint back would lose them
        self.write_pending()
        return super().begin_nested()

    def expire(self, instance: object, attribute_names: Iterable[str] | None = None) -> None:
        self._changed()
        super().expire(instance, attribute_names)

    def expire_all(self) -> None:
        self._changed()
        super().expire_all()

    def refresh(self, instance: object, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().refresh(instance, *args, **kwargs)

    def expunge(self, instance: object) -> None:
        self._changed()
        super().expunge(instance)

    def expunge_all(self) -> None:
        self._changed()
        super().expunge_all()

    def forget_reads(self, touched: Iterable[object] | None = None) -> None:
        """Empty the memos (of the tables ``touched`` rows belong to; None: all of them, and what
        :meth:`known_absent` noted)."""
        self._changed()
        if touched is None:
            self._absent.clear()
        for watched, memo in self._memos.items():
            if touched is None or _touches(watched, touched):
                memo.clear()

    def load(self, model: type[_T], keys: Iterable[Any]) -> list[_T]:
        """Read the rows of ``model`` (a single-column primary key) with these keys, in a few
        queries: the ones found are kept (:meth:`keep`, so ``session.get`` finds them without
        asking) and returned, the others noted absent (:meth:`known_absent`)."""
        column, statement = _by_keys(cast(type, model))
        wanted = sorted(set(keys))
        found: list[_T] = []
        for chunk in chunks(wanted):
            found.extend(self.exec(statement, params={"keys": chunk}).all())
        self.keep(found)
        held = {getattr(row, column.key) for row in found}
        self.known_absent(model, [key for key in wanted if key not in held])
        return found

    def keep(self, objects: Iterable[object]) -> None:
        """Hold these loaded objects until the transaction ends: a session holds unchanged objects
        weakly, so what a read-ahead loaded could be let go, and ``session.get`` would ask again."""
        self._kept.extend(objects)

    def insert_later(self, model: type, row: dict[str, Any]) -> None:
        """Insert ``row`` into ``model``'s table at the commit, or before this session next
        queries that table; forgotten if the transaction rolls back. Fields it leaves out get the
        model's defaults, as a new object would. A key :meth:`known_absent` noted is asked for
        again from then on (and found)."""
        row = _with_defaults(model, row)
        # what the memos of this table hold is not all there is now (and they are not asked to
        # look through the session's changes again, as a general change would have them do)
        for watched, memo in self._memos.items():
            if memo and issubclass(model, watched):
                memo.clear()
        self._pending.setdefault(model, []).append(row)
        if self._absent:  # (a key the database assigns is never one noted absent)
            key = tuple(row.get(name) for name in _primary_key_names(model))
            if None not in key:
                self._added.add((model, key[0] if len(key) == 1 else key))

    def pending(self, model: type) -> list[dict[str, Any]]:
        """The rows of ``model`` :meth:`insert_later` holds, not yet written."""
        return list(self._pending.get(model, ()))

    def write_pending(self, models: Iterable[type] | None = None) -> None:
        """Write the rows held for ``models`` (None: for every table), oldest first."""
        chosen = list(self._pending) if models is None else [m for m in models if m in self._pending]
        for model in chosen:
            rows = self._pending.pop(model)
            insert_rows(self.connection(), model.__table__, rows)  # type: ignore[attr-defined]
            for watched, memo in self._memos.items():  # what was read of the table before is not all
                if issubclass(model, watched):
                    memo.clear()

    def transaction_over(self) -> None:
        """Forget what the transaction held: rows not written (it rolled back; after a commit there
        are none), its reads and what it kept. The next transaction reads afresh."""
        self._pending = {}
        self.forget_reads()
        self._kept = []

    def rollback(self) -> None:
        # also when nothing reached the database yet (no DBAPI rollback, so no after_rollback event)
        super().rollback()
        self.transaction_over()


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """``connection.execute(insert(table), rows)``, the same statement and the same values reaching
    the driver's ``executemany``, with the statement and each column's bind processor found once per
    table and set of columns: SQLAlchemy otherwise builds every row's parameters through its
    compiler (2-5 % of a decision's CPU in the notifications service, measured in process). Rows
    whose columns differ, or that leave out a column with a default SQLAlchemy computes, take
    SQLAlchemy's own path."""
    if not rows:
        return
    keys = tuple(rows[0])
    plan = _insert_plan(table, keys, connection.dialect)
    if plan is None or any(len(row) != len(keys) or row.keys() != rows[0].keys() for row in rows):
        connection.execute(insert(table), rows)
        return
    statement, columns, positional = plan
    if positional:
        values: list[Any] = [
            tuple([row[name] if process is None else process(row[name]) for name, process in columns]) for row in rows
        ]
    else:
        values = [
            {name: row[name] if process is None else process(row[name]) for name, process in columns} for row in rows
        ]
    connection.exec_driver_sql(statement, values)


@functools.lru_cache(maxsize=256)
def _insert_plan(
    table: Table, keys: tuple[str, ...], dialect: Dialect
) -> tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...], bool] | None:
    """The ``INSERT`` of ``keys`` into ``table`` as ``dialect`` writes it, its parameters in the
    order it takes them, each with its column's bind processor; None when SQLAlchemy would add a
    value of its own (a column left out that has a Python-side default) or when the driver does
    not take one row after another (``insertmanyvalues``)."""
    if dialect.use_insertmanyvalues_wo_returning:
        return None
    by_key = {column.key: column for column in table.columns}
    if set(keys) - by_key.keys():
        return None
    if any(column.default is not None for key, column in by_key.items() if key not in keys):
        return None
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    order = list(compiled.positiontup or ()) if compiled.positional else list(keys)
    if sorted(order) != sorted(keys):
        return None
    processors = {key: by_key[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys}
    return compiled.string, tuple((name, processors[name]) for name in order), bool(compiled.positional)


@functools.cache
def _primary_key_names(model: type) -> tuple[str, ...]:
    """The names of ``model``'s primary key columns, found once."""
    columns: Sequence[Column[Any]] = sa_inspect(model).primary_key
    return tuple(column.name for column in columns)


@functools.cache
def _by_keys(model: type) -> tuple[Column[Any], Any]:
    """``model``'s single-column primary key, and the statement that reads its rows by a list of
    keys (an expanding ``IN`` parameter), built once: SQLAlchemy then skips building the statement
    and its cache key for every read-ahead."""
    column: Column[Any]
    [column] = sa_inspect(model).primary_key
    return column, select(model).where(column.in_(bindparam("keys", expanding=True)))


def _with_defaults(model: type, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with the values a new ``model`` object's fields left out would get (factories called
    now, only for the fields left out)."""
    full = dict(row)
    for name, default, factory in _field_defaults(model):
        if name not in full:
            full[name] = factory() if factory is not None else default
    return full


@functools.cache
def _field_defaults(model: type) -> tuple[tuple[str, Any, Callable[[], Any] | None], ...]:
    """(name, default, factory) of each of ``model``'s fields that has a default; a primary key is
    the database's to assign when left out, so it is not listed."""
    fields: dict[str, Any] = model.model_fields  # type: ignore[attr-defined]
    primary_key: Sequence[Column[Any]] = sa_inspect(model).primary_key
    keys = {column.name for column in primary_key}
    return tuple(
        (name, field.default, field.default_factory)
        for name, field in fields.items()
        if not field.is_required() and name not in keys
    )


def _touches(watched: tuple[type, ...], *groups: Iterable[object]) -> bool:
    return any(isinstance(obj, watched) for group in groups for obj in group)


@sa_event.listens_for(UowSession, "do_orm_execute")
def _write_before_query(state: ORMExecuteState) -> None:
    session = state.session
    assert isinstance(session, UowSession)
    if not state.is_select:
        session.forget_reads()  # an UPDATE, DELETE or INSERT may change anything a memo holds
    if not session._pending:
        return
    mappers = state.all_mappers
    if not mappers:
        session.write_pending()  # text: its tables are not known
    else:
        session.write_pending({m.class_ for m in mappers})


@sa_event.listens_for(UowSession, "transient_to_pending")
def _note_added(session: Session, obj: object) -> None:
    assert isinstance(session, UowSession)
    session._new_classes.add(type(obj))
    session._changed()
    if session._absent:
        session._added.add(_key_of(obj))


def _key_of(obj: object) -> tuple[type, Any]:
    """(class, primary key) of a mapped object, the key as ``session.get`` takes it."""
    mapper = sa_inspect(obj).mapper
    key = mapper.primary_key_from_instance(obj)
    return mapper.class_, key[0] if len(key) == 1 else tuple(key)


@sa_event.listens_for(UowSession, "after_flush")
def _forget_flushed_reads(session: Session, _context: Any) -> None:
    assert isinstance(session, UowSession)
    if session._memos:
        session.forget_reads([*session.new, *session.dirty, *session.deleted])


@sa_event.listens_for(UowSession, "after_flush_postexec")
def _flushed(session: Session, _context: Any) -> None:
    assert isinstance(session, UowSession)
    session._new_classes = {type(obj) for obj in session.new}  # empty unless a hook added more
    session._changed()


@sa_event.listens_for(UowSession, "before_commit")
def _write_before_commit(session: Session) -> None:
    assert isinstance(session, UowSession)
    session.write_pending()


@sa_event.listens_for(UowSession, "after_commit")
@sa_event.listens_for(UowSession, "after_rollback")
def _transaction_over(session: Session) -> None:
    assert isinstance(session, UowSession)
    session.transaction_over()


OUTBOX_CHANNEL = "isp_outbox"
"""The PostgreSQL notification channel a commit that queued outbox rows notifies (each service has
its database, so each its own channel); the leading relay listens on it (:mod:`isp_common.outbox`)."""

_NOTIFY_OUTBOX = text(f"NOTIFY {OUTBOX_CHANNEL}")


class UnitOfWork:
    """One transaction: state changes, outbox rows and inbox marks commit together."""

    def __init__(self, engine: Engine, on_commit: Callable[[], None] | None = None):
        self.engine = engine
        self._on_commit = on_commit
        self._notifies = engine.dialect.name == "postgresql"
        self.session: UowSession
        self._published = 0

    def __enter__(self) -> UnitOfWork:
        self.session = UowSession(self.engine)
        self._published = 0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        if self._published and self._notifies:
            # on PostgreSQL the relay may lead in another replica, which this process's wake
            # (on_commit) cannot reach: it LISTENs, and PostgreSQL delivers this at the commit
            self.session.execute(_NOTIFY_OUTBOX)
        self.session.commit()
        if self._published and self._on_commit:
            self._on_commit()
        self._published = 0

    def rollback(self) -> None:
        self.session.rollback()

    # -- outbox -------------------------------------------------------------
    def publish(self, event: CloudEvent, topic: str, key: str | None = None) -> None:
        """Queue ``event`` for ``topic``; it leaves only if this transaction commits."""
        self.session.insert_later(
            OutboxMessage,
            {
                "topic": topic,
                "key": key if key is not None else event.subject,
                "event_id": event.id,
                "event_type": event.type,
                "value": event.to_json_bytes(),
                "traceparent": telemetry.current_traceparent(),
            },
        )
        self._published += 1

    # -- inbox --------------------------------------------------------------
    def already_processed(self, consumer: str, event_id: str) -> bool:
        return self.session.get(ProcessedEvent, (consumer, event_id)) is not None  # a query: pending marks first

    def processed_among(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        """Which of ``event_ids`` this consumer has already processed: one query for a batch."""
        wanted = list(set(event_ids))
        found: set[str] = set()
        for chunk in chunks(wanted):
            found.update(self.session.exec(_PROCESSED_AMONG, params={"consumer": consumer, "ids": chunk}))
        return found

    def mark_processed(self, consumer: str, event_id: str, event_type: str = "") -> None:
        self.session.insert_later(
            ProcessedEvent,
            {"consumer": consumer, "event_id": event_id, "event_type": event_type},
        )


_PROCESSED_AMONG = select(ProcessedEvent.event_id).where(
    ProcessedEvent.consumer == bindparam("consumer"), col(ProcessedEvent.event_id).in_(bindparam("ids", expanding=True))
)
"""Built once: SQLAlchemy then skips building the statement and its cache key for every batch."""


def pending_outbox(session: Session, limit: int | None = None) -> list[OutboxMessage]:
    """Unsent outbox rows, oldest first (at most ``limit``)."""
    stmt = select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)).order_by(col(OutboxMessage.id))
    return list(session.exec(stmt.limit(limit)))


__all__ = ["UnitOfWork", "make_engine", "create_schema", "pending_outbox"]
