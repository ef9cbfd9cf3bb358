"""The chain: fast canonical bytes equal RFC 8785; every tampering is caught at its seq."""

from __future__ import annotations

import dataclasses

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from isp_audit import checkpoints
from isp_audit.domain import chain
from isp_audit.verify import join_legs, verify
from isp_audit.walk import Leg
from isp_common.db import make_engine
from sqlalchemy import text

from ..kit import START, STRING_BODY_FIELDS, disclosure, engine_with, record

KEY = Ed25519PrivateKey.generate()
TRUSTED = KEY.public_key()

texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)), max_size=12)
maybe = st.none() | texts


@settings(max_examples=300, deadline=None)
@given(
    strings=st.lists(maybe, min_size=13, max_size=13),
    seq=st.integers(1, 10**12),
    informed=st.sampled_from([None, True, False]),
    cats=st.lists(texts, max_size=3),
)
def test_fast_canonical_bytes_are_rfc8785(strings, seq, informed, cats):
    body = dict(zip(STRING_BODY_FIELDS, strings, strict=True))
    body.update(
        seq=seq,
        service_user_informed=informed,
        data_categories=cats,
        lawful_basis={"kind": "consent", "consent_id": "c"},
    )
    fast = chain.body_bytes(
        **{
            **body,
            "data_categories": chain.canonical_text(cats),
            "lawful_basis": chain.canonical_text(body["lawful_basis"]),
        }
    )
    assert fast == rfc8785.dumps(body)


@settings(max_examples=200, deadline=None)
@given(person=maybe, reason=maybe, informed_reason=maybe, local_id=texts)
def test_fast_personal_bytes_are_rfc8785(person, reason, informed_reason, local_id):
    children = [{"local_id": local_id}]
    personal = {"children": children, "not_informed_reason": informed_reason, "person": person, "reason": reason}
    assert chain.personal_bytes(chain.canonical_text(children), informed_reason, person, reason) == rfc8785.dumps(
        personal
    )


class Walker:
    """Builds chains and verifies them one way: a single walk in this process (in-memory
    SQLite), or in ranges of seq across worker processes (a SQLite file, 3 ranges, any size)."""

    def __init__(self, ranges: bool, directory):
        self.ranges = ranges
        self.directory = directory
        self.built = 0

    def engine_with(self, n, **kwargs):
        if self.ranges:
            self.built += 1
            kwargs["url"] = f"sqlite:///{self.directory / f'audit-{self.built}.db'}"
        return engine_with(n, **kwargs)

    def verify(self, engine, cps, trusted):
        options = {"workers": 3, "parallel_from": 0} if self.ranges else {"workers": 1}
        verdict = verify(engine, cps, trusted, **options)
        if self.ranges:  # the same verdict, field for field, as one walk
            assert verdict == verify(engine, cps, trusted, workers=1)
        return verdict


@pytest.fixture(params=["one walk", "ranges"])
def walker(request, tmp_path):
    return Walker(request.param == "ranges", tmp_path)


def _cp(engine, size, key=KEY):
    with engine.connect() as conn:
        head = conn.execute(text("SELECT hash FROM audit_disclosure WHERE seq = :s"), {"s": size}).scalar_one()
    return checkpoints.sign(key, size, head, "2025-11-04T00:00:00.000000Z")


def _attack(engine, *statements):
    """What an attacker with write access does: drop the guards, then change rows."""
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_disclosure_no_delete"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_disclosure_erase_only"))
        for statement in statements:
            conn.execute(text(statement))


def test_an_untouched_chain_verifies_with_its_checkpoints(walker):
    engine = walker.engine_with(30)
    verdict = walker.verify(engine, [_cp(engine, 10), _cp(engine, 30)], TRUSTED)
    assert verdict.ok and verdict.records == 30 and verdict.first_bad_seq is None and verdict.checkpoints == 2


@pytest.mark.parametrize(
    ("statement", "bad_seq"),
    [
        ("UPDATE audit_disclosure SET recipient = 'EVIL-ORG' WHERE seq = 7", 7),
        ("UPDATE audit_disclosure SET purpose = 'curiosity' WHERE seq = 1", 1),
        ('UPDATE audit_disclosure SET data_categories = \'["attendance","risk"]\' WHERE seq = 12', 12),
        ("UPDATE audit_disclosure SET lawful_basis = NULL WHERE seq = 20", 20),
        ("UPDATE audit_disclosure SET shared_at = '2025-11-03T09:00:00.000000Z' WHERE seq = 5", 5),
        ("UPDATE audit_disclosure SET person = '9434765870' WHERE seq = 9", 9),
        ("UPDATE audit_disclosure SET children = '[]' WHERE seq = 11", 11),
        ("UPDATE audit_disclosure SET hash = '" + "ab" * 32 + "' WHERE seq = 14", 14),
        ("UPDATE audit_disclosure SET prev_hash = '" + "cd" * 32 + "' WHERE seq = 15", 15),
        ("UPDATE audit_disclosure SET personal_salt = NULL, person = NULL WHERE seq = 16", 16),
        ("UPDATE audit_disclosure SET service_user_informed = 1 WHERE seq = 17", 17),
        ("DELETE FROM audit_disclosure WHERE seq = 8", 8),
        ("DELETE FROM audit_disclosure WHERE seq IN (3, 4)", 3),
        ("UPDATE audit_disclosure SET purpose = X'00' WHERE seq = 6", 6),  # a BLOB: json_quote refuses it
        ("UPDATE audit_disclosure SET alert_id = X'61' WHERE seq = 19", 19),
        ("UPDATE audit_disclosure SET personal_salt = 'not hex' WHERE seq = 10", 10),
        ("UPDATE audit_disclosure SET seq = 26 WHERE seq = 25", 25),
    ],
)
def test_an_edit_or_deletion_fails_at_its_seq(statement, bad_seq, walker):
    engine = walker.engine_with(25)
    cps = [_cp(engine, 25)]
    _attack(engine, statement)
    verdict = walker.verify(engine, cps, TRUSTED)
    assert not verdict.ok and verdict.first_bad_seq == bad_seq


def test_reordering_two_records_fails_at_the_first_moved(walker):
    engine = walker.engine_with(20)
    _attack(
        engine,
        "UPDATE audit_disclosure SET seq = -6 WHERE seq = 6",
        "UPDATE audit_disclosure SET seq = 6 WHERE seq = 13",
        "UPDATE audit_disclosure SET seq = 13 WHERE seq = -6",
    )
    assert walker.verify(engine, [], TRUSTED).first_bad_seq == 6


def test_truncation_is_caught_by_an_earlier_checkpoint(walker):
    engine = walker.engine_with(20)
    cps = [_cp(engine, 20)]
    _attack(engine, "DELETE FROM audit_disclosure WHERE seq > 16")
    verdict = walker.verify(engine, cps, TRUSTED)
    assert not verdict.ok and verdict.first_bad_seq == 17 and verdict.records == 16


def test_a_whole_rewrite_with_recomputed_hashes_is_caught_by_the_checkpoint(walker):
    engine = walker.engine_with(20)
    genuine = [_cp(engine, 10), _cp(engine, 20)]
    forged = walker.engine_with(20, start=chain.parse_utc_text("2025-12-01T00:00:00.000000Z"))  # a different history
    assert walker.verify(forged, [], TRUSTED).ok  # internally consistent...
    verdict = walker.verify(forged, genuine, TRUSTED)  # ...but not what was signed
    assert not verdict.ok and verdict.first_bad_seq == 10


def test_a_swapped_checkpoint_fails_at_its_size(walker):
    engine = walker.engine_with(20)
    good = _cp(engine, 15)
    altered = dataclasses.replace(good, head="ee" * 32)
    other_key = _cp(engine, 12, key=Ed25519PrivateKey.generate())
    assert walker.verify(engine, [_cp(engine, 5), altered], TRUSTED).first_bad_seq == 15
    assert walker.verify(engine, [_cp(engine, 5), other_key], TRUSTED).first_bad_seq == 12
    assert walker.verify(engine, [good], TRUSTED).ok


@settings(max_examples=150, deadline=None)
@given(strings=st.lists(maybe, min_size=4, max_size=4), informed=st.sampled_from([None, True, False]))
def test_sqlite_assembles_the_same_canonical_bytes(strings, informed):
    from isp_audit.verify import assemble, assembled_rows, stream_rows

    engine = engine_with(0)
    purpose, reason, not_told, trace = strings
    share = disclosure(
        purpose=purpose or "p",
        trace_id=trace,
        reason=reason,
        not_informed_reason=not_told,
        service_user_informed=informed,
    )
    record(engine, share, now=START)
    (by_sqlite,) = assembled_rows(engine)
    (by_python,) = assemble(stream_rows(engine))
    assert by_sqlite == by_python  # the whole row, with the prev_hash-prefixed body and personal bytes
    assert by_sqlite[-2].startswith(chain.GENESIS.encode() + b'{"alert_id":')


def test_ranges_join_into_the_verdict_of_one_walk_wherever_the_chain_breaks(tmp_path):
    """Every kind of break at every seq, around the boundaries of 3 ranges (after 3 and 6)."""
    import shutil

    built = tmp_path / "chain.db"
    engine = engine_with(9, url=f"sqlite:///{built}")
    cps = [_cp(engine, 3), _cp(engine, 6), _cp(engine, 9)]
    engine.dispose()
    attacks = {
        "edit": "UPDATE audit_disclosure SET purpose = 'other' WHERE seq = {n}",
        "delete": "DELETE FROM audit_disclosure WHERE seq = {n}",
        "truncate": "DELETE FROM audit_disclosure WHERE seq >= {n}",
        "unlink": "UPDATE audit_disclosure SET prev_hash = '" + "cd" * 32 + "' WHERE seq = {n}",
    }
    for name, statement in attacks.items():
        for n in range(1, 10):
            path = tmp_path / f"{name}-{n}.db"
            shutil.copy(built, path)
            attacked = make_engine(f"sqlite:///{path}")
            _attack(attacked, statement.format(n=n))
            one = verify(attacked, cps, TRUSTED, workers=1)
            assert not one.ok and one.first_bad_seq == n, (name, n, one)
            assert verify(attacked, cps, TRUSTED, workers=3, parallel_from=0) == one, (name, n)
            attacked.dispose()


def test_legs_that_do_not_meet_are_not_joined():
    """A later range starting from a hash the previous one did not end on (the table changed
    between the reads) gives None: verify then walks the chain once."""
    first = Leg(0, chain.GENESIS, None, 5, "aa" * 32, {}, 5)
    assert join_legs([first, Leg(5, "bb" * 32, None, 9, "cc" * 32, {}, 4)]) is None
    joined = join_legs([first, Leg(5, "aa" * 32, None, 9, "cc" * 32, {7: "dd" * 32}, 4)])
    assert joined == Leg(0, chain.GENESIS, None, 9, "cc" * 32, {7: "dd" * 32}, 9)


def test_the_worker_module_names_the_same_genesis_and_table_as_the_service():
    from isp_audit import walk
    from isp_audit.tables import DISCLOSURE_TABLE

    assert (walk.GENESIS, walk.TABLE) == (chain.GENESIS, DISCLOSURE_TABLE)


def test_when_a_worker_cannot_start_the_chain_is_walked_once(tmp_path, monkeypatch):
    import sys

    engine = engine_with(12, url=f"sqlite:///{tmp_path / 'audit.db'}")
    _attack(engine, "UPDATE audit_disclosure SET purpose = 'other' WHERE seq = 11")
    expected = verify(engine, [], TRUSTED, workers=1)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    verdict = verify(engine, [], TRUSTED, workers=2, parallel_from=0)
    assert verdict == expected and verdict.first_bad_seq == 11
