"""`make run`'s launcher: readiness line, clean stop on SIGTERM, and a named failure."""

from __future__ import annotations

import asyncio
import gc
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from isp_common.launcher import (
    SERVICES,
    EmbeddedBroker,
    LaunchError,
    Suite,
    create_topics,
    free_port,
    free_ports,
    free_service_ports,
    port_open,
    spawn,
    topic_partitions,
)
from isp_schemas import topics

pytestmark = pytest.mark.integration


def test_embedded_broker_starts_listens_and_stops(tmp_path):
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    try:
        assert port_open("127.0.0.1", broker.port)
    finally:
        broker.stop()
    assert not port_open("127.0.0.1", broker.port)


def test_embedded_broker_leaves_its_log_to_the_child(tmp_path):
    """The parent opened the broker's log for the child and never closed its own copy: one
    descriptor leaked per start, and a ``ResourceWarning`` when it was collected."""
    log = tmp_path / "broker.log"
    broker = EmbeddedBroker(port=free_port(), log_path=log)
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        broker.start()
        try:
            gc.collect()
            held = [fd for fd in os.listdir("/proc/self/fd") if _points_to(f"/proc/self/fd/{fd}", log)]
            child = [
                fd
                for fd in os.listdir(f"/proc/{broker.process.pid}/fd")
                if _points_to(f"/proc/{broker.process.pid}/fd/{fd}", log)
            ]
        finally:
            broker.stop()
    assert held == []
    assert child  # the broker itself still writes to it
    # other tests' garbage may be collected here too: only this log's handle counts
    assert [w for w in caught if issubclass(w.category, ResourceWarning) and str(log) in str(w.message)] == []


def test_every_child_the_launcher_starts_leaves_its_log_to_the_child(tmp_path):
    """The migrations and each service were started the same way as the broker, each log held open
    by the launcher for as long as it ran."""
    log = tmp_path / "child.log"
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        child = spawn([sys.executable, "-c", "print('written by the child')"], log)
        assert child.wait(timeout=30) == 0
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning) and str(log) in str(w.message)] == []
    assert log.read_text() == "written by the child\n"
    quiet = spawn([sys.executable, "-c", "print('discarded')"], None)
    assert quiet.wait(timeout=30) == 0


def _points_to(link: str, path: Path) -> bool:
    try:
        return os.readlink(link) == str(path)
    except OSError:  # closed while listed
        return False


def test_the_launcher_creates_its_topics_with_the_partitions_the_services_are_told(tmp_path, monkeypatch):
    """``ISP_TOPIC_PARTITIONS`` is read by the services for the topics they create; the launcher
    created the static topics with six whatever it said, so the two could disagree."""
    monkeypatch.delenv("ISP_TOPIC_PARTITIONS", raising=False)
    assert topic_partitions() == topics.DEFAULT_PARTITIONS
    assert topic_partitions({"ISP_TOPIC_PARTITIONS": "3"}) == 3
    monkeypatch.setenv("ISP_TOPIC_PARTITIONS", "2")
    assert topic_partitions() == 2
    assert topic_partitions({"ISP_TOPIC_PARTITIONS": "4"}) == 4  # the suite's own env first
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    try:
        asyncio.run(create_topics(broker.bootstrap))
        counts = asyncio.run(_partition_counts(broker.bootstrap))
    finally:
        broker.stop()
    assert set(counts) == set(topics.STATIC_TOPICS)
    assert counts.pop(topics.AUDIT_CHECKPOINTS) == 1  # the catalogue's own number: one ordered log
    assert set(counts.values()) == {2}


def test_the_services_partitions_default_to_the_topic_catalogues():
    from isp_common.settings import ServiceSettings

    assert ServiceSettings.model_fields["topic_partitions"].default == topics.DEFAULT_PARTITIONS


async def _partition_counts(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics.STATIC_TOPICS))
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described}


@pytest.mark.parametrize("value", ["0", "-1", "six", "1.5"])
def test_a_bad_number_of_partitions_is_refused_before_anything_starts(tmp_path, value):
    suite = Suite(
        var_dir=tmp_path / "var",
        ports=free_service_ports(),
        bootstrap="127.0.0.1:1",
        env={"ISP_TOPIC_PARTITIONS": value},
    )
    with pytest.raises(LaunchError, match="ISP_TOPIC_PARTITIONS: expected a whole number of at least 1"):
        suite.start(timeout=5)
    assert suite.processes == {} and suite.migrating is None


def test_free_ports_are_all_different_and_free():
    ports = free_ports(64)
    assert len(set(ports)) == 64
    assert not any(port_open("127.0.0.1", port) for port in ports)
    given = free_service_ports([*SERVICES, "broker"])
    assert list(given) == [*SERVICES, "broker"] and len(set(given.values())) == len(given)


def test_two_services_given_one_port_are_refused_before_anything_starts(tmp_path):
    ports = free_service_ports()
    ports["audit"] = ports["notifications"]
    suite = Suite(var_dir=tmp_path / "var", ports=ports, bootstrap="127.0.0.1:1")
    with pytest.raises(LaunchError, match=rf"notifications, audit on port {ports['audit']}"):
        suite.start(timeout=5)
    assert suite.processes == {} and suite.migrating is None


def test_a_service_whose_port_another_service_answers_is_not_taken_as_ready(tmp_path):
    """The readiness check reads who answers: a port answered by another service (its process
    given the same port, or one that took it first) fails the start, naming both."""

    class Notifications(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = json.dumps({"ready": True, "checks": {}, "service": "notifications"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Notifications)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    starting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # audit, still starting
    try:
        suite = Suite(var_dir=tmp_path, ports={"audit": server.server_address[1]}, services=("audit",))
        suite.processes["audit"] = starting
        with pytest.raises(LaunchError, match=rf"audit: port {server.server_address[1]} is answered by notifications"):
            suite.wait_ready(timeout=10)
    finally:
        starting.kill()
        starting.wait()
        server.shutdown()
        server.server_close()


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
    ports = free_service_ports([*SERVICES, "broker"])
    broker_port = ports.pop("broker")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["notifications"]))
        blocker.listen()
        proc = subprocess.run(
            [sys.executable, "-m", "isp_common.launcher"],
            env=launcher_env(tmp_path, ports, broker_port),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode != 0
    assert "notifications" in proc.stderr and "in use" in proc.stderr


def test_launcher_told_of_a_broker_that_is_not_there_says_so_in_one_line(tmp_path):
    """``ISP_KAFKA_BOOTSTRAP`` naming a broker that does not answer ended ``make run`` with
    aiokafka's own log line and a traceback, and left the migrations it had started running."""
    ports = free_service_ports([*SERVICES, "broker", "nobody"])
    nobody = ports.pop("nobody")
    env = {**launcher_env(tmp_path, ports, ports.pop("broker")), "ISP_KAFKA_BOOTSTRAP": f"127.0.0.1:{nobody}"}
    proc = subprocess.run(
        [sys.executable, "-m", "isp_common.launcher"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"isp: failed to start: broker: cannot reach 127.0.0.1:{nobody} (KafkaConnectionError): is it running? "
        "(ISP_KAFKA_BOOTSTRAP)"
    ]
    assert processes_naming(tmp_path / "var") == []


@pytest.mark.e2e
def test_launcher_prints_one_ready_line_then_stops_everything_on_sigterm(tmp_path):
    ports = free_service_ports([*SERVICES, "broker"])
    broker_port = ports.pop("broker")
    started = time.monotonic()
    with subprocess.Popen(  # its pipes are closed on leaving
        [sys.executable, "-m", "isp_common.launcher"],
        env=launcher_env(tmp_path, ports, broker_port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
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


def processes_naming(var_dir) -> list[int]:
    """Pids of live processes whose environment names ``var_dir`` (the launcher's children, its broker)."""
    marker = f"ISP_VAR_DIR={var_dir}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if marker in environ.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat") as stat:
                        if stat.read().rsplit(")", 1)[1].split()[0] != "Z":  # a zombie holds nothing
                            pids.append(int(entry))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def wait_for_file(path, proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.e2e
@pytest.mark.parametrize("phase", ["broker", "services"])
def test_ctrl_c_during_start_up_stops_everything_within_seconds(tmp_path, phase):
    ports = free_service_ports([*SERVICES, "broker"])
    broker_port = ports.pop("broker")
    env = launcher_env(tmp_path, ports, broker_port)
    var_dir = tmp_path / "var"
    with subprocess.Popen(  # its pipes are closed on leaving
        [sys.executable, "-m", "isp_common.launcher"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        try:
            # the broker's log appears as it starts; the last service's as the services start
            wait_for_file(var_dir / "logs" / ("broker.log" if phase == "broker" else "audit.log"), proc, timeout=60)
            assert proc.poll() is None
            interrupted = time.monotonic()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=30)
            took = time.monotonic() - interrupted
        finally:
            if proc.poll() is None:
                proc.kill()
        assert code == 130, proc.stderr.read()
    assert took < 10, f"took {took:.1f}s to stop after Ctrl-C"
    assert processes_naming(var_dir) == []
    for port in ports.values():
        assert not port_open("127.0.0.1", port)


@pytest.mark.e2e
def test_make_run_stops_saying_so_when_the_embedded_broker_dies(tmp_path):
    ports = free_service_ports([*SERVICES, "broker"])
    broker_port = ports.pop("broker")
    var_dir = tmp_path / "var"
    with subprocess.Popen(  # its pipes are closed on leaving
        [sys.executable, "-m", "isp_common.launcher"],
        env=launcher_env(tmp_path, ports, broker_port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            line = proc.stdout.readline()
            assert line.startswith("ISP suite ready"), line + (proc.stderr.read() if proc.poll() is not None else "")
            pids = processes_naming(var_dir)
            brokers = [pid for pid in pids if b"tansu" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert len(brokers) == 1
            os.kill(brokers[0], signal.SIGKILL)
            assert proc.wait(timeout=60) == 1
            assert "embedded broker exited" in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert processes_naming(var_dir) == []
