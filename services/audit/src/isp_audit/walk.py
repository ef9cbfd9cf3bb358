"""The chain walk, shared by :mod:`isp_audit.verify` and its worker processes.

Standard library only, so ``python -m isp_audit.walk`` (a worker checking one range of ``seq``)
starts in tens of milliseconds. A worker reads a JSON request on stdin and writes a :class:`Leg`
as JSON on stdout.

On SQLite the database assembles each record's canonical bytes: ``json_quote`` escapes exactly
as RFC 8785 does (a property test holds it to that), and a value of the wrong type (an integer
where text belongs, a NULL in a JSON column) yields different bytes or NULL, so it fails to
verify. The body comes back as a BLOB already prefixed with the stored ``prev_hash``: the walk
hashes it only after checking that ``prev_hash`` equals the hash it recomputed for the record
before, so the bytes hashed are exactly ``prev || JCS(body)`` with no copy in Python.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

GENESIS = "0" * 64  # chain.GENESIS (a test holds them equal)
TABLE = "audit_disclosure"  # tables.DISCLOSURE_TABLE
BATCH = 20_000
Row = tuple[Any, ...]


class Fetching(Protocol):
    """A DB-API cursor, as far as the walk reads one."""

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...


def _jq(column: str) -> str:
    return f"json_quote({column})"


SQLITE_BODY = " || ".join(
    [
        """'{"alert_id":'""",
        _jq("alert_id"),
        """',"alert_type":'""",
        _jq("alert_type"),
        """',"channel":'""",
        _jq("channel"),
        """',"data_categories":'""",
        "data_categories",
        """',"decision":'""",
        _jq("decision"),
        """',"discloser":'""",
        _jq("discloser"),
        """',"id":'""",
        _jq("id"),
        """',"lawful_basis":'""",
        "coalesce(lawful_basis, 'null')",
        """',"personal_commitment":'""",
        _jq("personal_commitment"),
        """(CASE WHEN provenance IS NULL THEN '' ELSE ',"provenance":' || json_quote(provenance) END)""",
        """',"purpose":'""",
        _jq("purpose"),
        """',"recipient":'""",
        _jq("recipient"),
        """',"recorded_at":'""",
        _jq("recorded_at"),
        """',"seq":'""",
        "seq",
        """',"service_user_informed":'""",
        "(CASE WHEN service_user_informed IS NULL THEN 'null' WHEN service_user_informed IS 1 THEN 'true' "
        "WHEN service_user_informed IS 0 THEN 'false' END)",
        """',"shared_at":'""",
        _jq("shared_at"),
        """',"source_event_id":'""",
        _jq("source_event_id"),
        """(CASE WHEN supersedes IS NULL THEN '' ELSE ',"supersedes":' || json_quote(supersedes) END)""",
        """',"trace_id":'""",
        _jq("trace_id"),
        "'}'",
    ]
)
SQLITE_PERSONAL = " || ".join(
    [
        "'{'",
        """(CASE WHEN basis_reason IS NULL THEN '' ELSE '"basis_reason":' || json_quote(basis_reason) || ',' END)""",
        """'"children":'""",
        "children",
        """',"not_informed_reason":'""",
        _jq("not_informed_reason"),
        """',"person":'""",
        _jq("person"),
        """',"reason":'""",
        _jq("reason"),
        "'}'",
    ]
)
PERSONAL_EMPTY = (
    "(children IS NULL AND not_informed_reason IS NULL AND person IS NULL AND reason IS NULL AND basis_reason IS NULL)"
)
SQLITE_ASSEMBLED = (
    f"SELECT seq, prev_hash, hash, personal_commitment, personal_salt, erased_at, {PERSONAL_EMPTY}, "
    f"CAST(prev_hash || {SQLITE_BODY} AS BLOB), CAST({SQLITE_PERSONAL} AS BLOB) FROM {TABLE}"
)
"""Rows as the walk takes them: (seq, prev_hash, hash, commitment, salt, erased_at, personal_empty,
``prev_hash || body`` bytes or None, personal bytes or None). Valid on a UTF-8 database only."""


def assembled_sql(after: int | None = None, upto: int | None = None) -> tuple[str, tuple[int, ...]]:
    """The assembling query for records with ``after < seq <= upto`` (a bound of None: unbounded)."""
    where, params = [], []
    if after is not None:
        where.append("seq > ?")
        params.append(after)
    if upto is not None:
        where.append("seq <= ?")
        params.append(upto)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"{SQLITE_ASSEMBLED}{clause} ORDER BY seq", tuple(params)


@dataclass
class Leg:
    """The walk over one range of ``seq`` (the whole chain is one leg starting after 0).

    ``failure`` is the first record that does not verify (seq, reason); ``size`` the last seq
    verified and ``head`` its hash; ``heads`` the recomputed hash at each wanted seq reached;
    ``rows`` how many rows the range held up to where the walk stopped.
    """

    after: int
    start_hash: str | None
    failure: tuple[int, str] | None
    size: int
    head: str | None
    heads: dict[int, str] = field(default_factory=dict)
    rows: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Leg:
        d = json.loads(text)
        failure = (int(d["failure"][0]), str(d["failure"][1])) if d["failure"] is not None else None
        heads = {int(k): v for k, v in d["heads"].items()}
        return cls(d["after"], d["start_hash"], failure, d["size"], d["head"], heads, d["rows"])


def walk(rows: Iterable[Row], wanted: Collection[int], after: int = 0, prev: str | None = GENESIS) -> Leg:
    """Recompute every link of ``rows`` (seq order), starting after record ``after`` whose hash is ``prev``."""
    sha256 = hashlib.sha256
    fromhex = bytes.fromhex
    heads: dict[int, str] = {}
    start = prev
    expected = after + 1
    seen = 0
    failure: tuple[int, str] | None = None
    for seq, prev_hash, stored_hash, commitment, salt, erased_at, personal_empty, body, personal in rows:
        seen += 1
        if seq != expected:
            failure = (expected, f"record {expected} is missing")
            break
        if prev_hash != prev or prev is None:
            failure = (seq, f"record {seq} does not link to record {seq - 1}")
            break
        if salt is not None:
            try:
                ok = personal is not None and sha256(fromhex(salt) + personal).hexdigest() == commitment
            except (TypeError, ValueError):  # a salt that is not hex text
                ok = False
            if not ok:
                failure = (seq, f"record {seq}: personal fields altered")
                break
        elif erased_at is None or not personal_empty:
            failure = (seq, f"record {seq}: salt removed without erasure")
            break
        if body is None:
            failure = (seq, f"record {seq} has a value of the wrong type")
            break
        computed = sha256(body).hexdigest()
        if computed != stored_hash:
            failure = (seq, f"record {seq} does not match its hash")
            break
        if seq in wanted:
            heads[seq] = computed
        prev = computed
        expected += 1
    return Leg(after, start, failure, expected - 1, prev, heads, seen)


def prefetched(cursor: Fetching, batch: int = BATCH) -> Iterator[Row]:
    """Fetch the next batch on a thread while this one is hashed: sqlite3 releases the GIL
    while SQLite steps and builds the canonical text, so the two overlap."""
    with ThreadPoolExecutor(1, thread_name_prefix="audit-verify") as pool:
        pending = pool.submit(cursor.fetchmany, batch)
        while rows := pending.result():
            pending = pool.submit(cursor.fetchmany, batch)
            yield from rows


def walk_range(conn: sqlite3.Connection, after: int, upto: int | None, wanted: Collection[int]) -> Leg:
    """Walk records ``after < seq <= upto`` of a SQLite database, from the stored hash of record ``after``."""
    prev: str | None = GENESIS
    if after > 0:
        found = conn.execute(f"SELECT hash FROM {TABLE} WHERE seq = ?", (after,)).fetchone()
        prev = found[0] if found and isinstance(found[0], str) else None
    sql, params = assembled_sql(after if after > 0 else None, upto)
    cursor = conn.execute(sql, params)
    try:
        return walk(prefetched(cursor), wanted, after, prev)
    finally:
        cursor.close()


def main() -> None:
    """Worker: read {"database", "after", "upto", "wanted"} on stdin, write the Leg on stdout."""
    request = json.loads(sys.stdin.read())
    conn = sqlite3.connect(request["database"], timeout=30, check_same_thread=False)
    try:
        leg = walk_range(conn, int(request["after"]), request["upto"], frozenset(request["wanted"]))
    finally:
        conn.close()
    sys.stdout.write(leg.to_json())


if __name__ == "__main__":
    main()
