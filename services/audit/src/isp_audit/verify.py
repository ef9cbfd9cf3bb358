"""Verification: recompute the chain from the stored rows and check it against signed checkpoints.

It streams the rows in ``seq`` order (a plain cursor on SQLite, a server-side cursor on
PostgreSQL) and trusts nothing stored beyond the rows themselves: no precomputed state. A large
SQLite file is walked in ranges of ``seq`` by several processes at once (see :func:`verify`);
the walk itself is :func:`isp_audit.walk.walk`.
``first_bad_seq`` is the first record that cannot be trusted:

* a record whose hash, link (``prev_hash``) or personal commitment does not recompute;
* a missing ``seq`` (a deleted or reordered record) at the first number missing;
* a checkpoint whose signature fails (altered, or signed by another key) at its size;
* a checkpoint whose head differs from the recomputed hash at its size (a rewritten table);
* a checkpoint larger than the table (a truncated table) at the first record missing.

Then the erasures (:func:`check_erasures`): the erasure chain recomputes; every erased record
names an erasure that exists, covers its seq and whose ``before`` is after the record's
``shared_at``; every erasure erased only records past retention, applying a retention of at least
``min_retention_days``; and each checkpoint that carries the erasure chain's head matches it.
These problems name the erasure, at the first record it erased (or the record itself).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from isp_common import metrics
from sqlalchemy import text
from sqlalchemy.engine import Engine

from . import walk
from .checkpoints import SignedCheckpoint, signature_valid
from .domain import chain
from .domain.retention import DEFAULT_RETENTION_DAYS, ERASURE_FIELDS, erasure_hash, erasure_problem
from .tables import DISCLOSURE_TABLE, Erasure
from .walk import Row

COLUMNS = (
    "seq",
    *(name for name in chain.BODY_FIELDS if name != "seq"),
    "prev_hash",
    "hash",
    *chain.PERSONAL_FIELDS,
    "personal_salt",
    "erased_at",
)
"""Every record's chained columns: ``seq``, the rest of the chained body in canonical order, the
link and the hash, the personal fields, the salt and the erasure time."""
STREAMED = (*COLUMNS, *chain.OPTIONAL_BODY_FIELDS, *chain.OPTIONAL_PERSONAL_FIELDS)
"""What :func:`stream_rows` reads: :data:`COLUMNS`, then the fields chained only when set (body,
then personal; NULL on records written before they existed)."""
_SEQ_AT = chain.BODY_FIELDS.index("seq")
_BODY_END = len(chain.BODY_FIELDS)
_COMMITMENT_AT = COLUMNS.index("personal_commitment")
BATCH = walk.BATCH
PARALLEL_FROM = 100_000
"""Chains shorter than this are walked in one process (starting a worker takes ~50 ms)."""
log = logging.getLogger(__name__)


@dataclass
class Verdict:
    ok: bool
    records: int
    head: str
    first_bad_seq: int | None
    reason: str | None = None
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    erasures: int = 0
    erasure_head: str = chain.GENESIS

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "checkpoints_checked": self.checkpoints,
            "erasures": self.erasures,
            "erasure_head": self.erasure_head,
        }


def _cursor_rows(engine: Engine, sql: str, batch: int, params: tuple[int, ...] = ()) -> Iterator[Row]:
    """The rows of ``sql``, ``batch`` at a time. The cursor is closed however the reading ends: at
    the last row, or when the walk stops early at a broken record and drops this generator."""
    raw = engine.raw_connection()
    cursor: Any = None
    try:
        if engine.dialect.name == "postgresql":
            assert raw.driver_connection is not None
            cursor = raw.driver_connection.cursor(name="audit_verify")
            cursor.itersize = batch
        else:
            cursor = raw.cursor()
        if params:
            cursor.execute(sql, params)
        else:
            cursor.execute(sql)
        if engine.dialect.name == "sqlite":
            yield from walk.prefetched(cursor, batch)
        else:
            while rows := cursor.fetchmany(batch):
                yield from rows
    finally:
        if cursor is not None:
            cursor.close()
        raw.rollback()
        raw.close()


def stream_rows(engine: Engine, batch: int = BATCH) -> Iterator[Row]:
    """Every disclosure row in ``seq`` order, as tuples of :data:`STREAMED`."""
    return _cursor_rows(engine, f"SELECT {', '.join(STREAMED)} FROM {DISCLOSURE_TABLE} ORDER BY seq", batch)


def assemble(rows: Iterable[Row]) -> Iterator[Row]:
    """Rows of :data:`STREAMED` as the walk takes them (see :data:`isp_audit.walk.SQLITE_ASSEMBLED`),
    assembled in Python: the body bytes are prefixed with the stored ``prev_hash``."""
    for row in rows:
        seq, commitment = row[0], row[_COMMITMENT_AT]
        prev_hash, stored_hash = row[_BODY_END : _BODY_END + 2]
        children, not_informed_reason, person, reason, salt, erased_at, supersedes, provenance, basis_reason = row[
            _BODY_END + 2 :
        ]
        body_values = (*row[1 : _SEQ_AT + 1], seq, *row[_SEQ_AT + 1 : _BODY_END])  # in BODY_FIELDS order
        try:
            body = prev_hash.encode() + chain.body_bytes(*body_values, supersedes=supersedes, provenance=provenance)
        except (TypeError, ValueError, KeyError, AttributeError):
            body = None
        try:
            personal = chain.personal_bytes(children, not_informed_reason, person, reason, basis_reason)
        except (TypeError, ValueError):
            personal = None
        empty = all(v is None for v in (children, not_informed_reason, person, reason, basis_reason))
        yield seq, prev_hash, stored_hash, commitment, salt, erased_at, empty, body, personal


def _utf8(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA encoding")).scalar() == "UTF-8"


def assembled_rows(engine: Engine, batch: int = BATCH) -> Iterator[Row]:
    """Every record in seq order as the walk takes them: assembled by SQLite where it can."""
    if engine.dialect.name == "sqlite" and _utf8(engine):
        sql, params = walk.assembled_sql()
        return _cursor_rows(engine, sql, batch, params)
    return assemble(stream_rows(engine, batch))


def verify(
    engine: Engine,
    checkpoints: list[SignedCheckpoint],
    trusted: Ed25519PublicKey | None,
    *,
    workers: int | None = None,
    parallel_from: int = PARALLEL_FROM,
    min_retention_days: int = DEFAULT_RETENTION_DAYS,
) -> Verdict:
    """The chain verdict: every record recomputed, then the ``checkpoints`` signed by ``trusted``,
    then the erasures (none may apply a retention below ``min_retention_days``: the settings' value).

    A SQLite file of ``parallel_from`` records or more is walked in ``workers`` ranges of seq at
    once (default: one per CPU, at most 4): this process walks the first, a worker process
    (``python -m isp_audit.walk``) each other. Each range needs only its own rows and the stored
    hash of the record before it; the ranges are joined in order, so the verdict is the one a
    single walk gives.
    """
    started = time.perf_counter()
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
    leg = _walk_chain(engine, frozenset(wanted), workers or default_workers(), parallel_from)
    for seq, computed in leg.heads.items():
        if computed not in wanted[seq]:
            problems.append((seq, f"checkpoint at {seq} names another head: the table was rewritten"))
    for cp in valid:
        if cp.size > leg.size and leg.failure is None:
            problems.append((leg.size + 1, f"checkpoint at {cp.size} but the chain ends at {leg.size}: truncated"))
    if leg.failure is not None:
        problems.append(leg.failure)
    erasures = check_erasures(engine, valid, min_retention_days)
    problems.extend(erasures.problems)
    problems.sort()
    bad = problems[0] if problems else None
    verdict = Verdict(
        ok=bad is None,
        records=leg.size,
        head=leg.head or chain.GENESIS,
        first_bad_seq=bad[0] if bad else None,
        reason=bad[1] if bad else None,
        checkpoints=len(checkpoints),
        problems=[f"{s}: {r}" for s, r in problems],
        erasures=erasures.size,
        erasure_head=erasures.head,
    )
    measured = metrics.of(engine)  # the runtime's, or none scraped (the CLI)
    result = "ok" if verdict.ok else "failed"
    measured.observe("isp_audit_verify_duration_seconds", time.perf_counter() - started, result=result)
    measured.set("isp_audit_verify_ok", 1.0 if verdict.ok else 0.0)
    return verdict


def default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def _walk_chain(engine: Engine, wanted: frozenset[int], workers: int, parallel_from: int) -> walk.Leg:
    try:
        leg = _walk_in_ranges(engine, wanted, workers, parallel_from) if workers > 1 else None
        return leg or walk.walk(assembled_rows(engine), wanted)
    except sqlite3.OperationalError:
        # json_quote refuses a BLOB ("JSON cannot hold BLOB values"): assemble in Python instead,
        # where a value of the wrong type makes the record fail at its seq
        if engine.dialect.name != "sqlite":
            raise
        return walk.walk(assemble(stream_rows(engine)), wanted)


def _sqlite_file(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or engine.url.query.get("mode") == "memory":
        return None
    return database if os.path.isfile(database) else None


def _walk_in_ranges(engine: Engine, wanted: frozenset[int], workers: int, parallel_from: int) -> walk.Leg | None:
    """The walk split into ranges of seq, or None where that does not apply (then walk once)."""
    path = _sqlite_file(engine)
    if path is None or not _utf8(engine):
        return None
    with engine.connect() as conn:
        top = conn.execute(text(f"SELECT max(seq) FROM {DISCLOSURE_TABLE}")).scalar()
    if not isinstance(top, int) or top < max(parallel_from, workers, 2):
        return None
    bounds = [top * i // workers for i in range(1, workers)]
    ranges = list(zip([0, *bounds], [*bounds, None], strict=True))
    procs: list[subprocess.Popen[str]] = []
    try:
        for after, upto in ranges[1:]:
            procs.append(_start_worker(path, after, upto, wanted))
    except OSError as exc:  # cannot start a process: walk once
        log.warning("verify worker did not start (%s); walking the chain in one process", exc)
        _stop(procs)
        return None
    try:
        sql, params = walk.assembled_sql(None, ranges[0][1])
        legs = [walk.walk(_cursor_rows(engine, sql, BATCH, params), wanted)]
        for proc in procs:
            assert proc.stdout is not None and proc.stderr is not None  # started with PIPE
            out = proc.stdout.read()
            err = proc.stderr.read()
            if proc.wait() != 0:
                log.warning("verify worker failed (%s); walking the chain in one process", err.strip()[-500:])
                return None
            legs.append(walk.Leg.from_json(out))
    finally:
        _stop(procs)
    joined = join_legs(legs)
    if joined is None:
        log.warning("verify: the table changed between the ranges' reads; walking the chain in one process")
    return joined


def _start_worker(path: str, after: int, upto: int | None, wanted: frozenset[int]) -> subprocess.Popen[str]:
    src = os.path.dirname(os.path.dirname(os.path.abspath(walk.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "isp_audit.walk"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    request = {
        "database": os.path.abspath(path),
        "after": after,
        "upto": upto,
        "wanted": sorted(s for s in wanted if s > after and (upto is None or s <= upto)),
    }
    assert proc.stdin is not None  # started with PIPE
    try:
        proc.stdin.write(json.dumps(request))
        proc.stdin.close()
    except OSError:
        _stop([proc])
        raise
    return proc


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


def join_legs(legs: list[walk.Leg]) -> walk.Leg | None:
    """Consecutive legs (the first starting at genesis) as the single walk over them all.

    A leg counts only if every leg before it verified up to its start and ended on the very hash
    it started from; the first failure wins; a chain ending before a later leg that holds rows
    misses the record after its end. None: the legs do not fit (the table changed between reads).
    """
    first = legs[0]
    failure, size, head, rows, heads = first.failure, first.size, first.head, first.rows, dict(first.heads)
    for i, leg in enumerate(legs[1:], start=1):
        if failure is not None:
            break
        if size < leg.after:  # the chain ended inside the previous range
            if any(later.rows for later in legs[i:]):
                failure = (size + 1, f"record {size + 1} is missing")
            break
        if leg.start_hash != head:
            return None
        failure, size, head, rows = leg.failure, leg.size, leg.head, rows + leg.rows
        heads.update(leg.heads)
    return walk.Leg(0, chain.GENESIS, failure, size, head, heads, rows)


def stored_checkpoints(engine: Engine) -> list[SignedCheckpoint]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT size, head, time, key_id, signature, erasures, erasure_head FROM audit_checkpoint ORDER BY size"
            )
        )
        return [SignedCheckpoint(*row) for row in rows]


def merge(*sources: list[SignedCheckpoint]) -> list[SignedCheckpoint]:
    """Checkpoints from several places, each distinct one once."""
    return sorted({cp for source in sources for cp in source}, key=lambda cp: (cp.size, cp.head))


ERASURE_READ = (*ERASURE_FIELDS, "prev_hash", "hash")


@dataclass
class ErasureCheck:
    """The erasure chain's length and head as recomputed, and every problem found (seq, reason)."""

    size: int
    head: str
    problems: list[tuple[int, str]]


def check_erasures(engine: Engine, valid: list[SignedCheckpoint], min_retention_days: int) -> ErasureCheck:
    """The erasure chain, the erased records against it, and the ``valid`` checkpoints' erasure heads."""
    with engine.connect() as conn:
        table = Erasure.__tablename__
        columns = ", ".join(f'"{name}"' for name in ERASURE_READ)  # "by" is a keyword
        rows = conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY seq, id"))
        erasures = [dict(row._mapping) for row in rows]
        erased = conn.execute(
            text(
                f"SELECT seq, shared_at, erased_at, erasure_id FROM {DISCLOSURE_TABLE} "
                "WHERE erased_at IS NOT NULL OR erasure_id IS NOT NULL ORDER BY seq"
            )
        ).all()
    problems: list[tuple[int, str]] = []
    heads = _erasure_chain(erasures, min_retention_days, problems)
    by_id = {e["id"]: e for e in erasures}
    counted: Counter[str] = Counter()
    for seq, shared_at, erased_at, erasure_id in erased:
        e = by_id.get(erasure_id)
        if e is None:
            why = "with no erasure recorded" if erasure_id is None else f"by erasure {erasure_id}, which does not exist"
            problems.append((seq, f"record {seq} was erased {why}"))
        elif erased_at is None or erased_at != e["at"]:
            problems.append((seq, f"record {seq} names erasure {erasure_id} but was not erased by it"))
        elif not (isinstance(e["first_seq"], int) and isinstance(e["last_seq"], int)) or not (
            e["first_seq"] <= seq <= e["last_seq"]
        ):
            problems.append((seq, f"record {seq} is outside the records erasure {erasure_id} covers"))
        elif not (isinstance(shared_at, str) and isinstance(e["before"], str) and shared_at < e["before"]):
            problems.append((seq, f"record {seq} was shared after the cutoff of erasure {erasure_id}"))
        else:
            counted[erasure_id] += 1
    for e in erasures:
        if counted[e["id"]] != e["records"]:
            problems.append(
                (_first_record(e), f"erasure {e['id']} names {e['records']} records, {counted[e['id']]} found")
            )
    size = max(heads)
    for cp in valid:
        if cp.erasures is not None and heads.get(cp.erasures) != cp.erasure_head:
            at = next((_first_record(e) for e in erasures if e["seq"] == cp.erasures), 1)
            problems.append(
                (at, f"checkpoint at {cp.size} names erasure head {cp.erasures}, which the erasures differ from")
            )
    return ErasureCheck(size, heads[size], problems)


def _first_record(e: dict[str, Any]) -> int:
    """The seq a problem with erasure ``e`` is reported at: the first record it erased."""
    return e["first_seq"] if isinstance(e["first_seq"], int) and e["first_seq"] > 0 else 1


def _link_problem(e: dict[str, Any], expected: int, prev: str) -> str | None:
    if e["seq"] != expected:
        return f"erasure {expected} is missing"
    if e["prev_hash"] != prev:
        return "does not link to the erasure before it"
    try:
        recomputed = erasure_hash(prev, e)
    except (TypeError, ValueError):  # a value of a type canonical JSON does not take
        recomputed = None
    return None if recomputed == e["hash"] else "does not match its hash"


def _erasure_chain(
    erasures: list[dict[str, Any]], min_retention_days: int, problems: list[tuple[int, str]]
) -> dict[int, str]:
    """Recompute the erasure chain (in seq order) and check each erasure's retention; returns the
    recomputed hash at each erasure count reached (0: genesis)."""
    heads = {0: chain.GENESIS}
    prev: str | None = chain.GENESIS
    for e in erasures:
        if prev is not None:  # after a break the chain cannot be trusted
            why = _link_problem(e, len(heads), prev)
            if why is None:
                heads[len(heads)] = prev = e["hash"]
            else:
                problems.append((_first_record(e), f"erasure {e['id']}: {why}"))
                prev = None
        if (why := erasure_problem(e, min_retention_days)) is not None:
            problems.append((_first_record(e), f"erasure {e['id']} {why}"))
    return heads
