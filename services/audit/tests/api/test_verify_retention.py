"""GET /v1/verify judges erasures by the deployment's own retention period, not a fixed one."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from isp_audit import retention
from isp_audit.bootstrap import build
from isp_audit.settings import Settings
from isp_common.db import make_engine
from isp_common.testing import FixedClock, auth_headers
from sqlmodel import Session

from ..kit import START, disclosure, record

THIRTY_DAYS_ON = START + timedelta(days=31)


def verify_with(tmp_path, retention_days: int, erase_with: int) -> dict:
    engine = make_engine(f"sqlite:///{tmp_path}/audit-{retention_days}.db")
    settings = Settings(var_dir=tmp_path, retention_days=retention_days)
    runtime = build(settings, engine=engine, clock=FixedClock(THIRTY_DAYS_ON))
    record(engine, disclosure(shared_at=START), START)
    with Session(engine) as session:
        erased = retention.erase_before(session, START + timedelta(days=1), "test", THIRTY_DAYS_ON, erase_with)
        assert erased is not None and erased.records == 1
        session.commit()
    client = TestClient(runtime.api)
    response = client.get(
        "/v1/verify", headers=auth_headers(settings.resolved_key_dir, "PARTNERSHIP", "partnership_ig")
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_an_erasure_within_a_shorter_configured_retention_verifies(tmp_path):
    assert verify_with(tmp_path, retention_days=30, erase_with=30)["ok"] is True


def test_an_erasure_shorter_than_the_configured_retention_fails(tmp_path):
    verdict = verify_with(tmp_path, retention_days=60, erase_with=30)
    assert verdict["ok"] is False


def test_whole_chain_verification_is_rate_limited_per_organisation(tmp_path):
    settings = Settings(var_dir=tmp_path, verify_per_minute=1, verify_burst=2)
    runtime = build(settings, engine=make_engine("sqlite://"), clock=FixedClock(THIRTY_DAYS_ON))
    client = TestClient(runtime.api)
    key_dir = settings.resolved_key_dir
    ours, theirs = (
        auth_headers(key_dir, "PARTNERSHIP", "partnership_ig"),
        auth_headers(key_dir, "CGL-WSX", "ig_officer"),
    )
    assert [client.get("/v1/verify", headers=ours).status_code for _ in range(2)] == [200, 200]
    refused = client.get("/v1/verify", headers=ours)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert client.get("/v1/verify", headers=theirs).status_code == 200  # another organisation's own allowance
