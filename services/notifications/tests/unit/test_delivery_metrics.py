"""Notifications' metrics and failure logs: webhook tries by result, decisions by basis and
outcome, alerts past their deadline, missed deadlines counted once committed, and a failing
endpoint logged once per backoff step naming its subscription and organisation (never its URL)."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest
from isp_common.testing import FakeHttpClient, FixedClock

from .test_delivery import FAST, SCHEDULED, consent_and_dna, drain, failing, missed_an_hour_ago, subscribe

DNA = "uk.isp.alert.did_not_attend.v1"
URL = "http://receiver.test/hook?token=secret-query"


def sample(runtime, name: str, **labels: str) -> float:
    return runtime.metrics.registry.get_sample_value(name, {"service": "notifications", **labels}) or 0.0


async def test_webhook_tries_are_counted_by_result(make_runtime):
    runtime = make_runtime(FakeHttpClient(failing(3)), **FAST)
    subscribe(runtime)
    consent_and_dna(runtime)
    await drain(runtime)
    assert sample(runtime, "isp_webhook_attempts_total", result="retry", type="alert") == 3
    assert sample(runtime, "isp_webhook_attempts_total", result="delivered", type="alert") == 1


def test_a_decision_is_counted_by_basis_and_outcome(make_runtime):
    runtime = make_runtime(**FAST)
    consent_and_dna(runtime)
    assert sample(runtime, "isp_decisions_total", basis="consent", outcome="shared") == 1
    assert sample(runtime, "isp_decisions_total", basis="none", outcome="withheld") == 0


async def test_a_dead_endpoint_is_logged_once_per_backoff_step_naming_subscription_and_org(make_runtime, caplog):
    up = {"ok": False}
    http = FakeHttpClient(lambda _request: httpx.Response(200 if up["ok"] else 503))
    runtime = make_runtime(http, **FAST)  # the wait doubles once (0.01 s, then the 0.02 s cap)
    subscribe(runtime, url=URL)
    consent_and_dna(runtime)
    with caplog.at_level(logging.INFO, logger="isp_notifications.delivery"):
        await drain(runtime, rounds=10)
        consent_and_dna(runtime)  # a second alert behind the same dead endpoint: nothing new to say
        await drain(runtime, rounds=5)
        failing_lines = [r.getMessage() for r in caplog.records if "failing" in r.getMessage()]
        up["ok"] = True
        await drain(runtime, rounds=2)
    assert len(http.requests) >= 15
    assert len(failing_lines) == 2
    assert all("sub-1" in line and "WSCC-CSC" in line and "HTTP 503" in line for line in failing_lines)
    assert "delivering again" in caplog.records[-1].getMessage()
    assert not any("receiver.test" in r.getMessage() or "secret-query" in r.getMessage() for r in caplog.records)


async def test_a_delivery_given_up_is_logged_once(make_runtime, caplog):
    runtime = make_runtime(FakeHttpClient(failing(1000)), **{**FAST, "webhook_retry_window": 2.0})
    subscribe(runtime)
    consent_and_dna(runtime)
    consent_and_dna(runtime)
    with caplog.at_level(logging.INFO, logger="isp_notifications.delivery"):
        await drain(runtime, rounds=6)
    given_up = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(given_up) == 1 and "was given up" in given_up[0].getMessage()
    assert sample(runtime, "isp_webhook_attempts_total", result="failed", type="alert") >= 1


@pytest.mark.parametrize("commit", [True, False])
def test_alerts_past_deadline_are_a_gauge_and_a_missed_deadline_counts_once_committed(
    make_runtime, clock: FixedClock, commit: bool
):
    from isp_notifications.delivery import escalation

    runtime, _alert = missed_an_hour_ago(make_runtime, clock)
    assert sample(runtime, "isp_alerts_past_deadline", type=DNA) == 0
    clock.set(SCHEDULED + timedelta(hours=24, minutes=1))
    assert sample(runtime, "isp_alerts_past_deadline", type=DNA) == 1
    with runtime.uow() as uow:
        assert escalation.escalate_missed_deadlines(uow, clock.now()) == 1
        if commit:
            uow.commit()
    assert sample(runtime, "isp_deadlines_missed_total", type=DNA) == (1 if commit else 0)
