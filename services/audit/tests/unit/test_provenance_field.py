"""CONTRACT §10: a record says how the event that led to the decision proved where it came from
(``provenance``), chained when set, so it cannot be changed afterwards without verify noticing; a
record without it hashes exactly as before."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from isp_audit.domain import chain
from isp_audit.verify import verify
from isp_common.db import make_engine
from sqlalchemy import text

from ..kit import START, STRING_BODY_FIELDS, audit_engine, disclosure, record

PROVENANCES = ["signed", "gateway", None, "service", "unsigned"]


def chain_with_provenance(url: str):
    engine = audit_engine(url)
    for i, provenance in enumerate(PROVENANCES):
        at = START + timedelta(minutes=i)
        record(engine, disclosure(shared_at=at, provenance=provenance), at)
    return engine


def test_provenance_is_kept_chained_and_verifies_in_one_process_and_several(tmp_path):
    engine = chain_with_provenance(f"sqlite:///{tmp_path / 'audit.db'}")
    with engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT provenance FROM audit_disclosure ORDER BY seq"))]
    assert stored == PROVENANCES
    assert verify(engine, [], None, workers=1).ok
    assert verify(engine, [], None, workers=3, parallel_from=0).ok  # the SQL walk chains it the same way


PROVENANCE = st.sampled_from([None, "signed", "gateway", "service", "unsigned"])
TEXT = st.one_of(st.none(), st.text(max_size=12))


@settings(max_examples=200, deadline=None)
@given(strings=st.lists(TEXT, min_size=13, max_size=13), supersedes=TEXT, provenance=PROVENANCE)
def test_fast_body_bytes_with_provenance_are_rfc8785(strings, supersedes, provenance):
    """The fast encoder puts provenance where RFC 8785's key order does, and leaves it out when unset
    (so a record without it hashes exactly as before the field)."""
    body = dict(zip(STRING_BODY_FIELDS, strings, strict=True))
    body.update(seq=7, service_user_informed=None, data_categories=[], lawful_basis=None)
    fast = chain.body_bytes(
        **{**body, "data_categories": "[]", "lawful_basis": None}, supersedes=supersedes, provenance=provenance
    )
    optional = {"supersedes": supersedes, "provenance": provenance}
    assert fast == rfc8785.dumps(chain.with_optional(body, optional))


@pytest.mark.parametrize(("seq", "statement"), [(1, "'unsigned'"), (3, "'signed'"), (5, "NULL")])
def test_changing_a_records_provenance_breaks_the_chain_there(tmp_path, seq, statement):
    built = tmp_path / "chain.db"
    chain_with_provenance(f"sqlite:///{built}").dispose()
    attacked_path = tmp_path / "attacked.db"
    shutil.copy(built, attacked_path)
    attacked = make_engine(f"sqlite:///{attacked_path}")
    with attacked.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_disclosure_erase_only"))
        conn.execute(text(f"UPDATE audit_disclosure SET provenance = {statement} WHERE seq = {seq}"))
    for workers, parallel_from in ((1, 100_000), (3, 0)):
        verdict = verify(attacked, [], None, workers=workers, parallel_from=parallel_from)
        assert not verdict.ok and verdict.first_bad_seq == seq


def test_the_api_shows_the_provenance(tmp_path):
    from fastapi.testclient import TestClient
    from isp_audit.bootstrap import build
    from isp_audit.settings import Settings
    from isp_common.testing import FixedClock, auth_headers

    engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    runtime = build(Settings(var_dir=tmp_path), engine=engine, clock=FixedClock(START + timedelta(hours=1)))
    record(runtime.engine, disclosure(shared_at=START, provenance="gateway", discloser="CGL-WSX"), START)
    headers = auth_headers(runtime.settings.resolved_key_dir, "PARTNERSHIP", "partnership_ig")
    [item] = TestClient(runtime.api).get("/v1/disclosures", headers=headers).json()["items"]
    assert item["provenance"] == "gateway"
