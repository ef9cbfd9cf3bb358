"""The keeper of ``isp.deadletter.v1``: one rejection per original event, however many services
dead-lettered it, and its replay to the source topic once the cause is fixed.

An event read by two services is dead-lettered twice; both copies name the same original
message (``isp-source-topic`` + ``isp-source-partition`` + ``isp-source-offset``, see
:mod:`isp_common.deadletter`), which is the rejection's ``origin``. Without a position the event
id names it, and without a readable id a hash of the value. A replay is a new message (a new
offset, or the ``isp-replay-id`` header): when it fails again it becomes a new rejection whose
``replay_of`` names the one replayed, so nothing is lost and the attempts stay linked.

The organisation a rejection belongs to is the event's CloudEvents ``source`` (or, failing that,
its organisation fields); ``unknown`` when the bytes say nothing readable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from isp_common import deadletter
from isp_common.auth import is_org_id
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from .tables import Rejection

log = logging.getLogger(__name__)

UNKNOWN_ORG = "unknown"
REPLAY_OF = "isp-replay-of"
"""Header of a replayed message: the id of the rejection it repeats."""
REPLAY_ID = "isp-replay-id"
"""Header of a replayed message: this replay's own id (distinguishes attempts of one event)."""
SOURCE_PREFIX = "urn:isp:org:"
ORG_FIELDS = ("from_org", "recorded_by", "org")
"""The organisation fields of an event's data that must equal its source (CONTRACT §10)."""
NAME_LIMIT = 200


@dataclass(frozen=True)
class DeadLetter:
    """One message read from ``isp.deadletter.v1``: the original key, value and headers (the
    dead-letter headers among them) and when it was dead-lettered."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    at: datetime

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k == name]
        return found[-1].decode("utf-8", "replace") if found else None


@dataclass(frozen=True)
class Described:
    event_id: str | None
    type: str | None
    org: str


def describe(value: bytes | None) -> Described:
    """What can be read of an event's bytes without trusting them: id, type and organisation."""
    try:
        event = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return Described(None, None, UNKNOWN_ORG)
    if not isinstance(event, dict):
        return Described(None, None, UNKNOWN_ORG)
    return Described(_name(event.get("id")), _name(event.get("type")), _org_of(event))


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= NAME_LIMIT else None


def _org_of(event: dict[str, Any]) -> str:
    source = event.get("source")
    if isinstance(source, str) and source.startswith(SOURCE_PREFIX) and is_org_id(source[len(SOURCE_PREFIX) :]):
        return source[len(SOURCE_PREFIX) :]
    data = event.get("data")
    for name in ORG_FIELDS:
        value = data.get(name) if isinstance(data, dict) else None
        if is_org_id(value):
            return str(value)
    return UNKNOWN_ORG


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def origin_of(letter: DeadLetter, topic: str, described: Described) -> str:
    """The original message a dead letter names: its position if known, else its event id, else
    a hash of its value (the last two qualified by the replay that sent it, if any)."""
    partition, offset = _int(letter.header(deadletter.SOURCE_PARTITION)), _int(letter.header(deadletter.SOURCE_OFFSET))
    if partition is not None and offset is not None:
        return f"{topic}:{partition}:{offset}"
    replay = letter.header(REPLAY_ID)
    suffix = f":replay:{replay}" if replay else ""
    if described.event_id:
        return f"{topic}:event:{described.event_id}{suffix}"
    return f"{topic}:sha256:{hashlib.sha256(letter.value or b'').hexdigest()}{suffix}"


def keep(session: Session, letter: DeadLetter) -> Rejection:
    """Keep ``letter`` as a new rejection, or add its service to the rejection it repeats (the
    caller commits)."""
    topic = letter.header(deadletter.SOURCE_TOPIC) or "unknown"
    described = describe(letter.value)
    origin = origin_of(letter, topic, described)
    consumer = letter.header(deadletter.CONSUMER) or "unknown"
    reason = letter.header(deadletter.ERROR) or "no reason given"
    existing = session.exec(select(Rejection).where(Rejection.origin == origin)).first()
    if existing is not None:
        by = json.loads(existing.rejected_by)
        if consumer not in by:
            existing.rejected_by = json.dumps({**by, consumer: reason}, sort_keys=True)
            session.add(existing)
        return existing
    rejection = Rejection(
        id=f"rej-{uuid.uuid4().hex}",
        origin=origin,
        at=as_utc(letter.at),
        topic=topic,
        partition=_int(letter.header(deadletter.SOURCE_PARTITION)),
        offset=_int(letter.header(deadletter.SOURCE_OFFSET)),
        type=described.type,
        event_id=described.event_id,
        org=described.org,
        reason=reason,
        rejected_by=json.dumps({consumer: reason}),
        key=letter.key,
        value=letter.value,
        headers=json.dumps([[k, base64.b64encode(v).decode()] for k, v in letter.headers]),
        replay_of=letter.header(REPLAY_OF),
    )
    session.add(rejection)
    session.flush()
    return rejection


def keep_all(uow_factory: Callable[[], UnitOfWork], letters: Sequence[DeadLetter]) -> None:
    """Keep a batch in one transaction; if that fails (a replica kept one of them at the same
    moment), keep them one by one, each retried once."""
    try:
        with uow_factory() as uow:
            for letter in letters:
                keep(uow.session, letter)
            uow.commit()
        return
    except IntegrityError:
        log.info("rejections: a batch of %d raced another writer; keeping them one by one", len(letters))
    for letter in letters:
        for attempt in (1, 2):
            try:
                with uow_factory() as uow:
                    keep(uow.session, letter)
                    uow.commit()
                break
            except IntegrityError:
                if attempt == 2:
                    raise


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """An administrator's selection of rejections (every field optional)."""

    topic: str | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    org: str | None = None
    unreplayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "org": self.org,
            "unreplayed": self.unreplayed,
        }

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        if self.topic:
            found.append(col(Rejection.topic) == self.topic)
        if self.reason:
            found.append(col(Rejection.reason).contains(self.reason, autoescape=True))
        if self.since:
            found.append(col(Rejection.at) >= as_utc(self.since))
        if self.until:
            found.append(col(Rejection.at) < as_utc(self.until))
        if self.org:
            found.append(col(Rejection.org) == self.org)
        if self.unreplayed:
            found.append(col(Rejection.replays) == 0)
        return found


@dataclass(frozen=True)
class Page:
    items: list[Rejection]
    total: int
    next: str | None


def page(session: Session, filters: Filters, after: str | None, limit: int) -> Page:
    """Rejections matching ``filters``, oldest first, after the cursor ``after`` (a position in
    the list, as a previous page's ``next`` gave it)."""
    conditions = filters.conditions()
    total = session.exec(select(func.count()).select_from(Rejection).where(*conditions)).one()
    stmt = select(Rejection).where(*conditions).order_by(col(Rejection.seq))
    if after:
        stmt = stmt.where(col(Rejection.seq) > int(after))
    rows = list(session.exec(stmt.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, total, str(rows[-1].seq) if more and rows else None)


def by_id(session: Session, rejection_id: str) -> Rejection | None:
    return session.exec(select(Rejection).where(Rejection.id == rejection_id)).first()


def rejected_by(rejection: Rejection) -> dict[str, str]:
    by: dict[str, str] = json.loads(rejection.rejected_by)
    return by


def original_headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    return [(k, base64.b64decode(v)) for k, v in json.loads(rejection.headers)]


# -- replaying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """The message a replay publishes: the original key, value and headers, to the source topic,
    without the dead-letter headers and naming the rejection it repeats."""

    rejection_id: str
    replay_id: str
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def replay_of(rejection: Rejection) -> Replay:
    dropped = {*deadletter.DEADLETTER_HEADERS, REPLAY_OF, REPLAY_ID}
    replay_id = uuid.uuid4().hex
    headers = [(k, v) for k, v in original_headers(rejection) if k not in dropped]
    headers += [(REPLAY_OF, rejection.id.encode()), (REPLAY_ID, replay_id.encode())]
    return Replay(rejection.id, replay_id, rejection.topic, rejection.key, rejection.value, headers)


def mark_replayed(session: Session, rejection_id: str, by: str, now: datetime) -> None:
    rejection = by_id(session, rejection_id)
    if rejection is None:
        return
    rejection.replays += 1
    rejection.replayed_at = as_utc(now)
    rejection.replayed_by = by
    session.add(rejection)


Record = tuple[bytes | None, bytes | None, Any, float | None]
"""A consumed dead-letter record: key, value, headers, timestamp (seconds; None when unknown)."""


def letters_of(records: Iterable[Record], now: datetime) -> list[DeadLetter]:
    """The dead letters ``records`` carry (``now`` where a record has no timestamp)."""
    letters = []
    for key, value, headers, timestamp in records:
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        at = _time_of(timestamp) or now
        letters.append(DeadLetter(key, value, [(str(k), bytes(v or b"")) for k, v in pairs], at))
    return letters


def _time_of(timestamp: float | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(timestamp, UTC) if timestamp else None
    except (OverflowError, OSError, ValueError):  # a broker's nonsense: the time it was read instead
        return None
