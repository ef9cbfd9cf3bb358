"""isp_common.memory: the allocator settings every service process gets."""

from __future__ import annotations

import asyncio
import ctypes

import pytest
from isp_common import launcher, memory
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime


class Recorded:
    """Stands in for subprocess.Popen: keeps each command's environment, starts nothing."""

    def __init__(self) -> None:
        self.envs: dict[str, dict[str, str]] = {}

    def __call__(self, args, env, **_kwargs):
        self.envs[args[-1]] = env
        return None


@pytest.fixture
def recorded(monkeypatch) -> Recorded:
    rec = Recorded()
    monkeypatch.setattr(launcher.subprocess, "Popen", rec)
    monkeypatch.setattr(launcher, "port_open", lambda *_a, **_k: False)
    return rec


def start_all(tmp_path, **env: str) -> launcher.Suite:
    suite = launcher.Suite(var_dir=tmp_path, bootstrap="127.0.0.1:1", env=dict(env))
    (tmp_path / "logs").mkdir()
    for name in suite.services:
        suite._start_service(name)
    return suite


def test_the_launcher_gives_every_service_the_allocator_settings(tmp_path, recorded, monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    start_all(tmp_path)
    assert set(recorded.envs) == {f"isp_{name}" for name in launcher.SERVICES}
    for env in recorded.envs.values():
        assert env["MALLOC_ARENA_MAX"] == memory.ALLOCATOR_ENV["MALLOC_ARENA_MAX"] == "2"
        assert env["ISP_ENVIRONMENT"]  # the rest of the environment is still there


def test_an_allocator_setting_the_operator_made_wins(tmp_path, recorded, monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    start_all(tmp_path)
    assert {env["MALLOC_ARENA_MAX"] for env in recorded.envs.values()} == {"4"}


def test_a_suite_setting_wins_too(tmp_path, recorded, monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    start_all(tmp_path, MALLOC_ARENA_MAX="1")
    assert {env["MALLOC_ARENA_MAX"] for env in recorded.envs.values()} == {"1"}


def test_with_allocator_settings_adds_only_what_is_missing():
    assert memory.with_allocator_settings({"A": "b"}) == {"A": "b", "MALLOC_ARENA_MAX": "2"}
    assert memory.with_allocator_settings({"MALLOC_ARENA_MAX": "8"}) == {"MALLOC_ARENA_MAX": "8"}


def resident_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(memory.heap_trimmer() is None, reason="the C library has no malloc_trim (not glibc)")
def test_the_trimmer_gives_back_what_the_heap_holds_free():
    # 400 blocks of 64 KiB (under glibc's mmap threshold: they come from the heap), written so they
    # are resident, then all freed but the last: it pins the heap's top, so glibc keeps the rest.
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = 64 * 1024
    blocks = [libc.malloc(block) for _ in range(400)]
    for address in blocks:
        ctypes.memset(address, 1, block)
    for address in blocks[:-1]:
        libc.free(address)
    held = resident_kib()
    trim = memory.heap_trimmer()
    assert trim is not None
    assert trim() is True
    assert held - resident_kib() > 20_000  # of the 25 MB freed
    libc.free(blocks[-1])


def test_a_runtime_checks_every_memory_trim_interval_whether_to_trim(monkeypatch, settings, clock):
    def trim() -> bool:
        return True

    checks: list[object] = []
    timers: dict[str, tuple[float, object]] = {}

    class Recording:
        def __init__(self, given) -> None:
            self.given = given

        def check(self) -> bool:
            checks.append(self.given)
            return False

    monkeypatch.setattr(memory, "heap_trimmer", lambda: trim)
    monkeypatch.setattr(memory, "QuietTrim", Recording)
    monkeypatch.setattr(ServiceRuntime, "every", lambda _rt, s, job, name=None: timers.update({job.__name__: (s, job)}))
    engine = make_engine("sqlite://")
    ServiceRuntime(settings.model_copy(update={"memory_trim_interval": 0.5}), title="t", engine=engine, clock=clock)
    seconds, job = timers["trim_heap"]
    assert seconds == 0.5
    asyncio.run(job())  # type: ignore[operator]
    asyncio.run(job())  # type: ignore[operator]
    assert checks == [trim, trim]  # each tick asks the one QuietTrim, given glibc's trim


class Process:
    """A process's CPU seconds and the clock, moved by hand."""

    def __init__(self) -> None:
        self.now, self.used = 0.0, 0.0

    def run(self, seconds: float, cores: float) -> None:
        self.now += seconds
        self.used += seconds * cores


def test_quiet_trim_trims_once_after_work_and_never_during_it():
    trims: list[float] = []
    p = Process()
    quiet = memory.QuietTrim(
        lambda: trims.append(p.now) or True, quiet_below=0.1, cpu=lambda: p.used, clock=lambda: p.now
    )
    seen = []
    for seconds, cores in [(0, 0), (1, 0.9), (1, 1.5), (1, 0.02), (1, 0.01), (1, 0.03), (1, 0.6), (1, 0.05), (1, 0.0)]:
        p.run(seconds, cores)
        seen.append(quiet.check())
    # no figure yet; working; working; quiet (trim); quiet; quiet; working; quiet (trim); quiet
    assert seen == [False, False, False, True, False, False, False, True, False]
    assert trims == [3.0, 7.0]


def test_quiet_trim_trims_a_process_that_was_quiet_from_the_start():
    trims: list[int] = []
    p = Process()
    quiet = memory.QuietTrim(lambda: trims.append(1) or True, cpu=lambda: p.used, clock=lambda: p.now)
    assert quiet.check() is False
    p.run(1, 0.0)
    assert quiet.check() is True
    p.run(0, 0.0)  # no time passed: nothing can be said
    assert quiet.check() is False
    assert trims == [1]


def test_no_trimming_at_interval_zero_or_without_glibc(monkeypatch, settings, clock):
    timers: list[str] = []
    monkeypatch.setattr(ServiceRuntime, "every", lambda _rt, s, job, name=None: timers.append(job.__name__))
    engine = make_engine("sqlite://")
    ServiceRuntime(settings.model_copy(update={"memory_trim_interval": 0}), title="t", engine=engine, clock=clock)
    monkeypatch.setattr(memory, "heap_trimmer", lambda: None)
    ServiceRuntime(settings.model_copy(update={"memory_trim_interval": 2}), title="t", engine=engine, clock=clock)
    assert "trim_heap" not in timers
