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
    assert any("ISP_PARTNERSHIP_KEY" in problem for problem in ServiceSettings().production_problems())
    monkeypatch.setenv("ISP_PARTNERSHIP_KEY", "a-real-secret-from-the-vault-of-32-chars-or-more")
    assert not any("ISP_PARTNERSHIP_KEY" in problem for problem in ServiceSettings().production_problems())


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
        assert consumer._fetch_min_bytes == 1  # aiokafka's own default, unless told otherwise
    finally:
        await consumer.stop()


async def test_a_services_consumer_asks_each_fetch_for_the_setting_s_bytes(monkeypatch, tmp_path):
    """A consumer at a steady rate asked for events nearly one at a time; the broker now answers a
    fetch when it can bring ``ISP_CONSUMER_FETCH_MIN_BYTES`` (32 KiB unless set) or the wait is up."""
    from isp_common.runtime import ServiceRuntime

    assert ServiceSettings(var_dir=tmp_path).consumer_fetch_min_bytes == 32768
    monkeypatch.setenv("ISP_CONSUMER_FETCH_MIN_BYTES", "4096")
    settings = ServiceSettings(
        var_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", consumer_fetch_max_wait_ms=42, database_url="sqlite://"
    )
    runtime = ServiceRuntime(settings, title="demo")
    consumer = runtime.faust.consumer._thread._create_worker_consumer(runtime.faust.transport)
    try:
        assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (4096, 42)
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


def production(tmp_path, **overrides):
    fields = {
        "service_name": "demo",
        "var_dir": tmp_path,
        "environment": "production",
        "partnership_key": "s" * 40,
        "jwt_jwks_url": "https://login.example.org/jwks",
        "jwt_issuer": "https://login.example.org",
        "jwt_audience": "isp",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "svc",
        "kafka_sasl_password": "k" * 40,
        "database_url": "postgresql://isp_demo:pw@db/isp_demo",
        "migration_database_url": "postgresql://isp_demo_owner:pw@db/isp_demo",
    }
    return ServiceSettings(**(fields | overrides))


def test_a_complete_production_configuration_has_no_problems(tmp_path):
    assert production(tmp_path).production_problems() == []


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"jwt_jwks_url": None}, "ISP_JWT_JWKS_URL"),
        ({"jwt_issuer": None}, "ISP_JWT_ISSUER"),
        ({"jwt_audience": None}, "ISP_JWT_AUDIENCE"),
        ({"partnership_key": "change-me-partnership-key"}, "ISP_PARTNERSHIP_KEY"),
        ({"partnership_key": "short-but-not-default"}, "ISP_PARTNERSHIP_KEY"),
        ({"database_url": "postgresql://postgres:pw@db/isp_demo"}, "least-privileged role"),
        ({"kafka_security_protocol": "PLAINTEXT"}, "ISP_KAFKA_SECURITY_PROTOCOL"),
        ({"kafka_sasl_password": None}, "ISP_KAFKA_SASL_PASSWORD"),
    ],
)
def test_production_fails_closed_naming_what_to_change(tmp_path, overrides, named):
    problems = production(tmp_path, **overrides).production_problems()
    assert len(problems) == 1 and named in problems[0]
    assert "pw" not in problems[0] and "s" * 40 not in problems[0]


def test_the_embedded_default_has_no_production_problems(tmp_path):
    assert ServiceSettings(var_dir=tmp_path).production_problems() == []


def test_a_service_in_production_with_a_problem_refuses_to_start(tmp_path, caplog):
    from isp_common.serve import refuse_unsafe_production

    with pytest.raises(SystemExit) as stopped:
        refuse_unsafe_production(production(tmp_path, jwt_audience=None))
    assert stopped.value.code == 2
    assert any("ISP_JWT_AUDIENCE" in record.getMessage() for record in caplog.records)
    refuse_unsafe_production(production(tmp_path))


def test_kafka_clients_log_in_as_the_settings_say(tmp_path):
    from isp_common.kafka import client_auth, credentials
    from isp_common.kafka_clients import PLAINTEXT

    assert credentials(ServiceSettings(var_dir=tmp_path)) is None
    assert client_auth(None) == PLAINTEXT
    sasl = production(tmp_path)
    auth = client_auth(credentials(sasl))
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("svc", "k" * 40)
    assert auth["ssl_context"].verify_mode.name == "CERT_REQUIRED"
    assert "k" * 40 not in repr(sasl)


def test_every_kafka_client_of_a_runtime_gets_the_same_login(tmp_path):
    from isp_common.runtime import ServiceRuntime

    runtime = ServiceRuntime(production(tmp_path, database_url="sqlite://"), title="demo")
    assert runtime.kafka_auth["security_protocol"] == "SASL_SSL"
    assert runtime.admin.auth is runtime.kafka_auth
    assert runtime.faust.conf.broker_credentials is runtime.kafka_credentials


def test_the_relays_patience_is_a_shared_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("ISP_OUTBOX_MAX_ATTEMPTS", "3")
    assert ServiceSettings(var_dir=tmp_path).outbox_max_attempts == 3
    monkeypatch.setenv("ISP_OUTBOX_MAX_ATTEMPTS", "0")
    with pytest.raises(ValidationError, match="ISP_OUTBOX_MAX_ATTEMPTS"):
        ServiceSettings(var_dir=tmp_path)


def test_a_service_never_assumes_where_it_runs(caplog):
    from isp_common.serve import refuse_unstated_environment

    with pytest.raises(SystemExit) as stopped:
        refuse_unstated_environment({})
    assert stopped.value.code == 2
    assert any("ISP_ENVIRONMENT is not set" in record.getMessage() for record in caplog.records)
    refuse_unstated_environment({"ISP_ENVIRONMENT": "embedded"})
    refuse_unstated_environment({"ISP_ENVIRONMENT": "production"})


@pytest.mark.parametrize(
    ("environment", "said"),
    [(None, "ISP_ENVIRONMENT is not set"), ("production", "ISP_JWT_JWKS_URL must be set in production")],
)
def test_a_service_process_refuses_to_start_before_touching_anything(tmp_path, environment, said):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("ISP_")}
    env["ISP_VAR_DIR"] = str(tmp_path / "var")
    if environment:
        env["ISP_ENVIRONMENT"] = environment
    started = subprocess.run([sys.executable, "-m", "isp_gateway"], env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 2
    assert said in started.stdout + started.stderr
    assert not (tmp_path / "var" / "gateway.db").exists()  # nothing migrated, no key made


def test_a_service_process_waits_for_its_broker_then_says_in_one_line_which_did_not_answer(tmp_path):
    """Started with no broker answering, a service ended in a forty-line traceback from uvicorn's
    start-up, at once: now it asks again until ``ISP_KAFKA_START_TIMEOUT``, then says which broker."""
    import os
    import subprocess
    import sys

    from isp_common.launcher import free_port

    nobody = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISP_")}
    env.update(
        ISP_VAR_DIR=str(tmp_path / "var"),
        ISP_ENVIRONMENT="embedded",
        ISP_KAFKA_BOOTSTRAP=f"127.0.0.1:{nobody}",
        ISP_KAFKA_START_TIMEOUT="1",
        ISP_LOG_FORMAT="text",
    )
    started = subprocess.run([sys.executable, "-m", "isp_gateway"], env=env, capture_output=True, text=True, timeout=60)
    said = started.stdout + started.stderr
    assert started.returncode == 3
    assert "Traceback" not in said and "Unable connect" not in said
    assert f"the Kafka broker at 127.0.0.1:{nobody} does not answer (KafkaConnectionError); asking again" in said
    assert f"refusing to start: the Kafka broker at 127.0.0.1:{nobody} did not answer within 1s" in said
    assert not (tmp_path / "var" / "gateway.db").exists()  # nothing built


@pytest.mark.integration
async def test_a_service_waits_for_a_broker_that_starts_after_it(tmp_path, caplog):
    import asyncio
    import logging

    from isp_common.kafka_clients import PLAINTEXT, reach_broker
    from isp_common.launcher import EmbeddedBroker, free_port

    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    waiting = asyncio.create_task(reach_broker(broker.bootstrap, PLAINTEXT, timeout=60, logger=logging.getLogger("t")))
    with caplog.at_level(logging.WARNING, logger="t"):
        while not any("does not answer" in r.getMessage() for r in caplog.records):  # asked once, in vain
            assert not waiting.done()
            await asyncio.sleep(0.05)
        await asyncio.to_thread(broker.start)
        try:
            assert await asyncio.wait_for(waiting, timeout=30) is True
        finally:
            broker.stop()
    assert await reach_broker(broker.bootstrap, PLAINTEXT, timeout=0) is False  # gone again: no wait at 0
