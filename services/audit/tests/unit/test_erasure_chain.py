"""Erasure only past retention, erasures chained and checkpointed (issue 11, item 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_audit import checkpoints, guard
from isp_audit.cli import app
from isp_audit.domain import chain
from isp_audit.domain.checkpointing import CheckpointPolicy
from isp_audit.domain.retention import DEFAULT_RETENTION_DAYS, PrematureErasure, erasure_hash
from isp_audit.jobs import take_checkpoint
from isp_audit.retention import erase_before, erasure_head
from isp_audit.tables import Erasure
from isp_audit.verify import stored_checkpoints, verify
from isp_common.db import UnitOfWork
from isp_common.testing import outbox_events
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select
from typer.testing import CliRunner

from ..kit import LATER, NOW, START, engine_with

KEY = Ed25519PrivateKey.generate()
TRUSTED = KEY.public_key()


def erase(engine, hours: int, now=LATER, retention_days: int = DEFAULT_RETENTION_DAYS) -> Erasure:
    with Session(engine, expire_on_commit=False) as session:
        erasure = erase_before(session, START + timedelta(hours=hours), "retention-policy", now, retention_days)
        session.commit()
    assert erasure is not None
    return erasure


def tamper(engine, *statements: str) -> None:
    """An attacker with write access: drop the guards, then change rows."""
    with engine.begin() as conn:
        for trigger in ("audit_erasure_no_update", "audit_erasure_no_delete", "audit_disclosure_erase_only"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        for statement in statements:
            conn.execute(text(statement))


def test_erasing_within_the_retention_period_is_refused_and_nothing_changes():
    engine = engine_with(3)
    with Session(engine) as session, pytest.raises(PrematureErasure, match="within the retention period"):
        erase_before(session, NOW, "someone", NOW)
    with Session(engine) as session:
        assert session.exec(select(Erasure)).all() == []
    assert verify(engine, [], None).ok


def test_the_cli_refuses_erase_before_now_and_a_retention_below_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("ISP_AUDIT_RETENTION_DAYS", raising=False)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = engine_with(2, url=url)
    runner = CliRunner()
    now = runner.invoke(app, ["erase", "--before", chain.utc_text(NOW)[:19], "--database", url])
    assert now.exit_code == 2 and "within the retention period of 2920 days" in now.output
    short = runner.invoke(app, ["erase", "--before", "2001-01-01T00:00:00", "--database", url, "--retention-days", "1"])
    assert short.exit_code == 2 and "below the configured 2920 days" in short.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_disclosure WHERE erased_at IS NOT NULL")).scalar() == 0


def test_the_cli_erases_past_retention_and_records_the_retention_applied(tmp_path, monkeypatch):
    monkeypatch.setenv("ISP_AUDIT_RETENTION_DAYS", "30")
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = engine_with(2, url=url, start=START - timedelta(days=400))
    done = CliRunner().invoke(app, ["erase", "--before", chain.utc_text(START)[:19], "--database", url])
    assert done.exit_code == 0 and "erased 2 records" in done.output
    with Session(engine) as session:
        (erasure,) = session.exec(select(Erasure)).all()
    assert (erasure.retention_days, erasure.seq, erasure.prev_hash) == (30, 1, chain.GENESIS)
    assert verify(engine, [], None, min_retention_days=30).ok
    assert not verify(engine, [], None).ok  # below the default floor of eight years


def test_erasures_past_retention_chain_and_verify():
    engine = engine_with(6)
    first, second = erase(engine, 2), erase(engine, 4)
    assert (first.seq, second.seq, second.prev_hash) == (1, 2, first.hash)
    assert (first.first_seq, first.last_seq, second.first_seq, second.last_seq) == (1, 2, 3, 4)
    assert second.hash == erasure_hash(first.hash, second.model_dump())
    assert second.retention_days == DEFAULT_RETENTION_DAYS
    verdict = verify(engine, [], None)
    assert verdict.ok and (verdict.erasures, verdict.erasure_head) == (2, second.hash)
    with Session(engine) as session:
        assert erasure_head(session) == (2, second.hash)


def test_the_guard_refuses_changing_or_deleting_an_erasure():
    engine = engine_with(2)
    erasure = erase(engine, 1)
    for statement in (
        f"UPDATE audit_erasure SET before = '2099-01-01T00:00:00.000000Z' WHERE id = '{erasure.id}'",
        f"DELETE FROM audit_erasure WHERE id = '{erasure.id}'",
    ):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with Session(engine) as session:
        found = session.get(Erasure, erasure.id)
        assert found is not None
        found.records = 0
        with pytest.raises(guard.AppendOnlyViolation):
            session.flush()


@pytest.mark.parametrize(
    ("statement", "bad_seq", "why"),
    [
        ("UPDATE audit_erasure SET before = '2026-01-01T00:00:00.000000Z' WHERE seq = 2", 3, "does not match its hash"),
        ("UPDATE audit_erasure SET records = 1 WHERE seq = 1", 1, "does not match its hash"),
        ("UPDATE audit_erasure SET retention_days = 1 WHERE seq = 1", 1, "does not match its hash"),
        ("DELETE FROM audit_erasure WHERE seq = 2", 3, "which does not exist"),
        ("DELETE FROM audit_erasure WHERE seq = 1", 1, "which does not exist"),
    ],
)
def test_tampering_with_an_erasure_fails_verify_naming_it(statement, bad_seq, why):
    engine = engine_with(6)
    erasures = [erase(engine, 2), erase(engine, 4)]
    tamper(engine, statement)
    verdict = verify(engine, [], None)
    named = [p for p in verdict.problems if p.startswith(f"{bad_seq}: ") and why in p]
    assert not verdict.ok and verdict.first_bad_seq == bad_seq and named
    assert erasures[(bad_seq - 1) // 2].id in named[0]


def test_a_record_erased_without_an_erasure_row_fails_verify():
    engine = engine_with(3)
    tamper(
        engine,
        "UPDATE audit_disclosure SET person = NULL, children = NULL, not_informed_reason = NULL, reason = NULL, "
        "basis_reason = NULL, personal_salt = NULL, erased_at = '2025-11-04T10:00:00.000000Z' WHERE seq = 2",
    )
    verdict = verify(engine, [], None)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 2)
    assert verdict.reason == "record 2 was erased with no erasure recorded"


def forge(engine, fields: dict, erase_records: bool) -> None:
    """An insider writes an erasure row directly (hashed and chained as the service would), and
    maybe erases every record in its name."""
    row = {**fields, "prev_hash": chain.GENESIS, "hash": erasure_hash(chain.GENESIS, fields)}
    with engine.begin() as conn:
        columns = ", ".join(f'"{name}"' for name in row)
        conn.execute(text(f"INSERT INTO audit_erasure ({columns}) VALUES ({', '.join(':' + k for k in row)})"), row)
    if erase_records:
        tamper(
            engine,
            "UPDATE audit_disclosure SET person = NULL, children = NULL, not_informed_reason = NULL, reason = NULL, "
            f"basis_reason = NULL, personal_salt = NULL, erased_at = '{fields['at']}', erasure_id = '{fields['id']}'",
        )


FORGED = {
    "id": "forged-erasure",
    "seq": 1,
    "at": chain.utc_text(NOW),
    "by": "insider",
    "before": chain.utc_text(NOW),
    "retention_days": DEFAULT_RETENTION_DAYS,
    "records": 3,
    "first_seq": 1,
    "last_seq": 3,
}


def test_a_premature_erasure_written_directly_to_the_database_fails_verify_naming_it():
    engine = engine_with(3)
    forge(engine, FORGED, erase_records=True)
    verdict = verify(engine, [], None)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 1)
    assert verdict.reason == "erasure forged-erasure erased records within the retention period"


def test_an_erasure_applying_a_retention_below_the_floor_fails_verify_naming_it():
    engine = engine_with(3)
    at, before = chain.utc_text(START + timedelta(days=2)), chain.utc_text(START + timedelta(hours=3))
    forge(engine, {**FORGED, "retention_days": 1, "at": at, "before": before}, erase_records=True)
    verdict = verify(engine, [], None)
    assert not verdict.ok and verdict.reason == "erasure forged-erasure applied a retention of 1 days, below 2920"
    assert verify(engine, [], None, min_retention_days=1).ok


def checkpoint(engine, now=LATER) -> checkpoints.SignedCheckpoint:
    with UnitOfWork(engine) as uow:
        signed = take_checkpoint(uow, KEY, CheckpointPolicy(1, 1.0), now)
        uow.commit()
    assert signed is not None
    return signed


def test_a_checkpoint_carries_the_erasure_head_and_verify_checks_it(tmp_path):
    engine = engine_with(4)
    erasure = erase(engine, 2)
    signed = checkpoint(engine)
    assert (signed.size, signed.erasures, signed.erasure_head) == (4, 1, erasure.hash)
    assert stored_checkpoints(engine) == [signed]
    [event] = outbox_events(engine, type="uk.isp.audit.checkpoint.v1")
    assert (event["data"]["erasures"], event["data"]["erasure_head"]) == (1, erasure.hash)  # on the bus too
    checkpoints.append_to_file(tmp_path / "checkpoints.jsonl", signed)
    assert checkpoints.read_file(tmp_path / "checkpoints.jsonl") == [signed]
    assert verify(engine, [signed], TRUSTED).ok
    # the erasure chain rewritten consistently (another "by", hashes recomputed): only the checkpoint knows
    rewritten = {**erasure.model_dump(), "by": "someone-else"}
    tamper(
        engine,
        f"UPDATE audit_erasure SET \"by\" = 'someone-else', hash = '{erasure_hash(chain.GENESIS, rewritten)}'",
    )
    assert verify(engine, [], None).ok
    verdict = verify(engine, [signed], TRUSTED)
    assert not verdict.ok and verdict.reason == "checkpoint at 4 names erasure head 1, which the erasures differ from"
    forged = checkpoints.SignedCheckpoint(**{**signed.__dict__, "erasures": 2})
    assert "not signed by the audit key" in (verify(engine, [forged], TRUSTED).reason or "")


def test_a_checkpoint_without_erasures_signs_the_statement_it_always_did():
    engine = engine_with(2)
    signed = checkpoint(engine, NOW)
    assert (signed.erasures, signed.erasure_head) == (None, None)
    legacy = {"head": signed.head, "log": checkpoints.LOG_NAME, "size": 2, "time": signed.time}
    assert signed.statement() == chain.canonical(legacy)
    assert "erasure" not in signed.to_json_line()
    erase(engine, 1)
    assert verify(engine, [signed], TRUSTED).ok  # an old checkpoint still verifies after an erasure
