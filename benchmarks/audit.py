"""The audit trail at 1,000,000 records: build, verify, and query p50/p95.

Builds a SQLite audit database under ``var/bench/`` with correct chaining (the same
canonical bytes as the service: :func:`isp_audit.domain.chain.body_bytes`, property-tested equal to
RFC 8785), then times ``verify`` (the code ``GET /v1/verify`` and ``isp audit verify`` run) and
the two query kinds through :func:`isp_audit.query.search` (the code behind
``GET /v1/disclosures``, without the HTTP layer).
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from isp_audit import guard, query
from isp_audit.domain import chain
from isp_audit.domain.records import record_id
from isp_audit.domain.search import Filters
from isp_audit.verify import COLUMNS, default_workers, verify
from isp_common.db import create_schema, make_engine
from isp_schemas.people import make_nhs_number

ORGS = [f"ORG-{i:03d}" for i in range(40)]
START = datetime(2024, 1, 1, tzinfo=UTC)
CATEGORIES = ['["attendance"]', '["referral"]', '["attendance","referral"]', '["treatment_status"]']
BASES = ['{"consent_id":"consent-%d","kind":"consent"}', '{"ground":"child_protection_plan","kind":"statutory"}']
INSERT_COLUMNS = (*COLUMNS, "erasure_id")


def people(n: int, rng: random.Random) -> list[str]:
    found: set[str] = set()
    while len(found) < n:
        number = make_nhs_number(f"{rng.randrange(10**8, 10**9)}")
        if number:
            found.add(number)
    return sorted(found)


def rows(n: int, seed: int = 7):
    """``n`` chained rows as tuples of INSERT_COLUMNS, oldest first (~1 share a minute)."""
    rng = random.Random(seed)
    persons = people(max(n // 20, 10), rng)
    prev = chain.GENESIS
    salts = os.urandom(32 * n).hex()
    for seq in range(1, n + 1):
        shared = START + timedelta(seconds=60 * seq + rng.randrange(60))
        shared_at = chain.utc_text(shared)
        recorded_at = chain.utc_text(shared + timedelta(seconds=2))
        discloser, recipient = rng.sample(ORGS, 2)
        person = rng.choice(persons)
        alert_id = f"alert-{seq}"
        decision = "withheld" if seq % 10 == 0 else "shared"
        basis = None if decision == "withheld" else BASES[seq % 2] % seq if seq % 2 == 0 else BASES[1]
        reason = "no consent covers the recipient" if decision == "withheld" else None
        children = f'[{{"local_id":"C-{seq % 5000}"}}]'
        salt = salts[64 * (seq - 1) : 64 * seq]
        commitment = chain.commitment_of(salt, chain.personal_bytes(children, None, person, reason))
        id_ = record_id(alert_id, recipient, decision)
        categories = CATEGORIES[seq % 4]
        trace = f"{seq:032x}"
        body = chain.body_bytes(
            alert_id,
            "uk.isp.alert.did_not_attend.v1",
            "kafka",
            categories,
            decision,
            discloser,
            id_,
            basis,
            commitment,
            "safeguarding",
            recipient,
            recorded_at,
            seq,
            None,
            shared_at,
            f"evt-{seq}",
            trace,
        )
        digest = chain.link_hash(prev, body)
        yield (
            seq,
            alert_id,
            "uk.isp.alert.did_not_attend.v1",
            "kafka",
            categories,
            decision,
            discloser,
            id_,
            basis,
            commitment,
            "safeguarding",
            recipient,
            recorded_at,
            None,
            shared_at,
            f"evt-{seq}",
            trace,
            prev,
            digest,
            children,
            None,
            person,
            reason,
            salt,
            None,
            None,
        )
        prev = digest


def build(path: Path, n: int) -> float:
    """A fresh database of ``n`` records at ``path``; returns the seconds it took."""
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='audit_disclosure' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    sql = f"INSERT INTO audit_disclosure ({', '.join(INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
    batch: list[tuple] = []
    for row in rows(n):
        batch.append(row)
        if len(batch) == 50_000:
            conn.executemany(sql, batch)
            batch.clear()
    conn.executemany(sql, batch)
    for _, create in indexes:
        conn.execute(create)
    conn.execute("ANALYZE")
    conn.commit()
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    engine = make_engine(f"sqlite:///{path}")
    guard.install_triggers(engine)
    engine.dispose()
    return time.perf_counter() - started


@dataclass
class Timing:
    p50_ms: float
    p95_ms: float
    mean_rows: float


def timed_queries(engine, make_filters, runs: int, scope_org=None) -> Timing:
    times, sizes = [], []
    with engine.connect() as conn:
        for i in range(runs):
            filters = make_filters(i)
            started = time.perf_counter()
            items, _ = query.search(conn, filters, scope_org=scope_org, limit=50)
            times.append((time.perf_counter() - started) * 1000)
            sizes.append(len(items))
    times.sort()
    return Timing(statistics.median(times), times[int(0.95 * (len(times) - 1))], statistics.mean(sizes))


def measure(path: Path, n: int, runs: int = 200, workers: int | None = None) -> dict:
    engine = make_engine(f"sqlite:///{path}")
    workers = workers or default_workers()
    load = os.getloadavg()
    started = time.perf_counter()
    verdict = verify(engine, [], None, workers=workers)
    verify_s = time.perf_counter() - started
    assert verdict.ok and verdict.records == n, verdict
    rng = random.Random(11)
    persons = people(max(n // 20, 10), random.Random(7))
    span = timedelta(seconds=60 * n)

    def by_person(_i: int) -> Filters:
        return Filters(person=rng.choice(persons))

    def by_org_and_dates(_i: int) -> Filters:
        since = START + span * rng.random()
        return Filters(
            org=rng.choice(ORGS), since=chain.utc_text(since), until=chain.utc_text(since + timedelta(days=30))
        )

    person = timed_queries(engine, by_person, runs)
    org_dates = timed_queries(engine, by_org_and_dates, runs)
    officer = timed_queries(engine, by_person, runs, scope_org=ORGS[0])
    return {
        "verify_s": verify_s,
        "workers": workers,
        "load": load,
        "person": person,
        "org_dates": org_dates,
        "person_as_ig_officer": officer,
    }
