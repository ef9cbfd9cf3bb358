"""docker-compose.yml and the Dockerfile agree with the code's settings and the contract."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from isp_audit.settings import Settings as AuditSettings
from isp_common.settings import ServiceSettings
from isp_notifications.settings import Settings as NotificationsSettings
from isp_referrals.settings import Settings as ReferralsSettings
from isp_register.settings import Settings as RegisterSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS = {
    "referrals": (ReferralsSettings, 8001),
    "register": (RegisterSettings, 8002),
    "notifications": (NotificationsSettings, 8003),
    "audit": (AuditSettings, 8004),
}


def compose_default(value: str) -> str:
    """What compose substitutes for ``${VAR:-default}`` when VAR is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_every_service_runs_with_its_contract_port_and_own_postgres_database():
    for name, (settings_cls, port) in SETTINGS.items():
        service = COMPOSE["services"][name]
        env = service["environment"]
        assert env[f"ISP_{name.upper()}_PORT"] == str(port)
        assert env[f"ISP_{name.upper()}_DATABASE_URL"].startswith("postgresql://")
        assert env[f"ISP_{name.upper()}_DATABASE_URL"].endswith(f"/isp_{name}")
        assert service["build"]["args"]["SERVICE"] == name
        assert settings_cls().port == port  # the code's default is the contract's port


def test_compose_environment_names_are_settings_the_code_reads(monkeypatch):
    known = set(ServiceSettings.model_fields)
    for name, (settings_cls, _port) in SETTINGS.items():
        env = COMPOSE["services"][name]["environment"]
        for key, value in env.items():
            assert key.startswith("ISP_")
            field = key[len("ISP_") :].lower()
            service_specific = key.startswith(f"ISP_{name.upper()}_")
            assert field in known or service_specific, f"{key} is read by no setting"
            monkeypatch.setenv(key, compose_default(str(value)))
        settings = settings_cls()
        assert settings.kafka_bootstrap == "kafka:9092"
        assert settings.environment == "production"
        assert settings.resolved_database_url.startswith("postgresql://")
        for key in env:
            monkeypatch.delenv(key, raising=False)


def test_each_database_the_services_use_is_created_by_the_init_script():
    init = (ROOT / "deploy/postgres/init.sql").read_text()
    for name in SETTINGS:
        assert f"CREATE DATABASE isp_{name};" in init


def test_dockerfile_runs_the_service_module_named_by_the_build_arg():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert "uv sync --frozen --no-dev --all-packages" in dockerfile
    assert "python -m isp_${ISP_SERVICE}" in dockerfile


def test_the_image_carries_the_directory_file_the_services_start_from():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert "COPY deploy/directory.json /app/deploy/directory.json" in dockerfile
    assert "ISP_DIRECTORY_FILE=/app/deploy/directory.json" in dockerfile
    assert (ROOT / "deploy/directory.json").is_file()
