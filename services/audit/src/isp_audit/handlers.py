"""Reactions to events: one record per share (alert id + recipient + decision), appended to the
chain; and the ledger of alerts delivered on the alerts topics, for reconciliation. Each takes
a unit of work; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from isp_common.clock import Clock
from isp_common.consumer import Handler, Prefetch
from isp_common.db import UnitOfWork, chunks
from isp_schemas import topics
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.envelope import CloudEvent
from sqlalchemy import Table, bindparam, insert
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from .domain import chain
from .domain.records import chained_row, record_id
from .tables import AlertSeen, DisclosureRecord


def head(session: Session) -> tuple[int, str]:
    """(size, hash) of the chain: (0, GENESIS) when it is empty."""
    stmt = select(DisclosureRecord.seq, DisclosureRecord.hash).order_by(col(DisclosureRecord.seq).desc()).limit(1)
    row = session.exec(stmt).first()
    return (row[0], row[1]) if row else (0, chain.GENESIS)


def disclosure_values(data: DisclosureRecorded) -> dict[str, Any]:
    values = data.model_dump(mode="json")
    values["children"] = [child.model_dump(mode="json", exclude_none=True) for child in data.children]
    values["shared_at"] = chain.utc_text(data.shared_at)
    values["id"] = record_id(data.alert_id, data.recipient, data.decision)
    return values


_DISCLOSURES: Table = DisclosureRecord.__table__  # type: ignore[attr-defined]
_SHARE = ("alert_id", "recipient", "decision")
_INSERT_DISCLOSURE = insert(_DISCLOSURES)
_SAME_SHARE = select(_DISCLOSURES.c.seq).where(*(_DISCLOSURES.c[name] == bindparam(name) for name in _SHARE))
_INSERT_UNLESS_RECORDED = {"sqlite": sqlite.insert(_DISCLOSURES).on_conflict_do_nothing(index_elements=_SHARE)}
"""Per dialect, the insert that does nothing when the share is recorded, and says so in its rowcount:
one statement instead of a lookup and an insert. Any other conflict (``seq``, ``prev_hash``: a second
writer) still fails. Not on PostgreSQL: psycopg gives no rowcount for it (-1), and ``RETURNING`` costs
as much as the lookup; there (and elsewhere) the share is looked up first."""
_HEAD = "isp_audit.head"
"""``session.info`` key: (the transaction, size, hash) of the head as this session last appended to it."""
_SHARES = "isp_audit.shares"
"""``session.info`` key: (the transaction, the alert ids :func:`read_ahead` looked up in it, the shares of
those alerts recorded: in the database, or appended in this transaction)."""
Share = tuple[str, str, str]


def _transaction(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _known_head(session: Session) -> tuple[int, str]:
    """The head, read once per transaction: the appends in it keep it (:func:`_append`). A savepoint
    begun or ended, a rollback or a commit is another transaction, so the head is read again."""
    known = session.info.get(_HEAD)
    if known is not None and known[0] is _transaction(session):
        return known[1], known[2]
    return head(session)  # autoflushes: records added through the ORM count


def read_ahead(uow: UnitOfWork, events: Sequence[tuple[CloudEvent, Any]]) -> None:
    """Look up, in one query per ``IN`` list, which shares of a run of disclosure records are recorded:
    :func:`_append` then knows which of these alerts' shares are new without asking, and queues each new
    record to be written with the others at the commit, in one multi-row ``INSERT``
    (:meth:`isp_common.db.UowSession.insert_later`), instead of one ``INSERT`` each (half the cost of a
    record). Kept for this transaction only, as the head is.

    For the consumer's runs of events, which begin no savepoint: records queued for the commit that a
    query inside a savepoint writes would be undone with it, were it rolled back."""
    session = uow.session
    alert_ids = sorted({data.alert_id for _, data in events if isinstance(data, DisclosureRecorded)})
    recorded: set[Share] = set()
    for chunk in chunks(alert_ids):
        recorded.update((a, r, d) for a, r, d in session.execute(_RECORDED_SHARES, {"alert_ids": chunk}))
    session.info[_SHARES] = (_transaction(session), frozenset(alert_ids), recorded)


_RECORDED_SHARES = select(*(_DISCLOSURES.c[name] for name in _SHARE)).where(
    _DISCLOSURES.c.alert_id.in_(bindparam("alert_ids", expanding=True))
)


def _shares_read_ahead(session: Session, alert_id: str) -> set[Share] | None:
    """The recorded shares of ``alert_id`` as :func:`read_ahead` found them in this transaction (and
    appends since kept them), or None when it did not look that alert up (then ask the database)."""
    known = session.info.get(_SHARES)
    if known is None or known[0] is not _transaction(session) or alert_id not in known[1]:
        return None
    recorded: set[Share] = known[2]
    return recorded


def _append(uow: UnitOfWork, data: DisclosureRecorded, now: datetime) -> dict[str, Any] | None:
    """Append ``data``; its column values, or None when that share is recorded. A share whose alert
    :func:`read_ahead` looked up is written at the commit (or before the next query of the table);
    any other is one Core ``INSERT`` now."""
    session = uow.session
    size, prev_hash = _known_head(session)
    share = (data.alert_id, data.recipient, data.decision)
    recorded = _shares_read_ahead(session, data.alert_id)
    if recorded is not None:
        if share in recorded:
            return None
        row = chained_row(size + 1, prev_hash, disclosure_values(data), chain.utc_text(now), chain.new_salt())
        session.insert_later(DisclosureRecord, row)
        recorded.add(share)
        session.info[_HEAD] = (_transaction(session), row["seq"], row["hash"])
        return row
    # what was read ahead does not cover this append (another alert, or a savepoint that may yet be
    # undone), so no longer covers every append of this transaction: from here on each share is asked
    session.info.pop(_SHARES, None)
    connection = session.connection()
    insert_unless_recorded = _INSERT_UNLESS_RECORDED.get(connection.dialect.name)
    if insert_unless_recorded is None:
        same_share = {name: getattr(data, name) for name in _SHARE}
        if connection.execute(_SAME_SHARE, same_share).first() is not None:
            return None
    row = chained_row(size + 1, prev_hash, disclosure_values(data), chain.utc_text(now), chain.new_salt())
    if insert_unless_recorded is None:
        connection.execute(_INSERT_DISCLOSURE, row)
    elif connection.execute(insert_unless_recorded, row).rowcount != 1:
        return None
    session.info[_HEAD] = (_transaction(session), row["seq"], row["hash"])
    return row


def append_disclosure(uow: UnitOfWork, data: DisclosureRecorded, now: datetime) -> DisclosureRecord | None:
    """Append ``data`` to the chain, recorded at ``now``, unless that share is already recorded (then None).

    The single writer is the one consumer of ``isp.audit.v1``; were a second to race it,
    ``seq`` (primary key) and ``prev_hash`` (unique) make one of them fail and retry.
    """
    row = _append(uow, data, now)
    return None if row is None else uow.session.get(DisclosureRecord, row["seq"])


def disclosure_recorded(uow: UnitOfWork, event: CloudEvent, data: DisclosureRecorded, *, clock: Clock) -> None:
    _append(uow, data, clock.now())


def alert_row(topic: str, event: CloudEvent, now: datetime) -> dict[str, Any] | None:
    """The ledger row of an alert seen on ``topic`` at ``now``; None when it is not an alert."""
    recipient = topics.alerts_org(topic)
    if recipient is None or not event.type.startswith("uk.isp.alert."):
        return None
    basis = event.data.get("lawful_basis")
    return {
        "alert_id": event.data.get("alert_id") or event.id,
        "recipient": recipient,
        "type": event.type,
        "sender_org": event.data.get("sender_org") or event.source_org,
        "basis": basis.get("kind") if isinstance(basis, dict) else None,
        "event_time": chain.utc_text(event.time),
        "seen_at": chain.utc_text(now),
    }


_ALERTS_SEEN: Table = AlertSeen.__table__  # type: ignore[attr-defined]
_INSERT_ALERT_SEEN = insert(_ALERTS_SEEN)


def note_alerts(uow: UnitOfWork, rows: Iterable[dict[str, Any]]) -> None:
    """Add the ledger ``rows`` (:func:`alert_row`) not there yet, in one multi-row ``INSERT``: an alert
    already seen (before, or earlier in ``rows``) keeps the row it was first seen with."""
    new: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        new.setdefault((row["alert_id"], row["recipient"]), row)
    if not new:
        return
    connection = uow.session.connection()
    ids = list({alert_id for alert_id, _ in new})
    for chunk in chunks(ids):
        stmt = select(_ALERTS_SEEN.c.alert_id, _ALERTS_SEEN.c.recipient).where(_ALERTS_SEEN.c.alert_id.in_(chunk))
        for alert_id, recipient in connection.execute(stmt):
            new.pop((alert_id, recipient), None)
    if new:
        connection.execute(_INSERT_ALERT_SEEN, list(new.values()))


def alert_delivered(uow: UnitOfWork, topic: str, event: CloudEvent, now: datetime) -> bool:
    """Note an alert seen on ``topic`` at ``now`` (idempotent); False when it is not an alert."""
    row = alert_row(topic, event, now)
    if row is None:
        return False
    note_alerts(uow, [row])
    return True


def by_topic(clock: Clock) -> dict[str, dict[str, Handler]]:
    """The handlers of each topic this service consumes, recording with ``clock``."""
    return {topics.AUDIT: {DisclosureRecorded.event_type: partial(disclosure_recorded, clock=clock)}}


READ_AHEAD: dict[str, Prefetch] = {topics.AUDIT: read_ahead}
"""What the consumer of each topic reads ahead for a run of its events (:data:`isp_common.consumer.Prefetch`)."""
