"""Verification: recompute the chain from the stored rows and check it against signed checkpoints.

It streams the rows in ``seq`` order (a plain cursor on SQLite, a server-side cursor on
PostgreSQL) and trusts nothing stored beyond the rows themselves: no precomputed state.
``first_bad_seq`` is the first record that cannot be trusted:

* a record whose hash, link (``prev_hash``) or personal commitment does not recompute;
* a missing ``seq`` (a deleted or reordered record) at the first number missing;
* a checkpoint whose signature fails (altered, or signed by another key) at its size;
* a checkpoint whose head differs from the recomputed hash at its size (a rewritten table);
* a checkpoint larger than the table (a truncated table) at the first record missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.engine import Engine

from . import chain
from .checkpoints import SignedCheckpoint, signature_valid
from .tables import DISCLOSURE_TABLE

COLUMNS = (
    "seq", "alert_id", "alert_type", "channel", "data_categories", "decision", "discloser", "id",
    "lawful_basis", "personal_commitment", "purpose", "recipient", "recorded_at",
    "service_user_informed", "shared_at", "source_event_id", "trace_id", "prev_hash", "hash",
    "children", "not_informed_reason", "person", "reason", "personal_salt", "erased_at",
)  # fmt: skip
BATCH = 20_000


@dataclass
class Verdict:
    ok: bool
    records: int
    head: str
    first_bad_seq: int | None
    reason: str | None = None
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "checkpoints_checked": self.checkpoints,
        }


def _jq(column: str) -> str:
    return f"json_quote({column})"


# SQLite assembles the canonical bytes itself: json_quote escapes exactly as RFC 8785 does
# (a property test holds it to that), and a value of the wrong type (an integer where text
# belongs, a NULL in a JSON column) yields different bytes or NULL, so it fails to verify.
_SQLITE_BODY = " || ".join([
    """'{"alert_id":'""", _jq("alert_id"), """',"alert_type":'""", _jq("alert_type"),
    """',"channel":'""", _jq("channel"), """',"data_categories":'""", "data_categories",
    """',"decision":'""", _jq("decision"), """',"discloser":'""", _jq("discloser"), """',"id":'""", _jq("id"),
    """',"lawful_basis":'""", "coalesce(lawful_basis, 'null')",
    """',"personal_commitment":'""", _jq("personal_commitment"), """',"purpose":'""", _jq("purpose"),
    """',"recipient":'""", _jq("recipient"), """',"recorded_at":'""", _jq("recorded_at"),
    """',"seq":'""", "seq", """',"service_user_informed":'""",
    "(CASE WHEN service_user_informed IS NULL THEN 'null' WHEN service_user_informed IS 1 THEN 'true' "
    "WHEN service_user_informed IS 0 THEN 'false' END)",
    """',"shared_at":'""", _jq("shared_at"), """',"source_event_id":'""", _jq("source_event_id"),
    """',"trace_id":'""", _jq("trace_id"), "'}'",
])  # fmt: skip
_SQLITE_PERSONAL = " || ".join([
    """'{"children":'""", "children", """',"not_informed_reason":'""", _jq("not_informed_reason"),
    """',"person":'""", _jq("person"), """',"reason":'""", _jq("reason"), "'}'",
])  # fmt: skip
_PERSONAL_EMPTY = "(children IS NULL AND not_informed_reason IS NULL AND person IS NULL AND reason IS NULL)"
SQLITE_ASSEMBLED = (
    f"SELECT seq, prev_hash, hash, personal_commitment, personal_salt, erased_at, {_PERSONAL_EMPTY}, "
    f"{_SQLITE_BODY}, {_SQLITE_PERSONAL} FROM {DISCLOSURE_TABLE} ORDER BY seq"
)


def _cursor_rows(engine: Engine, sql: str, batch: int) -> Iterator[tuple]:
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            cursor = raw.driver_connection.cursor(name="audit_verify")
            cursor.itersize = batch
        else:
            cursor = raw.cursor()
        cursor.execute(sql)
        if engine.dialect.name == "sqlite":
            yield from _prefetched(cursor, batch)
        else:
            while rows := cursor.fetchmany(batch):
                yield from rows
        cursor.close()
    finally:
        raw.rollback()
        raw.close()


def _prefetched(cursor, batch: int) -> Iterator[tuple]:
    """Fetch the next batch on a thread while this one is hashed: sqlite3 releases the GIL
    while SQLite steps and builds the canonical text, so the two overlap on two cores."""
    with ThreadPoolExecutor(1, thread_name_prefix="audit-verify") as pool:
        pending = pool.submit(cursor.fetchmany, batch)
        while rows := pending.result():
            pending = pool.submit(cursor.fetchmany, batch)
            yield from rows


def stream_rows(engine: Engine, batch: int = BATCH) -> Iterator[tuple]:
    """Every disclosure row in ``seq`` order, as tuples of :data:`COLUMNS`."""
    return _cursor_rows(engine, f"SELECT {', '.join(COLUMNS)} FROM {DISCLOSURE_TABLE} ORDER BY seq", batch)


def assemble(rows: Iterable[tuple]) -> Iterator[tuple]:
    """Rows of :data:`COLUMNS` as (seq, prev_hash, hash, commitment, salt, erased_at, personal_empty,
    body bytes or None, personal bytes or None), assembled in Python."""
    for row in rows:
        (seq, alert_id, alert_type, channel, data_categories, decision, discloser, id_, lawful_basis,
         commitment, purpose, recipient, recorded_at, informed, shared_at, source_event_id, trace_id,
         prev_hash, stored_hash, children, not_informed_reason, person, reason, salt, erased_at) = row  # fmt: skip
        try:
            body = chain.body_bytes(alert_id, alert_type, channel, data_categories, decision, discloser, id_,
                                    lawful_basis, commitment, purpose, recipient, recorded_at, seq, informed,
                                    shared_at, source_event_id, trace_id)  # fmt: skip
        except (TypeError, ValueError, KeyError):
            body = None
        try:
            personal = chain.personal_bytes(children, not_informed_reason, person, reason)
        except (TypeError, ValueError):
            personal = None
        empty = children is None and not_informed_reason is None and person is None and reason is None
        yield seq, prev_hash, stored_hash, commitment, salt, erased_at, empty, body, personal


def assembled_rows(engine: Engine, batch: int = BATCH) -> Iterator[tuple]:
    if engine.dialect.name == "sqlite":
        return _cursor_rows(engine, SQLITE_ASSEMBLED, batch)
    return assemble(stream_rows(engine, batch))


def verify_rows(rows: Iterable[tuple], checkpoints: list[SignedCheckpoint],
                trusted: Ed25519PublicKey | None) -> Verdict:  # fmt: skip
    """The chain verdict for assembled ``rows`` (in seq order) and ``checkpoints``."""
    problems: list[tuple[int, str]] = []
    valid = []
    for cp in checkpoints:
        if cp.size < 1:
            problems.append((1, "a checkpoint cannot be read"))
        elif trusted is None or not signature_valid(cp, trusted):
            problems.append((cp.size, f"checkpoint at {cp.size} is not signed by the audit key"))
        else:
            valid.append(cp)
    wanted: dict[int, set[str]] = {}
    for cp in valid:
        wanted.setdefault(cp.size, set()).add(cp.head)
    first_bad, size, prev = _walk(rows, wanted, problems)
    for cp in valid:
        if cp.size > size and first_bad is None:
            problems.append((size + 1, f"checkpoint at {cp.size} but the chain ends at {size}: truncated"))
    if first_bad is not None:
        problems.append(first_bad)
    problems.sort()
    bad = problems[0] if problems else None
    return Verdict(
        ok=bad is None,
        records=size,
        head=prev,
        first_bad_seq=bad[0] if bad else None,
        reason=bad[1] if bad else None,
        checkpoints=len(checkpoints),
        problems=[f"{s}: {r}" for s, r in problems],
    )


def _walk(rows: Iterable[tuple], wanted: dict[int, set[str]], problems: list) -> tuple[tuple[int, str] | None, int, str]:
    """Recompute every link; returns (first failure or None, records checked, head hash)."""
    sha256 = hashlib.sha256
    expected, prev = 1, chain.GENESIS
    for seq, prev_hash, stored_hash, commitment, salt, erased_at, personal_empty, body, personal in rows:
        if seq != expected:
            return (expected, f"record {expected} is missing"), expected - 1, prev
        if prev_hash != prev:
            return (seq, f"record {seq} does not link to record {seq - 1}"), seq - 1, prev
        if salt is not None:
            if personal is None or sha256(bytes.fromhex(salt) + _bytes(personal)).hexdigest() != commitment:
                return (seq, f"record {seq}: personal fields altered"), seq - 1, prev
        elif erased_at is None or not personal_empty:
            return (seq, f"record {seq}: salt removed without erasure"), seq - 1, prev
        if body is None:
            return (seq, f"record {seq} has a value of the wrong type"), seq - 1, prev
        computed = sha256(prev.encode() + _bytes(body)).hexdigest()
        if computed != stored_hash:
            return (seq, f"record {seq} does not match its hash"), seq - 1, prev
        if seq in wanted and computed not in wanted[seq]:
            problems.append((seq, f"checkpoint at {seq} names another head: the table was rewritten"))
        prev = computed
        expected += 1
    return None, expected - 1, prev


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def verify(engine: Engine, checkpoints: list[SignedCheckpoint], trusted: Ed25519PublicKey | None) -> Verdict:
    return verify_rows(assembled_rows(engine), checkpoints, trusted)


def stored_checkpoints(engine: Engine) -> list[SignedCheckpoint]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT size, head, time, key_id, signature FROM audit_checkpoint ORDER BY size"))
        return [SignedCheckpoint(*row) for row in rows]


def merge(*sources: list[SignedCheckpoint]) -> list[SignedCheckpoint]:
    """Checkpoints from several places, each distinct one once."""
    return sorted({cp for source in sources for cp in source}, key=lambda cp: (cp.size, cp.head))
