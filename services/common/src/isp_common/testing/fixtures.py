"""Pytest fixtures shared by every test suite (loaded from the root ``conftest.py``).

Broker choice, in order: ``ISP_KAFKA_BOOTSTRAP`` (any running broker); a
testcontainers Kafka when ``ISP_TEST_KAFKA=container`` and a Docker engine
answers; otherwise the embedded broker on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..launcher import SERVICES, EmbeddedBroker, Suite, create_topics, free_port, free_service_ports
from . import TEST_DIRECTORY_FILE, auth_headers, bearer, unique
from .e2e import KafkaProbe

DIRECTORY_VARIABLE = "ISP_DIRECTORY_FILE"


def pytest_configure(config: pytest.Config) -> None:
    """Every runtime a test builds seeds its directory from the test directory file (unless the
    environment names another), before any test module is even collected."""
    os.environ.setdefault(DIRECTORY_VARIABLE, str(TEST_DIRECTORY_FILE))


DOCKER_SOCKET = "/var/run/docker.sock"


def _docker_available() -> bool:
    """Whether a Docker engine answers. With no ``DOCKER_HOST`` and no socket at Docker's default
    path there is none to ask: docker's client, asked anyway, leaves the socket it could not connect
    unclosed (a ``ResourceWarning`` in whichever test the garbage collector next runs)."""
    if not os.environ.get("DOCKER_HOST") and not os.path.exists(DOCKER_SOCKET):
        return False
    try:
        import docker

        client = docker.from_env()
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def broker_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("ISP_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    if os.environ.get("ISP_TEST_KAFKA") == "container" and _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:3.9.0").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    log_dir = tmp_path_factory.mktemp("broker")
    broker = EmbeddedBroker(port=free_port(), log_path=log_dir / "broker.log")
    broker.start()
    asyncio.run(create_topics(broker.bootstrap))
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


FAST_TIMERS: dict[str, str] = {
    "ISP_TIMER_INTERVAL": "1.0",
    "ISP_LOG_LEVEL": "INFO",
    "ISP_AUDIT_VERIFY_PER_MINUTE": "600",  # tests poll verify until a checkpoint is in; production asks rarely
    "ISP_AUDIT_VERIFY_BURST": "20",
    DIRECTORY_VARIABLE: os.environ.get(DIRECTORY_VARIABLE, str(TEST_DIRECTORY_FILE)),
    **{
        f"ISP_NOTIFICATIONS_{k}": v
        for k, v in (
            ("WEBHOOK_RETRY_BASE", "0.3"),
            ("WEBHOOK_RETRY_MAX_DELAY", "1"),
            ("WEBHOOK_RETRY_WINDOW", "120"),
            ("HEARTBEAT_INTERVAL", "3"),
            ("ENDPOINT_FAILURE_ESCALATION", "4"),
            ("DEADLINE_CHECK_INTERVAL", "1"),
            ("DELIVERY_POLL_INTERVAL", "0.2"),
        )
    },
}
"""Settings every test suite runs with: timers and webhook retries in seconds, the test directory."""


@contextlib.contextmanager
def running_suite(
    var_dir: Path, *, bootstrap: str | None = None, env: dict[str, str] | None = None, timeout: float = 180
) -> Iterator[Suite]:
    """The services as real processes on free ports (on ``bootstrap``, else their own embedded broker),
    with :data:`FAST_TIMERS` and ``env``; stopped afterwards. If they do not start, the end of each
    log is printed before the error is raised."""
    ports = free_service_ports([*SERVICES, "broker"])
    broker_port = ports.pop("broker")
    own_broker = {} if bootstrap else {"ISP_BROKER_PORT": str(broker_port)}
    suite = Suite(
        var_dir=var_dir,
        ports=ports,
        bootstrap=bootstrap,
        env={**FAST_TIMERS, **own_broker, **(env or {})},
    )
    try:
        suite.start(timeout=timeout)
    except Exception:
        suite.stop()
        for log in sorted((var_dir / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise
    try:
        yield suite
    finally:
        suite.stop()


@pytest.fixture(scope="session")
def suite(broker_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """The services as real processes on free ports, sharing the test broker."""
    env = {"ISP_AUDIT_CHECKPOINT_EVERY_RECORDS": "5", "ISP_AUDIT_RECONCILIATION_GRACE_SECONDS": "0"}
    var_dir = Path(tmp_path_factory.mktemp("suite-var"))
    with running_suite(var_dir, bootstrap=broker_bootstrap, env=env, timeout=120) as running:
        yield running


@pytest.fixture(scope="session")
def token_for(suite: Suite) -> Callable[..., str]:
    """``token_for("WSCC-CSC", "social_care")``: a bearer token the suite accepts."""

    def make(org: str, *roles: str, sub: str | None = None) -> str:
        return bearer(suite.var_dir / "keys", org, *roles, sub=sub)

    return make


@pytest.fixture(scope="session")
def headers_for(suite: Suite) -> Callable[..., dict[str, str]]:
    """``headers_for("WSCC-CSC", "social_care")``: ``Authorization`` headers the suite accepts."""

    def make(org: str, *roles: str, sub: str | None = None) -> dict[str, str]:
        return auth_headers(suite.var_dir / "keys", org, *roles, sub=sub)

    return make


@pytest.fixture(scope="session")
def add_organisation(suite: Suite) -> Callable[..., dict[str, Any]]:
    """``add_organisation("CSC-1A2B", "children_social_care", **fields)``: put an organisation in the
    running suite's directory (as ``isp directory add`` does) and give its entry. The notifications
    service has it at once; the referrals service once it has read ``isp.directory.v1``."""
    headers = auth_headers(suite.var_dir / "keys", "PARTNERSHIP", "admin")

    def add(org_id: str, kind: str, **fields: Any) -> dict[str, Any]:
        body = {"name": f"Test organisation {org_id}", "dsl_contact": "dsl@example.test", "kind": kind, **fields}
        response = httpx.put(f"{suite.url('notifications')}/v1/directory/{org_id}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        entry: dict[str, Any] = response.json()
        return entry

    return add


@pytest.fixture(scope="session")
def kafka(broker_bootstrap: str) -> KafkaProbe:
    return KafkaProbe(broker_bootstrap)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL (see :mod:`isp_common.testing.postgres`); skipped where none can run."""
    given = os.environ.get("ISP_TEST_DATABASE_URL")
    if given:
        yield given
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    from .postgres import local_postgres

    try:
        server = local_postgres()
        url = server.__enter__()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"PostgreSQL not available here: {exc} (apt-get install postgresql)")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server, for one test. Every engine the test connected to
    it with is disposed of after the test (its pooled connections closed), so none is left for the
    garbage collector to find open."""
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine

    from .postgres import create_database

    name = unique("test_")
    url = create_database(postgres_server, name)
    engines: weakref.WeakSet[Engine] = weakref.WeakSet()

    def connected(connection: Connection) -> None:
        if connection.engine.url.database == name:
            engines.add(connection.engine)

    event.listen(Engine, "engine_connect", connected)
    try:
        yield url
    finally:
        event.remove(Engine, "engine_connect", connected)
        for engine in list(engines):
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def sqlite_or_postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database for one test, which runs twice: on a SQLite file, then on the test
    PostgreSQL server (skipped, with the reason, where there is none)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


@pytest.fixture(scope="module")  # not session: sync Playwright leaves a loop "running" until it stops
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's package, driven by Playwright (no browser download).

    Skipped, with the reason, only where no Chromium is installed.
    """
    executable = os.environ.get("ISP_CHROMIUM") or next((p for p in CHROMIUM_PATHS if os.path.exists(p)), None)
    if not executable:
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield b
        finally:
            b.close()
