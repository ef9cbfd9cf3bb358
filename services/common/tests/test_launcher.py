"""`make run`'s launcher: readiness line, clean stop on SIGTERM, and a named failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from isp_common.launcher import SERVICES, EmbeddedBroker, LaunchError, free_port, port_open

pytestmark = pytest.mark.integration


def test_embedded_broker_starts_listens_and_stops(tmp_path):
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    try:
        assert port_open("127.0.0.1", broker.port)
    finally:
        broker.stop()
    assert not port_open("127.0.0.1", broker.port)


def test_embedded_broker_refuses_a_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(LaunchError, match="broker: port"):
            EmbeddedBroker(port=s.getsockname()[1]).start()


def launcher_env(tmp_path, ports: dict[str, int], broker_port: int) -> dict[str, str]:
    env = {**os.environ, "ISP_VAR_DIR": str(tmp_path / "var"), "ISP_BROKER_PORT": str(broker_port)}
    env.pop("ISP_KAFKA_BOOTSTRAP", None)
    env.update({f"ISP_{n.upper()}_PORT": str(p) for n, p in ports.items()})
    return env


def test_launcher_exits_non_zero_naming_the_part_that_did_not_start(tmp_path):
    ports = {name: free_port() for name in SERVICES}
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["notifications"]))
        blocker.listen()
        proc = subprocess.run(
            [sys.executable, "-m", "isp_common.launcher"],
            env=launcher_env(tmp_path, ports, free_port()),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode != 0
    assert "notifications" in proc.stderr and "in use" in proc.stderr


@pytest.mark.e2e
def test_launcher_prints_one_ready_line_then_stops_everything_on_sigterm(tmp_path):
    ports = {name: free_port() for name in SERVICES}
    broker_port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "isp_common.launcher"],
        env=launcher_env(tmp_path, ports, broker_port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        ready_after = time.monotonic() - started
        assert line.startswith("ISP suite ready"), line + proc.stderr.read() if proc.poll() is not None else line
        assert ready_after < 60
        for port in ports.values():
            assert port_open("127.0.0.1", port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    for port in [*ports.values(), broker_port]:
        assert not port_open("127.0.0.1", port)
    print(f"make run ready after {ready_after:.1f}s")
