"""The audit service's metrics: the chain's length at scrape time, and each verification's
duration and verdict (the "verify failed" alert watches ``isp_audit_verify_ok``)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from isp_audit import commands
from isp_audit.bootstrap import build
from isp_audit.checkpoints import SignedCheckpoint
from isp_audit.settings import Settings
from isp_audit.verify import verify
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FixedClock

from ..kit import NOW, disclosure, record


def sample(runtime: ServiceRuntime, name: str, **labels: str) -> float | None:
    return runtime.metrics.registry.get_sample_value(name, {"service": "audit", **labels})


def audit_service(tmp_path: Path, records: int) -> ServiceRuntime:
    runtime = build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=FixedClock(NOW))
    for _ in range(records):
        record(runtime.engine, disclosure(), NOW)
    return runtime


def test_the_chain_length_is_read_at_scrape_time(tmp_path):
    runtime = audit_service(tmp_path, 3)
    scraped = TestClient(runtime.api).get("/metrics")  # no token: /metrics needs none
    assert scraped.status_code == 200
    assert 'isp_audit_chain_length{service="audit"} 3.0' in scraped.text
    record(runtime.engine, disclosure(), NOW)
    assert sample(runtime, "isp_audit_chain_length") == 4


def test_a_verification_is_timed_and_its_verdict_kept(tmp_path):
    runtime = audit_service(tmp_path, 2)
    assert commands.verify_trail(runtime.engine, runtime.context).ok  # as the hourly check runs it
    assert sample(runtime, "isp_audit_verify_ok") == 1
    assert sample(runtime, "isp_audit_verify_duration_seconds_count", result="ok") == 1
    forged = SignedCheckpoint(size=1, head="0" * 64, time=NOW.isoformat(), key_id="other", signature="AA==")
    assert not verify(runtime.engine, [forged], None).ok
    assert sample(runtime, "isp_audit_verify_ok") == 0
    assert sample(runtime, "isp_audit_verify_duration_seconds_count", result="failed") == 1
