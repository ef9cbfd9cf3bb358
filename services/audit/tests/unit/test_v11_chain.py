"""Fields added in contract v1.1 (``supersedes``, a judgement's ``basis_reason``) are chained only
when set: earlier chains verify unchanged, and a record that has one cannot lose or gain it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from isp_audit import walk
from isp_audit.domain import chain
from isp_audit.domain.records import build_row, join_basis, split_basis
from isp_audit.handlers import disclosure_values
from isp_audit.retention import erase_before
from isp_audit.verify import assemble, stream_rows, verify
from isp_schemas.audit import disclosure_record_id
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from ..kit import LATER, START, STRING_BODY_FIELDS, audit_engine, disclosure, record

texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)), max_size=12)
maybe = st.none() | texts
JUDGEMENT = {"kind": "professional_judgement", "by": "dsl-7", "reason": 'Baby at risk; "mother" refused'}

# A record as the audit service wrote it before v1.1, and the hashes that code gave it.
V10_VALUES = {
    "alert_id": "alert-1",
    "alert_type": "uk.isp.alert.did_not_attend.v1",
    "channel": "kafka",
    "data_categories": ["attendance"],
    "decision": "shared",
    "discloser": "CGL-WSX",
    "id": "0c4b6e9e-0000-5000-8000-000000000001",
    "lawful_basis": {"kind": "consent", "consent_id": "consent-1"},
    "purpose": "safeguarding",
    "recipient": "WSCC-CSC",
    "service_user_informed": None,
    "shared_at": "2025-11-03T10:00:00.000000Z",
    "source_event_id": "evt-1",
    "trace_id": None,
    "person": "9434765919",
    "children": [{"local_id": "C1"}],
    "not_informed_reason": None,
    "reason": None,
}
V10_COMMITMENT = "2f1966184cd92ce8d3340f6b4b3d1756f35332fef256617dd8f070e47e4a1b92"
V10_HASH = "bb33a1a6f2a74128b0505fd4092cf8352aff1cd4d830f866c02fa3966cf02efe"


def test_a_record_without_the_new_fields_hashes_exactly_as_before_them():
    row = build_row(1, chain.GENESIS, {**V10_VALUES, "supersedes": None}, "2025-11-03T10:00:01.000000Z", "11" * 32)
    assert (row["personal_commitment"], row["hash"]) == (V10_COMMITMENT, V10_HASH)
    assert row["supersedes"] is None and row["basis_reason"] is None


def test_supersedes_is_chained_when_set():
    plain = build_row(1, chain.GENESIS, V10_VALUES, "2025-11-03T10:00:01.000000Z", "11" * 32)
    linked = build_row(1, chain.GENESIS, {**V10_VALUES, "supersedes": "w-1"}, "2025-11-03T10:00:01.000000Z", "11" * 32)
    assert linked["hash"] != plain["hash"] and linked["personal_commitment"] == plain["personal_commitment"]


def test_a_judgements_reason_is_kept_with_the_personal_fields():
    body_basis, reason = split_basis(JUDGEMENT)
    assert body_basis == {"kind": "professional_judgement", "by": "dsl-7"} and reason == JUDGEMENT["reason"]
    assert join_basis(body_basis, reason) == JUDGEMENT
    assert join_basis(body_basis, None) == body_basis  # erased
    assert split_basis({"kind": "consent", "consent_id": "c"}) == ({"kind": "consent", "consent_id": "c"}, None)
    row = build_row(
        1, chain.GENESIS, {**V10_VALUES, "lawful_basis": JUDGEMENT}, "2025-11-03T10:00:01.000000Z", "22" * 32
    )
    assert row["basis_reason"] == JUDGEMENT["reason"] and "reason" not in row["lawful_basis"]


@settings(max_examples=200, deadline=None)
@given(strings=st.lists(maybe, min_size=13, max_size=13), supersedes=maybe, seq=st.integers(1, 10**9))
def test_fast_body_bytes_with_supersedes_are_rfc8785(strings, supersedes, seq):
    body = dict(zip(STRING_BODY_FIELDS, strings, strict=True))
    body.update(seq=seq, service_user_informed=None, data_categories=[], lawful_basis=None)
    fast = chain.body_bytes(**{**body, "data_categories": "[]", "lawful_basis": None}, supersedes=supersedes)
    assert fast == rfc8785.dumps(chain.with_optional(body, {"supersedes": supersedes}))


@settings(max_examples=200, deadline=None)
@given(person=maybe, reason=maybe, basis_reason=maybe)
def test_fast_personal_bytes_with_a_basis_reason_are_rfc8785(person, reason, basis_reason):
    personal = {"children": [], "not_informed_reason": None, "person": person, "reason": reason}
    expected = rfc8785.dumps(chain.with_optional(personal, {"basis_reason": basis_reason}))
    assert chain.personal_bytes("[]", None, person, reason, basis_reason) == expected


def mixed_chain(url: str = "sqlite://"):
    """Withheld, then its re-decided share (supersedes), then a judgement release, then a v1.0-shaped share."""
    engine = audit_engine(url)
    withheld = disclosure(decision="withheld", lawful_basis=None, reason="no consent", shared_at=START)
    record(engine, withheld, START)
    wid = disclosure_record_id(withheld.alert_id, withheld.recipient, "withheld")
    later = START + timedelta(minutes=5)
    record(engine, disclosure(alert_id=withheld.alert_id, supersedes=wid, shared_at=later), later)
    record(engine, disclosure(lawful_basis=JUDGEMENT, shared_at=later), later)
    record(engine, disclosure(shared_at=later), later)
    return engine


def test_a_chain_mixing_old_and_new_records_verifies_however_it_is_assembled(tmp_path):
    engine = mixed_chain()
    assert verify(engine, [], None, workers=1).ok  # assembled by SQLite
    leg = walk.walk(assemble(stream_rows(engine)), frozenset())  # assembled in Python (PostgreSQL's way)
    assert leg.failure is None and leg.size == 4
    ranges = mixed_chain(f"sqlite:///{tmp_path / 'audit.db'}")  # walked in ranges by worker processes
    assert verify(ranges, [], None, workers=3, parallel_from=0) == verify(ranges, [], None, workers=1)
    assert verify(ranges, [], None, workers=1).ok


@pytest.mark.parametrize(
    ("statement", "bad_seq", "why"),
    [
        ("UPDATE audit_disclosure SET supersedes = NULL WHERE seq = 2", 2, "does not match its hash"),
        ("UPDATE audit_disclosure SET supersedes = 'other' WHERE seq = 2", 2, "does not match its hash"),
        ("UPDATE audit_disclosure SET supersedes = 'w' WHERE seq = 4", 4, "does not match its hash"),
        ("UPDATE audit_disclosure SET basis_reason = 'nothing' WHERE seq = 3", 3, "personal fields altered"),
        ("UPDATE audit_disclosure SET basis_reason = NULL WHERE seq = 3", 3, "personal fields altered"),
        ("UPDATE audit_disclosure SET basis_reason = 'added' WHERE seq = 4", 4, "personal fields altered"),
        ("UPDATE audit_disclosure SET supersedes = 7 WHERE seq = 2", 2, "does not match its hash"),
    ],
)
@pytest.mark.parametrize("assembled_by", ["sqlite", "python"])
def test_tampering_with_the_new_fields_is_caught_at_its_seq(statement, bad_seq, why, assembled_by):
    engine = mixed_chain()
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_disclosure_erase_only"))
        conn.execute(text(statement))
    if assembled_by == "sqlite":
        verdict = verify(engine, [], None, workers=1)
        assert (verdict.first_bad_seq, why in (verdict.reason or "")) == (bad_seq, True)
    else:
        leg = walk.walk(assemble(stream_rows(engine)), frozenset())
        assert leg.failure is not None and leg.failure[0] == bad_seq and why in leg.failure[1]


def test_the_guard_refuses_changing_supersedes_and_erasure_takes_the_judgements_reason():
    engine = mixed_chain()
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_disclosure SET supersedes = NULL WHERE seq = 2"))
    with Session(engine, expire_on_commit=False) as session:
        erasure = erase_before(session, START + timedelta(hours=1), by="retention-policy", now=LATER)
        session.commit()
    assert erasure is not None and erasure.records == 4
    with engine.connect() as conn:
        left = conn.execute(text("SELECT basis_reason, lawful_basis, supersedes FROM audit_disclosure ORDER BY seq"))
        rows = left.all()
    assert rows[2][0] is None and '"by":"dsl-7"' in rows[2][1] and rows[1][2] is not None
    assert verify(engine, [], None).ok


def test_the_event_values_carry_supersedes_into_the_row():
    share = disclosure(supersedes="w-1")
    assert disclosure_values(share)["supersedes"] == "w-1"
