"""CONTRACT §11 on a real service: an HTTP body over 1 MiB is refused before anything reads it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from isp_common.limits import MAX_BODY_BYTES
from isp_common.testing import FixedClock, migrated_engine
from isp_referrals.bootstrap import build
from isp_referrals.settings import Settings


def test_every_service_refuses_an_oversized_body_before_the_token_is_checked():
    runtime = build(Settings(), engine=migrated_engine("isp_referrals"), clock=FixedClock())
    response = TestClient(runtime.api).post("/v1/referrals", content=b"{" + b" " * (2 * MAX_BODY_BYTES) + b"}")
    assert response.status_code == 413  # not 401: nothing of it was read
