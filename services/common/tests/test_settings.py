"""Settings: bank-holiday overrides, and production's refusal of embedded secrets."""

from __future__ import annotations

from datetime import date

import pytest
from isp_common.db import make_engine
from isp_common.settings import ServiceSettings, service_config
from pydantic import ValidationError


def test_settings_add_and_remove_bank_holidays_declared_at_short_notice(monkeypatch):
    monkeypatch.setenv("ISP_EXTRA_BANK_HOLIDAYS", '["2026-11-23"]')
    monkeypatch.setenv("ISP_REMOVED_BANK_HOLIDAYS", '["2026-12-28"]')
    calendar = ServiceSettings().working_calendar()
    assert not calendar.is_working_day(date(2026, 11, 23))
    assert calendar.is_working_day(date(2026, 12, 28))
    assert calendar.working_days_after(date(2026, 11, 20), 1) == date(2026, 11, 24)


def test_production_refuses_the_public_embedded_partnership_key(monkeypatch):
    monkeypatch.setenv("ISP_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="ISP_PARTNERSHIP_KEY"):
        ServiceSettings()
    monkeypatch.setenv("ISP_PARTNERSHIP_KEY", "a-real-secret-from-the-vault")
    assert ServiceSettings().partnership_key == "a-real-secret-from-the-vault"


class DemoSettings(ServiceSettings):
    model_config = service_config("demo")

    service_name: str = "demo"
    port: int = 8009
    webhook_timeout: float = 5.0


def test_a_services_own_settings_are_read_from_isp_service_names(monkeypatch):
    monkeypatch.setenv("ISP_DEMO_WEBHOOK_TIMEOUT", "2.5")
    monkeypatch.setenv("ISP_DEMO_PORT", "9100")
    monkeypatch.setenv("ISP_DEMO_DATABASE_URL", "sqlite:///demo.db")
    monkeypatch.setenv("ISP_WEBHOOK_TIMEOUT", "99")  # not the service's name for it
    monkeypatch.setenv("ISP_PORT", "9999")
    settings = DemoSettings()
    assert (settings.webhook_timeout, settings.port, settings.database_url) == (2.5, 9100, "sqlite:///demo.db")


def test_shared_settings_keep_their_isp_names_whatever_the_service(monkeypatch):
    monkeypatch.setenv("ISP_KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("ISP_DEMO_KAFKA_BOOTSTRAP", "not-read:1")
    monkeypatch.setenv("ISP_HANDLER_ATTEMPTS", "7")
    monkeypatch.setenv("ISP_HOST", "0.0.0.0")  # deploy/Dockerfile sets it for every service
    settings = DemoSettings()
    assert (settings.kafka_bootstrap, settings.handler_attempts, settings.host) == ("broker:9092", 7, "0.0.0.0")


def test_every_setting_may_be_passed_by_name_in_code(monkeypatch, tmp_path):
    monkeypatch.setenv("ISP_DEMO_WEBHOOK_TIMEOUT", "2.5")
    settings = DemoSettings(webhook_timeout=1.0, kafka_bootstrap="code:9092", var_dir=tmp_path)
    assert (settings.webhook_timeout, settings.kafka_bootstrap, settings.var_dir) == (1.0, "code:9092", tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'demo.db'}"


async def test_the_faust_consumer_waits_for_a_fetch_no_longer_than_the_setting():
    """faust fixes 1.5 s; the embedded broker holds every fetch that long, so each hop would cost it."""
    from isp_common.kafka import FaustApp

    app = FaustApp("t", broker="kafka://127.0.0.1:1", fetch_max_wait_ms=42, autodiscover=False, store="memory://")
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 42
    finally:
        await consumer.stop()


def test_production_without_a_jwks_url_warns_that_tokens_are_checked_against_the_local_key(tmp_path, caplog):
    import logging

    from isp_common.runtime import ServiceRuntime

    settings = ServiceSettings(
        service_name="demo", var_dir=tmp_path, environment="production", partnership_key="a-real-secret-" * 3
    )
    with caplog.at_level(logging.WARNING, logger="isp_common.runtime"):
        ServiceRuntime(settings, title="t", engine=make_engine("sqlite://"))
    assert any("no ISP_JWT_JWKS_URL in production" in r.getMessage() for r in caplog.records)
